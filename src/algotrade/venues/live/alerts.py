"""The alerts of one live venue account and the symbols it blocks (fail closed)."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Collection, Iterable
from typing import Protocol

from algotrade.core.timeutil import ns_to_iso

__all__ = ["AccountAlerts", "AlertOwner"]


class AlertOwner(Protocol):
    """The daemon's side: it shows alerts and blocks or unblocks the bots on a symbol."""

    def alert(self, message: str, /) -> None: ...

    def set_blocked(self, symbol: str, reason: str | None, /) -> None: ...


class AccountAlerts:
    """The last 100 alerts (``items``), the blocked symbols with why (``blocked``) and the keys
    of what was reported once already (``reported``). Logged as ``<label>: <message>``."""

    def __init__(self, label: str, log: logging.Logger) -> None:
        self._label = label
        self._log = log
        self.items: deque[dict[str, str]] = deque(maxlen=100)
        self.blocked: dict[str, str] = {}
        self.reported: set[str] = set()

    def report(self, owner: AlertOwner | None, message: str, block: str | None = None) -> None:
        """Log and publish an alert; with ``block`` (a symbol) block that symbol's bots."""
        self._log.error("%s: %s", self._label, message)
        self.items.append({"at": ns_to_iso(time.time_ns()), "message": message})
        if owner is not None:
            owner.alert(message)
            if block is not None:
                self.blocked[block] = message
                owner.set_blocked(block, message)

    def apply_mismatches(
        self,
        owner: AlertOwner,
        mismatches: Iterable[tuple[str, str]],
        in_flight: Collection[str],
        found: list[str],
    ) -> None:
        """Block the symbols of ``mismatches`` (symbol, message; each message appended to
        ``found``) and unblock the others, except symbols with requests ``in_flight``."""
        mismatched: set[str] = set()
        for symbol, message in mismatches:
            mismatched.add(symbol)
            found.append(message)
            if self.blocked.get(symbol) != message:
                self.report(owner, message + "; its bots are blocked", block=symbol)
        for symbol in list(self.blocked):
            if symbol not in mismatched and symbol not in in_flight:
                del self.blocked[symbol]
                self._log.warning(
                    "%s: %s agrees with the venue again; unblocked", self._label, symbol
                )
                owner.set_blocked(symbol, None)

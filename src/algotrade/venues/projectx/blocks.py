"""Fail-closed blocking of the bots on a ProjectX contract, and the alerts that explain it.

A contract is blocked while reconciliation finds its position in disagreement (a
*mismatch*) or while something about it cannot be found out (a *hold*, e.g. a placement of
unknown outcome). Blocks are kept by contract name and told to the owner (the daemon) under
every spelling the bots use (``EPZ25`` and ``CON.F.US.EP.Z25`` alike).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from algotrade.core.timeutil import ns_to_iso
from algotrade.venues.projectx.errors import UnknownOrderStatus

if TYPE_CHECKING:
    from algotrade.venues.registry import VenueOwner

__all__ = ["Blocks"]

_log = logging.getLogger("algotrade.venues.projectx")


class Blocks:
    def __init__(self, owner: VenueOwner | None) -> None:
        self.owner = owner
        self.alerts: deque[dict[str, str]] = deque(maxlen=100)
        self._holds: dict[str, tuple[str, str]] = {}  # key → (contract name, reason)
        self._mismatches: dict[str, str] = {}  # contract name → reason
        self._blocked: dict[str, str] = {}  # what the owner was told, by contract name
        self._aliases: dict[str, set[str]] = {}  # contract name → the bots' spellings
        self._reported: set[str] = set()

    def alias(self, contract: str, symbol: str) -> None:
        """A bot names ``contract`` as ``symbol``: blocks reach it under that spelling."""
        self._aliases.setdefault(contract, {contract}).add(symbol)

    def reason(self, contract: str) -> str | None:
        return self._blocked.get(contract)

    @property
    def blocked(self) -> dict[str, str]:
        return dict(self._blocked)

    def report(self, message: str, *, block: str | None = None) -> None:
        """Log and publish an alert; with ``block`` (a contract name) block that contract's
        bots until reconciliation finds the position in agreement again."""
        _log.error("projectx: %s", message)
        self.alerts.append({"at": ns_to_iso(time.time_ns()), "message": message})
        if self.owner is not None:
            self.owner.alert(message)
        if block is not None:
            self.set_mismatch(block, message)
            self.apply()

    def reported_once(self, key: str) -> bool:
        """True the first time ``key`` is asked about (alerts that should not repeat)."""
        if key in self._reported:
            return False
        self._reported.add(key)
        return True

    def report_unreadable(
        self, problems: Iterable[UnknownOrderStatus], name_of: Callable[[str], str]
    ) -> None:
        """Alert once per order left out (of an order list, or a hub event) for a status value
        the gateway does not document (``name_of``: contract id → name)."""
        for problem in problems:
            if not self.reported_once(f"unreadable-order:{problem.order_id}:{problem.value}"):
                continue
            where = name_of(problem.contract_id) if problem.contract_id else "an unnamed contract"
            self.report(
                f"order {problem.order_id} on {where} has status {problem.value}, which the "
                "gateway docs do not define: that order is left out (the account's other "
                "orders are still reconciled); check it on the trading platform"
            )

    def hold(self, key: str, contract: str, reason: str) -> None:
        self._holds[key] = (contract, reason)
        self.apply()

    def release(self, key: str) -> None:
        if self._holds.pop(key, None) is not None:
            self.apply()

    def set_mismatch(self, contract: str, reason: str | None) -> None:
        if reason is None:
            self._mismatches.pop(contract, None)
        else:
            self._mismatches[contract] = reason

    def mismatches(self) -> dict[str, str]:
        return dict(self._mismatches)

    def apply(self) -> None:
        """Tell the owner what is blocked now: mismatches and holds, by contract name."""
        desired = dict(self._mismatches)
        for contract, reason in self._holds.values():
            desired.setdefault(contract, reason)
        for contract, reason in desired.items():
            if self._blocked.get(contract) != reason:
                self._blocked[contract] = reason
                self._tell(contract, reason)
        for contract in [c for c in self._blocked if c not in desired]:
            del self._blocked[contract]
            _log.warning("projectx: %s agrees with the venue again; unblocked", contract)
            self._tell(contract, None)

    def _tell(self, contract: str, reason: str | None) -> None:
        if self.owner is None:
            return
        for symbol in sorted(self._aliases.get(contract, {contract}) | {contract}):
            self.owner.set_blocked(symbol, reason)

"""What the daemon told its clients during a crash soak: fills and statuses, from the
WebSocket (``EventRecorder``, in a thread of its own) and the API poller; and the
``Violation`` record every check reports (see ``testkit.soak_books``)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from algotrade.client import AsyncAlgoTradeClient, DaemonUnreachable, StreamClosedError

_TOO_SLOW = 1013  # WebSocket close code: the client fell 1,000 events behind


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken promise. ``key`` identifies the defect: the same fill found missing at
    every later restart counts once."""

    check: str
    life: int
    bot_id: str
    detail: str
    key: str


@dataclass(frozen=True, slots=True)
class StatusSeen:
    """A bot status as the daemon told it (``source``: ``GET /api/bots`` or ``ws status``)."""

    life: int
    source: str
    bot_id: str
    state: str
    last_error: str | None
    fill_count: int
    position: dict[str, str]
    equity: str
    realized_pnl: str
    unrealized_pnl: str
    fees: str

    @classmethod
    def from_api(cls, life: int, source: str, status: Mapping[str, Any]) -> StatusSeen:
        return cls(
            life=life,
            source=source,
            bot_id=str(status["bot_id"]),
            state=str(status["state"]),
            last_error=status.get("last_error"),
            fill_count=int(status["fill_count"]),
            position={str(s): str(q) for s, q in status.get("position", {}).items()},
            equity=str(status["equity"]),
            realized_pnl=str(status["realized_pnl"]),
            unrealized_pnl=str(status["unrealized_pnl"]),
            fees=str(status["fees"]),
        )


class Acknowledged:
    """What the daemon told its clients; filled from the WebSocket thread and the API poller."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (bot, trade id) → every distinct fill told under it (more than one is a defect, and
        # each of them was acknowledged, so each must be stored).
        self.fills: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.first_told_by: Counter[str] = Counter()  # source that told each fill first
        self.statuses: list[StatusSeen] = []  # of the current life, checked when it ends
        self.violations: list[Violation] = []
        self.status_checked = 0

    def fill(self, life: int, source: str, fill: Mapping[str, Any]) -> None:
        key = (str(fill["bot_id"]), str(fill["trade_id"]))
        with self._lock:
            told = self.fills.setdefault(key, [])
            if fill in told:
                return
            if told:
                self.violations.append(
                    Violation(
                        "one fill per trade id",
                        life,
                        key[0],
                        f"trade id {key[1]} acknowledged twice with different content "
                        f"({source}): {differences(told[0], fill)}",
                        f"reused:{key}:{len(told)}",
                    )
                )
            told.append(dict(fill))
            self.first_told_by[source] += 1

    def status(self, seen: StatusSeen) -> None:
        with self._lock:
            self.statuses.append(seen)

    def take_statuses(self) -> list[StatusSeen]:
        with self._lock:
            taken, self.statuses = self.statuses, []
            self.status_checked += len(taken)
            return taken

    def sources(self) -> dict[str, int]:
        with self._lock:
            return dict(self.first_told_by)

    def fill_snapshot(self) -> list[dict[str, Any]]:
        """Every distinct fill told so far."""
        with self._lock:
            return [fill for told in self.fills.values() for fill in told]

    def take_violations(self) -> list[Violation]:
        with self._lock:
            taken, self.violations = self.violations, []
            return taken


class EventRecorder:
    """Follows the WebSocket ``fills`` and ``status`` topics of every bot during one daemon
    life, in a thread of its own; ends when the daemon closes the socket (or dies)."""

    def __init__(self, url: str, acknowledged: Acknowledged, life: int) -> None:
        self._url = url
        self._acknowledged = acknowledged
        self._life = life
        self.subscribed = threading.Event()
        self.error: str | None = None
        self._thread = threading.Thread(target=self._main, name=f"soak-ws-{life}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _main(self) -> None:
        asyncio.run(self._follow())

    async def _follow(self) -> None:
        async with AsyncAlgoTradeClient(self._url) as api:
            while True:
                try:
                    async for message in api.watch(["fills", "status"]):
                        self._handle(message)
                    return  # closed normally
                except StreamClosedError as exc:
                    if exc.code != _TOO_SLOW:
                        return  # the daemon went away: this life is over
                    # This reader fell behind (a busy machine): what it missed is checked
                    # anyway through the store; follow on from a fresh subscription.
                except DaemonUnreachable:
                    return
                except Exception as exc:  # reported by the soak, not lost in a thread
                    self.error = f"{type(exc).__name__}: {exc}"
                    return

    def _handle(self, message: dict[str, Any]) -> None:
        kind, topic, data = message.get("type"), message.get("topic"), message.get("data")
        if kind == "subscribed":
            self.subscribed.set()
        elif kind == "snapshot" and topic == "status" and isinstance(data, list):
            for status in data:
                self._acknowledged.status(StatusSeen.from_api(self._life, "ws snapshot", status))
        elif kind == "event" and topic == "fills" and isinstance(data, dict):
            self._acknowledged.fill(self._life, "ws fills", data)
        elif kind == "event" and topic == "status" and isinstance(data, dict):
            if data.get("deleted"):
                return
            self._acknowledged.status(StatusSeen.from_api(self._life, "ws status", data))


def differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    keys = sorted(set(a) | set(b))
    return ", ".join(f"{k} {a.get(k)!r} vs {b.get(k)!r}" for k in keys if a.get(k) != b.get(k))

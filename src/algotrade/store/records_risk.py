"""What ``RiskStore`` reads and writes: plain immutable records of the account risk engine.

Like ``records.py``: money is ``Decimal``, event times int ns UTC, the audit trail's times
timezone-aware ``datetime``s, and ``to_api()`` gives a JSON-friendly dict (Decimals as exact
text, ns as ISO-8601 ``Z`` strings with the raw ns kept beside them). The store imports only
``algotrade.core``: the risk engine turns its ``Lockout``s into ``LockoutRecord``s (see
``LockoutRecord.from_lockout``, which takes anything shaped like one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol

from algotrade.core.money import decimal_text
from algotrade.core.timeutil import ns_to_iso
from algotrade.store.records import datetime_to_iso

UNTIL_KINDS: tuple[str, ...] = ("time", "reset", "manual")
LOG_KINDS: tuple[str, ...] = (
    "breach",
    "lockout",
    "unlock",
    "expiry",
    "reset",
    "enforcement",
    "alert",
    "rules_change",
)
LOG_STATUSES: tuple[str, ...] = ("", "requested", "done", "failed")
AUDIT_ACTIONS: tuple[str, ...] = ("unlock", "rules_change")


def _iso(ns: int | None) -> str | None:
    return None if ns is None else ns_to_iso(ns)


@dataclass(frozen=True, slots=True)
class RiskStateRecord:
    """One account's engine state. ``state`` is opaque JSON owned by the engine (daily PnL,
    trade counts, recent trade times, peak equity, positions, marks, open orders, ...). It is
    stored as JSON: Decimals in it are written as exact text and come back as ``str``, so the
    engine should put money there as text already (then the round trip is exact)."""

    account_id: str
    trading_day: str  # "2026-11-20"
    last_reset_ts: int | None
    state: dict[str, Any]
    updated_ts: int

    def to_api(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "trading_day": self.trading_day,
            "last_reset_at": _iso(self.last_reset_ts),
            "last_reset_ts": self.last_reset_ts,
            "state": self.state,
            "updated_at": ns_to_iso(self.updated_ts),
            "updated_ts": self.updated_ts,
        }


class LockoutLike(Protocol):
    """What ``LockoutRecord.from_lockout`` reads (the risk engine's ``Lockout``)."""

    @property
    def account_id(self) -> str: ...
    @property
    def rule(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def start_ts(self) -> int: ...
    @property
    def until(self) -> str: ...
    @property
    def until_ts(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class LockoutRecord:
    """A lockout; (account_id, rule, start_ts) identifies it, ``id`` is assigned by the store
    (ignored on insert). Active until ``cleared_ts`` is set (by expiry, reset or an admin)."""

    account_id: str
    rule: str
    reason: str
    start_ts: int
    until_kind: str  # "time" | "reset" | "manual"
    until_ts: int | None
    cleared_ts: int | None = None
    cleared_by: str | None = None
    clear_reason: str | None = None
    id: int | None = None

    @classmethod
    def from_lockout(cls, lockout: LockoutLike) -> LockoutRecord:
        until = lockout.until
        return cls(
            account_id=lockout.account_id,
            rule=lockout.rule,
            reason=lockout.reason,
            start_ts=lockout.start_ts,
            until_kind=str(until.value) if isinstance(until, Enum) else str(until),
            until_ts=lockout.until_ts,
        )

    @property
    def active(self) -> bool:
        return self.cleared_ts is None

    @property
    def key(self) -> tuple[str, str, int]:
        """(account_id, rule, start_ts): what ``RiskStore.commit_decision`` can clear it by."""
        return (self.account_id, self.rule, self.start_ts)

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account_id": self.account_id,
            "rule": self.rule,
            "reason": self.reason,
            "start_at": ns_to_iso(self.start_ts),
            "start_ts": self.start_ts,
            "until_kind": self.until_kind,
            "until_at": _iso(self.until_ts),
            "until_ts": self.until_ts,
            "active": self.active,
            "cleared_at": _iso(self.cleared_ts),
            "cleared_ts": self.cleared_ts,
            "cleared_by": self.cleared_by,
            "clear_reason": self.clear_reason,
        }


@dataclass(frozen=True, slots=True)
class RiskLogRecord:
    """One line of the risk log; ``account_id`` None is a global line. ``ts`` is event time.
    Enforcement lines carry ``action``/``symbol``/``qty`` and progress in ``status`` and
    ``attempts`` (``RiskStore.update_log_status``). ``id`` is assigned by the store."""

    account_id: str | None
    ts: int
    kind: str
    rule: str = ""
    action: str = ""
    symbol: str = ""
    qty: Decimal | None = None
    status: str = ""  # "" | "requested" | "done" | "failed"
    attempts: int = 0
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account_id": self.account_id,
            "timestamp": ns_to_iso(self.ts),
            "ts": self.ts,
            "kind": self.kind,
            "rule": self.rule,
            "action": self.action,
            "symbol": self.symbol,
            "qty": None if self.qty is None else decimal_text(self.qty),
            "status": self.status,
            "attempts": self.attempts,
            "message": self.message,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A manual change: ``ts`` is wall-clock (aware), ``actor`` the API key's role/name (never
    the key itself), ``action`` "unlock" | "rules_change"; ``account_id`` None when global."""

    ts: datetime
    actor: str
    action: str
    account_id: str | None
    details: dict[str, Any]
    id: int | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "timestamp": datetime_to_iso(self.ts),
            "actor": self.actor,
            "action": self.action,
            "account_id": self.account_id,
            "details": self.details,
        }

"""What the risk engine decides: breaches, actions, lockouts, pre-trade verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from algotrade.core.money import decimal_text
from algotrade.core.timeutil import ns_to_iso


class LockUntil(StrEnum):
    TIME = "time"  # a fixed moment (cooldowns, session start)
    RESET = "reset"  # the next daily reset
    MANUAL = "manual"  # until an admin unlocks


class ActionKind(StrEnum):
    CANCEL_ORDERS = "cancel_orders"  # all open orders of the account (or of ``symbol``)
    CLOSE_POSITION = "close_position"  # reduce-only market order for ``qty`` of ``symbol``
    FLATTEN = "flatten"  # cancel everything and close every position
    ALERT = "alert"  # tell a human; no trading action


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    symbol: str = ""
    qty: Decimal = Decimal(0)  # signed qty to trade for CLOSE_POSITION (negative = sell)
    message: str = ""
    order_id: str = ""  # CANCEL_ORDERS of one order only
    # CANCEL_ORDERS that only stops new risk keeps protective orders (stops, reduce-only);
    # a flatten cancels everything because the positions are being closed anyway.
    keep_protective: bool = True

    def summary(self) -> dict[str, str]:
        """What the action asks for, as JSON-ready text (events, reports)."""
        return {"kind": self.kind.value, "symbol": self.symbol, "qty": decimal_text(self.qty)}


@dataclass(frozen=True, slots=True)
class Lockout:
    account_id: str
    rule: str
    reason: str
    start_ts: int
    until: LockUntil
    until_ts: int | None = None  # for TIME; for RESET filled with the reset moment

    def active_at(self, ts: int) -> bool:
        if self.until is LockUntil.MANUAL:
            return True
        return self.until_ts is None or ts < self.until_ts

    def until_text(self) -> str:
        """When it ends, for people: "manual unlock" or an ISO time."""
        if self.until is LockUntil.MANUAL:
            return "manual unlock"
        return ns_to_iso(self.until_ts) if self.until_ts else "?"


@dataclass(frozen=True, slots=True)
class Breach:
    account_id: str
    rule: str
    ts: int
    message: str
    actions: tuple[Action, ...] = ()
    lockout: Lockout | None = None


@dataclass(frozen=True, slots=True)
class PreTradeVerdict:
    allowed: bool
    rule: str = ""
    reason: str = ""


ALLOWED = PreTradeVerdict(True)


@dataclass(slots=True)
class Decision:
    """Everything one event caused; persisted before it is acted on or acknowledged."""

    account_id: str
    ts: int
    breaches: list[Breach] = field(default_factory=list)
    expired: list[Lockout] = field(default_factory=list)
    reset: bool = False

    def __bool__(self) -> bool:
        return bool(self.breaches or self.expired or self.reset)

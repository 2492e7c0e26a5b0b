"""Account events the risk engine consumes (from any venue adapter, or a JSONL replay file).

Every event carries the account id and its event time (int ns UTC); the event time is the
engine's clock. Money is Decimal. ``docs/risk-events.md`` documents the JSONL form.

``source`` says where an event was read from (``day.jsonl line 7``) so that a problem found
while replaying it can name the line; it is keyword-only, empty for events from a venue, and
not part of an event's identity (equality, hash, repr).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


def _source() -> Any:
    """Where an event was read from, for messages only: never compared, hashed or shown."""
    return field(default="", compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class AccountFill:
    """An execution. ``realized_pnl`` is what the venue says it realized (gross); when None
    the engine derives it from its own position bookkeeping."""

    account_id: str
    ts: int
    symbol: str
    side: str  # "buy" | "sell"
    qty: Decimal
    price: Decimal
    fee: Decimal = Decimal(0)
    realized_pnl: Decimal | None = None
    order_id: str = ""
    bot_id: str = ""
    source: str = _source()


@dataclass(frozen=True, slots=True)
class PositionUpdate:
    """The venue's view of one position (signed qty); replaces the engine's own."""

    account_id: str
    ts: int
    symbol: str
    qty: Decimal
    avg_price: Decimal
    source: str = _source()


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """An order's state at the venue. ``type`` market|limit|stop; ``status`` open|filled|
    cancelled|rejected. Open stop orders on the other side of a position are its protection."""

    account_id: str
    ts: int
    order_id: str
    symbol: str
    side: str
    type: str
    qty: Decimal
    status: str
    price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    bot_id: str = ""
    source: str = _source()


@dataclass(frozen=True, slots=True)
class MarkUpdate:
    """A quote or mark price for unrealized PnL."""

    account_id: str
    ts: int
    symbol: str
    price: Decimal
    source: str = _source()


@dataclass(frozen=True, slots=True)
class AccountStatus:
    """What the venue says about the account as a whole."""

    account_id: str
    ts: int
    can_trade: bool = True
    connected: bool = True
    reason: str = ""
    source: str = _source()


@dataclass(frozen=True, slots=True)
class ClockTick:
    """Time passes (expiries, session end, grace periods, daily reset) with no other event."""

    account_id: str  # "*" for every account
    ts: int
    source: str = _source()


AccountEvent = AccountFill | PositionUpdate | OrderUpdate | MarkUpdate | AccountStatus | ClockTick


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """A bot's order before it is sent: the pre-trade check's input."""

    account_id: str
    ts: int
    symbol: str
    side: str
    qty: Decimal
    type: str = "market"
    price: Decimal | None = None
    reduce_only: bool = False
    bot_id: str = ""
    source: str = _source()

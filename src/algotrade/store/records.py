"""What the store reads and writes: plain immutable records, independent of SQLAlchemy.

Money is ``Decimal`` (exact), trading timestamps are int nanoseconds UTC like everywhere in
the engine, and bookkeeping times (bot created/updated, event log) are timezone-aware
``datetime``s. ``to_api()`` turns a record into a JSON-friendly dict: Decimals become exact
plain strings and ns timestamps ISO-8601 ``Z`` strings, with the raw ns kept beside them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from algotrade.core.events import Liquidity, OrderFilled, OrderSide
from algotrade.core.money import decimal_text
from algotrade.core.orders import Order
from algotrade.core.timeutil import datetime_to_ns, ns_to_iso

T = TypeVar("T")

OPEN_ORDER_STATUSES: tuple[str, ...] = ("new", "accepted", "partially_filled")


def _money(value: Decimal) -> str:
    return decimal_text(value)


def _optional_money(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def datetime_to_iso(moment: datetime) -> str:
    """The same ISO-8601 ``Z`` form as ``ns_to_iso``, for timezone-aware datetimes."""
    return ns_to_iso(datetime_to_ns(moment))


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a longer ordered list; ``total`` counts the whole list."""

    items: list[T]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True, slots=True)
class BotRecord:
    bot_id: str
    config: dict[str, Any]  # BotConfig.model_dump(mode="json")
    state: str
    runtime: dict[str, Any]  # free JSON: last_error, started_at, heartbeat, order_seq, ...
    created_at: datetime
    updated_at: datetime

    def to_api(self) -> dict[str, Any]:
        return {
            "bot_id": self.bot_id,
            "config": self.config,
            "state": self.state,
            "runtime": self.runtime,
            "created_at": datetime_to_iso(self.created_at),
            "updated_at": datetime_to_iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class OrderRecord:
    bot_id: str
    client_order_id: str
    venue_order_id: str
    symbol: str
    side: str
    type: str
    qty: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    tif: str
    reduce_only: bool
    status: str
    filled_qty: Decimal
    avg_fill_price: Decimal
    fees: Decimal
    reason: str
    tag: str
    created_ts: int
    updated_ts: int

    @classmethod
    def from_order(cls, bot_id: str, order: Order) -> OrderRecord:
        request = order.request
        return cls(
            bot_id=bot_id,
            client_order_id=order.client_order_id,
            venue_order_id=order.venue_order_id,
            symbol=request.symbol,
            side=request.side.value,
            type=request.type.value,
            qty=request.qty,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            tif=request.tif.value,
            reduce_only=request.reduce_only,
            status=order.status.value,
            filled_qty=order.filled_qty,
            avg_fill_price=order.avg_fill_price,
            fees=order.fees,
            reason=order.reason,
            tag=request.tag,
            created_ts=order.created_ts,
            updated_ts=order.updated_ts or order.created_ts,
        )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ORDER_STATUSES

    def to_api(self) -> dict[str, Any]:
        return {
            "bot_id": self.bot_id,
            "client_order_id": self.client_order_id,
            "venue_order_id": self.venue_order_id,
            "symbol": self.symbol,
            "side": self.side,
            "type": self.type,
            "qty": _money(self.qty),
            "limit_price": _optional_money(self.limit_price),
            "stop_price": _optional_money(self.stop_price),
            "tif": self.tif,
            "reduce_only": self.reduce_only,
            "status": self.status,
            "filled_qty": _money(self.filled_qty),
            "avg_fill_price": _money(self.avg_fill_price),
            "fees": _money(self.fees),
            "reason": self.reason,
            "tag": self.tag,
            "created_at": ns_to_iso(self.created_ts),
            "updated_at": ns_to_iso(self.updated_ts),
            "created_ts": self.created_ts,
            "updated_ts": self.updated_ts,
        }


@dataclass(frozen=True, slots=True)
class FillRecord:
    bot_id: str
    trade_id: str
    client_order_id: str
    venue_order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    liquidity: str
    ts: int

    @classmethod
    def from_fill(cls, bot_id: str, fill: OrderFilled) -> FillRecord:
        return cls(
            bot_id=bot_id,
            trade_id=fill.trade_id,
            client_order_id=fill.client_order_id,
            venue_order_id=fill.venue_order_id,
            symbol=fill.symbol,
            side=fill.side.value,
            qty=fill.qty,
            price=fill.price,
            fee=fill.fee,
            liquidity=fill.liquidity.value,
            ts=fill.ts,
        )

    def to_fill(self) -> OrderFilled:
        return OrderFilled(
            client_order_id=self.client_order_id,
            venue_order_id=self.venue_order_id,
            trade_id=self.trade_id,
            symbol=self.symbol,
            side=OrderSide(self.side),
            qty=self.qty,
            price=self.price,
            fee=self.fee,
            liquidity=Liquidity(self.liquidity),
            ts=self.ts,
        )

    def to_api(self) -> dict[str, Any]:
        return {
            "bot_id": self.bot_id,
            "trade_id": self.trade_id,
            "client_order_id": self.client_order_id,
            "venue_order_id": self.venue_order_id,
            "symbol": self.symbol,
            "side": self.side,
            "qty": _money(self.qty),
            "price": _money(self.price),
            "fee": _money(self.fee),
            "liquidity": self.liquidity,
            "timestamp": ns_to_iso(self.ts),
            "ts": self.ts,
        }


@dataclass(frozen=True, slots=True)
class FillConflict:
    """A fill reported under a trade id the bot already stored with different content. It is
    not written (the stored fact stands) and the bot is told: its books no longer match."""

    bot_id: str
    trade_id: str
    differences: dict[str, tuple[Any, Any]]  # field → (stored, new)

    def describe(self) -> str:
        changed = ", ".join(
            f"{name} {stored!s} stored vs {new!s} new"
            for name, (stored, new) in sorted(self.differences.items())
        )
        return f"fill {self.trade_id} conflicts with the stored fill of that trade id: {changed}"


@dataclass(frozen=True, slots=True)
class PositionRecord:
    bot_id: str
    symbol: str
    qty: Decimal
    avg_price: Decimal
    realized_pnl: Decimal
    fees: Decimal

    def to_api(self) -> dict[str, Any]:
        return {
            "bot_id": self.bot_id,
            "symbol": self.symbol,
            "qty": _money(self.qty),
            "avg_price": _money(self.avg_price),
            "realized_pnl": _money(self.realized_pnl),
            "fees": _money(self.fees),
        }


@dataclass(frozen=True, slots=True)
class AccountRecord:
    bot_id: str
    initial_cash: Decimal
    cash: Decimal
    realized_pnl: Decimal
    fees_paid: Decimal
    updated_ts: int

    def to_api(self) -> dict[str, Any]:
        return {
            "bot_id": self.bot_id,
            "initial_cash": _money(self.initial_cash),
            "cash": _money(self.cash),
            "realized_pnl": _money(self.realized_pnl),
            "fees_paid": _money(self.fees_paid),
            "updated_at": ns_to_iso(self.updated_ts),
            "updated_ts": self.updated_ts,
        }


@dataclass(frozen=True, slots=True)
class EquityRecord:
    bot_id: str
    ts: int
    equity: Decimal
    cash: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal

    def to_api(self) -> dict[str, Any]:
        return {
            "bot_id": self.bot_id,
            "timestamp": ns_to_iso(self.ts),
            "ts": self.ts,
            "equity": _money(self.equity),
            "cash": _money(self.cash),
            "realized_pnl": _money(self.realized_pnl),
            "unrealized_pnl": _money(self.unrealized_pnl),
            "fees": _money(self.fees),
        }


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One line of the event log; ``bot_id`` None is a daemon-wide event. ``id`` is assigned
    by the store (ignored on insert)."""

    bot_id: str | None
    ts: datetime
    level: str
    kind: str
    message: str
    data: dict[str, Any]
    id: int | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "bot_id": self.bot_id,
            "timestamp": datetime_to_iso(self.ts),
            "level": self.level,
            "kind": self.kind,
            "message": self.message,
            "data": self.data,
        }


class ActivityLike(Protocol):
    """What ``Store.record_activity_batch`` reads: ``Activity`` or any object with these
    attributes (e.g. a daemon-side accumulator with list fields)."""

    @property
    def orders(self) -> Sequence[OrderRecord]: ...
    @property
    def fills(self) -> Sequence[FillRecord]: ...
    @property
    def positions(self) -> Sequence[PositionRecord]: ...
    @property
    def account(self) -> AccountRecord | None: ...
    @property
    def equity(self) -> Sequence[EquityRecord]: ...
    @property
    def events(self) -> Sequence[EventRecord]: ...


@dataclass(frozen=True, slots=True)
class Activity:
    """Everything one bot produced since its last save; written in one transaction."""

    orders: Sequence[OrderRecord] = ()
    fills: Sequence[FillRecord] = ()
    positions: Sequence[PositionRecord] = ()
    account: AccountRecord | None = None
    equity: Sequence[EquityRecord] = ()
    events: Sequence[EventRecord] = ()

    @property
    def is_empty(self) -> bool:
        return not (
            self.orders
            or self.fills
            or self.positions
            or self.account is not None
            or self.equity
            or self.events
        )

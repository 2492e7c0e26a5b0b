"""ProjectX records as the account guard reports them to the risk engine (pure conversions).

The gateway's enums become the risk engine's words (``WatchedAccountSink``): sides
``buy``/``sell``; order types ``market``/``limit``/``stop`` (stop-limit and trailing stops are
stops, join-bid/ask are limits); statuses ``open`` (open, pending, and the statuses the docs
give no meaning for: none, and 7 and 8 of the Swagger enum; an order we cannot place in a final
state is treated as live, so a lockout still cancels it), ``filled``, ``cancelled`` (cancelled,
expired) and ``rejected``. Both maps cover every member of their enum.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from algotrade.venues.projectx.schemas import (
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    PositionType,
    Quote,
)

__all__ = [
    "is_reducing",
    "ns",
    "order_side",
    "order_status",
    "order_type",
    "quote_price",
    "signed_size",
    "utc",
]

_TYPES = {
    OrderType.UNKNOWN: "limit",
    OrderType.LIMIT: "limit",
    OrderType.MARKET: "market",
    OrderType.STOP_LIMIT: "stop",
    OrderType.STOP: "stop",
    OrderType.TRAILING_STOP: "stop",
    OrderType.JOIN_BID: "limit",
    OrderType.JOIN_ASK: "limit",
}
_STATUSES = {
    OrderStatus.NONE: "open",
    OrderStatus.OPEN: "open",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELLED: "cancelled",
    OrderStatus.EXPIRED: "cancelled",
    OrderStatus.REJECTED: "rejected",
    OrderStatus.PENDING: "open",
    OrderStatus.UNNAMED_7: "open",
    OrderStatus.UNNAMED_8: "open",
}


def order_side(value: OrderSide) -> str:
    return "buy" if value is OrderSide.BID else "sell"


def order_type(value: OrderType) -> str:
    return _TYPES[value]


def order_status(value: OrderStatus) -> str:
    return _STATUSES[value]


def signed_size(position: Position) -> Decimal:
    """Long > 0, short < 0; a position of type ``UNDEFINED`` (the gateway's "closed") is 0."""
    if position.type is PositionType.UNDEFINED:
        return Decimal(0)
    return Decimal(position.signed_size)


def is_reducing(order: Order, held: Decimal) -> bool:
    """On the closing side of the position ``held`` and no larger than it: filling it can
    only make the position smaller (a stop loss, a take profit, our own close)."""
    if held == 0 or order.size > abs(held):
        return False
    return (order.side is OrderSide.ASK) if held > 0 else (order.side is OrderSide.BID)


def quote_price(quote: Quote) -> Decimal | None:
    """The price to value a position at: the last trade, else the middle of bid and ask."""
    if quote.last_price is not None:
        return quote.last_price
    if quote.best_bid is not None and quote.best_ask is not None:
        return (quote.best_bid + quote.best_ask) / 2
    return None


def ns(moment: datetime) -> int:
    """A gateway time as epoch nanoseconds (microsecond precision, exact)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def utc(ts_ns: int) -> datetime:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, UTC).replace(
        microsecond=(ts_ns % 1_000_000_000) // 1_000
    )

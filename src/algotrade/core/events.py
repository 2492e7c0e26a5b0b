"""Facts the engine consumes and produces.

Market events (``Bar``, ``TradeTick``, ``QuoteTick``) are immutable ``NamedTuple``s: a backtest
builds millions of them and a NamedTuple is built ~5x faster than a frozen dataclass while
staying immutable. Their prices are floats because signals and indicators use floats; a price
becomes exact money only when it turns into a fill (see ``money.to_decimal``).

Order and account facts are rare, so they are frozen, slotted dataclasses with ``Decimal``
money, named in the past tense.

Timestamps are integer nanoseconds since the Unix epoch, UTC. A bar's ``ts`` is its open time.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple


class Bar(NamedTuple):
    """One closed OHLCV bar; ``ts`` is the bar's open time in ns."""

    symbol: str
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class TradeTick(NamedTuple):
    """One public trade print."""

    symbol: str
    ts: int
    price: float
    size: float


class QuoteTick(NamedTuple):
    """Top of book."""

    symbol: str
    ts: int
    bid: float
    ask: float
    bid_size: float
    ask_size: float


MarketEvent = Bar | TradeTick | QuoteTick


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is OrderSide.BUY else -1

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    client_order_id: str
    venue_order_id: str
    ts: int


@dataclass(frozen=True, slots=True)
class OrderRejected:
    client_order_id: str
    reason: str
    ts: int


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    client_order_id: str
    reason: str
    ts: int


@dataclass(frozen=True, slots=True)
class OrderFilled:
    """A (possibly partial) execution. ``fee`` is in the quote currency and always >= 0
    for commissions (a negative fee is a rebate)."""

    client_order_id: str
    venue_order_id: str
    trade_id: str
    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    fee: Decimal
    liquidity: Liquidity
    ts: int

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.side is OrderSide.BUY else -self.qty

    @property
    def notional(self) -> Decimal:
        return self.qty * self.price


@dataclass(frozen=True, slots=True)
class OrderAmended:
    """The venue changed a resting order. ``qty`` is the order's new *total* quantity (the
    part already filled included); a price left ``None`` is unchanged (or does not apply)."""

    client_order_id: str
    qty: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    ts: int


@dataclass(frozen=True, slots=True)
class OrderAmendRejected:
    """An amendment was refused (pre-trade checks or the venue); the order stays as it was."""

    client_order_id: str
    reason: str
    ts: int


OrderEvent = (
    OrderAccepted | OrderRejected | OrderCancelled | OrderFilled | OrderAmended | OrderAmendRejected
)

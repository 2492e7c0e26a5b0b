"""Typed shapes of the ProjectX Gateway API: its enums and the records it returns.

Field names and enum values follow the gateway's API reference and "Enum Definitions" page.
Prices and money are ``Decimal`` (replies are decoded with ``parse_float=Decimal``, so
``6335.250000000`` is exact); sizes are whole contracts. ``payloads.py`` turns JSON objects
into these records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import IntEnum

__all__ = [
    "Account",
    "Bar",
    "BarUnit",
    "Contract",
    "DepthUpdate",
    "DomType",
    "MarketTrade",
    "Order",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "Position",
    "PositionType",
    "Quote",
    "Trade",
    "TradeLogType",
]


class OrderType(IntEnum):
    UNKNOWN = 0
    LIMIT = 1
    MARKET = 2
    STOP_LIMIT = 3
    STOP = 4
    TRAILING_STOP = 5
    JOIN_BID = 6
    JOIN_ASK = 7


class OrderSide(IntEnum):
    BID = 0  # buy
    ASK = 1  # sell


class OrderStatus(IntEnum):
    NONE = 0
    OPEN = 1
    FILLED = 2
    CANCELLED = 3
    EXPIRED = 4
    REJECTED = 5
    PENDING = 6
    # The gateway's Swagger (OpenAPI) enum also lists 7 and 8, as bare numbers; the public
    # docs name 0-6 only. What they mean is not documented: they are named by their number.
    UNNAMED_7 = 7
    UNNAMED_8 = 8

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STATUSES

    @property
    def label(self) -> str:
        """How messages name the status: ``open``, or ``status 7 (unnamed in the docs)``."""
        if self.name.startswith("UNNAMED_"):
            return f"status {self.value} (unnamed in the docs)"
        return self.name.lower()


_FINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED}
)


class PositionType(IntEnum):
    UNDEFINED = 0
    LONG = 1
    SHORT = 2


class BarUnit(IntEnum):
    SECOND = 1
    MINUTE = 2
    HOUR = 3
    DAY = 4
    WEEK = 5
    MONTH = 6


class DomType(IntEnum):
    UNKNOWN = 0
    ASK = 1
    BID = 2
    BEST_ASK = 3
    BEST_BID = 4
    TRADE = 5
    RESET = 6
    LOW = 7
    HIGH = 8
    NEW_BEST_BID = 9
    NEW_BEST_ASK = 10
    FILL = 11


class TradeLogType(IntEnum):
    BUY = 0
    SELL = 1


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    name: str
    balance: Decimal | None  # the docs' getting-started example of an account has none
    can_trade: bool
    is_visible: bool
    simulated: bool | None = None


@dataclass(frozen=True, slots=True)
class Contract:
    id: str
    name: str
    description: str
    tick_size: Decimal
    tick_value: Decimal
    active_contract: bool
    symbol_id: str | None = None

    @property
    def point_value(self) -> Decimal:
        """Money per 1.0 of price per contract (the PnL multiplier): tick value / tick size."""
        return self.tick_value / self.tick_size


@dataclass(frozen=True, slots=True)
class Bar:
    t: datetime
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 - the gateway's field name
    c: Decimal
    v: int


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    account_id: int
    contract_id: str
    creation_timestamp: datetime
    update_timestamp: datetime | None
    status: OrderStatus
    type: OrderType
    side: OrderSide
    size: int
    limit_price: Decimal | None
    stop_price: Decimal | None
    fill_volume: int = 0
    filled_price: Decimal | None = None
    custom_tag: str | None = None
    symbol_id: str | None = None


@dataclass(frozen=True, slots=True)
class Position:
    id: int
    account_id: int
    contract_id: str
    creation_timestamp: datetime
    type: PositionType
    size: int
    average_price: Decimal

    @property
    def signed_size(self) -> int:
        return -self.size if self.type is PositionType.SHORT else self.size


@dataclass(frozen=True, slots=True)
class Trade:
    """A fill. ``profit_and_loss`` is ``None`` for a half-turn (opening) trade."""

    id: int
    account_id: int
    contract_id: str
    creation_timestamp: datetime
    price: Decimal
    profit_and_loss: Decimal | None
    fees: Decimal
    side: OrderSide
    size: int
    voided: bool
    order_id: int


@dataclass(frozen=True, slots=True)
class Quote:
    contract_id: str
    symbol: str | None
    symbol_name: str | None
    last_price: Decimal | None
    best_bid: Decimal | None
    best_ask: Decimal | None
    change: Decimal | None
    change_percent: Decimal | None
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    volume: int | None
    last_updated: datetime | None
    timestamp: datetime | None


@dataclass(frozen=True, slots=True)
class MarketTrade:
    contract_id: str
    symbol_id: str | None
    price: Decimal
    timestamp: datetime | None
    type: TradeLogType
    volume: int


@dataclass(frozen=True, slots=True)
class DepthUpdate:
    contract_id: str
    timestamp: datetime | None
    type: DomType
    price: Decimal
    volume: int
    current_volume: int | None

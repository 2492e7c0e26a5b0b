"""Wire vocabulary of the ProjectX Gateway API as the official docs give it.

Sources (gateway.docs.projectx.com): api-reference/order/order-place (OrderType, side),
order-search / order-search-open examples (status 1 = open, 2 = filled), positions/search-open
(type 1 with a positive size), trade/trade-search (profitAndLoss null on a half turn),
getting-started/rate-limits. Every REST reply carries ``success``, ``errorCode`` (0 = success)
and ``errorMessage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import IntEnum
from typing import Any

__all__ = [
    "DEFAULT_CONTRACTS",
    "BarUnit",
    "ContractSpec",
    "ErrorCode",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "PositionType",
    "fail",
    "iso",
    "num",
    "ok",
    "parse_time",
]


class OrderType(IntEnum):
    """api-reference/order/order-place: 1 Limit, 2 Market, 4 Stop, 5 TrailingStop, 6/7 Join."""

    LIMIT = 1
    MARKET = 2
    STOP = 4
    TRAILING_STOP = 5
    JOIN_BID = 6
    JOIN_ASK = 7


class OrderSide(IntEnum):
    """api-reference/order/order-place: 0 = Bid (buy), 1 = Ask (sell)."""

    BID = 0
    ASK = 1


class OrderStatus(IntEnum):
    """The realtime docs' OrderStatus enum; the REST examples show 1 (open) and 2 (filled).
    The gateway's Swagger enum also lists 7 and 8, without names or meaning; the fake never
    sets them by itself (``set_order_status`` does)."""

    NONE = 0
    OPEN = 1
    FILLED = 2
    CANCELLED = 3
    EXPIRED = 4
    REJECTED = 5
    PENDING = 6
    UNNAMED_7 = 7
    UNNAMED_8 = 8


class PositionType(IntEnum):
    """The realtime docs' PositionType enum; search-open shows a long as type 1, size > 0."""

    UNDEFINED = 0
    LONG = 1
    SHORT = 2


class BarUnit(IntEnum):
    """api-reference/market-data/retrieve-bars: unit of aggregation."""

    SECOND = 1
    MINUTE = 2
    HOUR = 3
    DAY = 4
    WEEK = 5
    MONTH = 6


class ErrorCode(IntEnum):
    """Non-zero ``errorCode`` values the fake answers with. The docs only fix 0 = success; these
    follow the Swagger enums' names (PlaceOrderErrorCode, CancelOrderErrorCode, ...) and a
    client should treat any non-zero code as a refusal and read ``errorMessage``."""

    SUCCESS = 0
    ACCOUNT_NOT_FOUND = 1
    ORDER_REJECTED = 2
    ORDER_NOT_FOUND = 2  # CancelOrderErrorCode / ModifyOrderErrorCode
    POSITION_NOT_FOUND = 2  # ClosePositionErrorCode
    INVALID_CREDENTIALS = 3  # LoginErrorCode
    CONTRACT_NOT_FOUND = 8  # PlaceOrderErrorCode


@dataclass(frozen=True)
class ContractSpec:
    """A futures contract as ``Contract/search`` returns it, plus the fake's fee per side."""

    id: str
    name: str
    description: str
    tick_size: Decimal
    tick_value: Decimal
    symbol_id: str
    price: Decimal
    fee_per_contract: Decimal = Decimal("1.40")  # trade-search example: fees 1.4000 on ES
    active: bool = True

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "tickSize": num(self.tick_size),
            "tickValue": num(self.tick_value),
            "activeContract": self.active,
            "symbolId": self.symbol_id,
        }


DEFAULT_CONTRACTS: tuple[ContractSpec, ...] = (
    ContractSpec(
        "CON.F.US.EP.Z25", "EPZ25", "E-Mini S&P 500: December 2025",
        Decimal("0.25"), Decimal("12.50"), "F.US.EP", Decimal("6000.00"),
    ),
    ContractSpec(
        "CON.F.US.ENQ.Z25", "ENQZ25", "E-mini NASDAQ-100: December 2025",
        Decimal("0.25"), Decimal("5"), "F.US.ENQ", Decimal("21000.00"),
    ),
    ContractSpec(
        "CON.F.US.MNQ.Z25", "MNQZ25", "Micro E-mini Nasdaq-100: December 2025",
        Decimal("0.25"), Decimal("0.5"), "F.US.MNQ", Decimal("21000.00"), Decimal("0.37"),
    ),
)  # fmt: skip


def num(value: Decimal | None) -> float | int | None:
    """A JSON number (the venue sends decimals as plain numbers, e.g. ``6335.250000000``)."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def iso(ts: float) -> str:
    """The venue's timestamp form: ``2025-04-14T17:49:10.142532+00:00``."""
    return datetime.fromtimestamp(ts, UTC).isoformat()


def parse_time(value: Any, field: str) -> float:
    if not isinstance(value, str):
        raise ValueError(f"{field} must be an ISO 8601 datetime string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{field} is not an ISO 8601 datetime: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def ok(**fields: Any) -> dict[str, Any]:
    return {**fields, "success": True, "errorCode": 0, "errorMessage": None}


def fail(code: int, message: str, **fields: Any) -> dict[str, Any]:
    return {**fields, "success": False, "errorCode": int(code), "errorMessage": message}

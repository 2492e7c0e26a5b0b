"""Bybit v5 wire details shared by the fake: envelope, retCodes, instruments, number format.

Everything here follows Bybit's v5 docs (bybit-exchange.github.io/docs/v5): the common
response envelope (``guide``), the error table (``error``), the instrument shape
(``market/instrument``) and the kline intervals (``enum#interval``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "INTERVAL_MS",
    "ApiError",
    "InstrumentSpec",
    "RetCode",
    "envelope",
    "fmt",
    "parse_decimal",
    "ret_msg",
]


class RetCode:
    """The retCodes of docs/v5/error this fake can answer."""

    OK = 0
    PARAMS = 10001  # Request parameter error
    TIME_WINDOW = 10002  # The request time exceeds the time window range.
    API_KEY = 10003  # API key is invalid.
    SIGN = 10004  # Error sign, please check your signature generation algorithm.
    PERMISSION = 10005  # Permission denied, please check your API key permissions.
    RATE_LIMIT = 10006  # Too many visits. Exceeded the API Rate Limit.
    ACCESS_RESTRICTED = 10009  # Service Restricted (region); before May 2026: IP banned
    UNMATCHED_IP = 10010  # Unmatched IP, please check your API key's bound IP addresses.
    IP_RATE_LIMIT = 10018  # Exceeded the IP Rate Limit. (struck through: retired)
    BUSY = 10429  # System level frequency protection
    SERVER = 10016  # Server error.
    ROUTE = 10017  # Route not found.
    ORDER_NOT_EXIST = 110001  # Order does not exist
    ORDER_FINISHED = 110008  # The order has been completed or cancelled.
    QTY_TRUNCATED = 110017  # orderQty will be truncated to zero
    LEVERAGE_NOT_MODIFIED = 110043  # Set leverage not modified
    TOO_MANY_ORDERS = 110020  # Not allowed to have more than 500 active orders.
    DUPLICATE_LINK_ID = 110072  # OrderLinkedID is duplicate
    NOTIONAL = 110094  # Order notional value below the lower limit


#: The docs' text for each retCode (retMsg).
RET_MSG = {
    RetCode.OK: "OK",
    429: "The trading service is experiencing a high server load. Please retry if you "
    "encounter this issue.",
    RetCode.TIME_WINDOW: "The request time exceeds the time window range.",
    RetCode.API_KEY: "API key is invalid.",
    RetCode.SIGN: "Error sign, please check your signature generation algorithm.",
    RetCode.PERMISSION: "Permission denied, please check your API key permissions.",
    RetCode.RATE_LIMIT: "Too many visits!",
    RetCode.ACCESS_RESTRICTED: "Service Restricted: Access is currently unavailable for your "
    "region. Please contact our support team for further assistance",
    RetCode.UNMATCHED_IP: "Unmatched IP, please check your API key's bound IP addresses.",
    RetCode.IP_RATE_LIMIT: "Exceeded the IP Rate Limit.",
    RetCode.BUSY: "System level frequency protection",
    RetCode.SERVER: "Server error.",
    RetCode.ROUTE: "Route not found.",
    RetCode.ORDER_NOT_EXIST: "Order does not exist",
    RetCode.ORDER_FINISHED: "The order has been completed or cancelled.",
    RetCode.QTY_TRUNCATED: "orderQty will be truncated to zero",
    RetCode.LEVERAGE_NOT_MODIFIED: "Set leverage not modified",
    RetCode.TOO_MANY_ORDERS: "Not allowed to have more than 500 active orders.",
    RetCode.DUPLICATE_LINK_ID: "OrderLinkedID is duplicate",
    RetCode.NOTIONAL: "Order notional value below the lower limit",
}


def ret_msg(code: int) -> str:
    """The docs' ``retMsg`` of ``code`` (a code the table does not list: a neutral text)."""
    return RET_MSG.get(code, f"retCode {code}")


class ApiError(Exception):
    """A request the venue refuses: answered as ``{"retCode": code, "retMsg": msg}``."""

    def __init__(self, code: int, message: str | None = None, http_status: int = 200) -> None:
        self.code = code
        self.message = message or RET_MSG.get(code, "Request parameter error")
        self.http_status = http_status
        super().__init__(f"{code}: {self.message}")


def params_error(message: str) -> ApiError:
    return ApiError(RetCode.PARAMS, f"params error: {message}")


def envelope(result: Any, now_ms: int, code: int = 0, message: str = "OK") -> dict[str, Any]:
    """The common response of docs/v5/guide#common-response-parameters."""
    return {
        "retCode": code,
        "retMsg": message,
        "result": result if result is not None else {},
        "retExtInfo": {},
        "time": now_ms,
    }


def fmt(value: Decimal) -> str:
    """A decimal as the venue writes numbers: a plain string, no exponent, no trailing zeros."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def parse_decimal(value: Any, field: str) -> Decimal:
    """A positive-or-zero decimal sent as a string (the docs type every qty/price as string)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise params_error(f"{field} must be a number string")
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise params_error(f"{field} is not a number: {value!r}") from None
    if not number.is_finite() or number < 0:
        raise params_error(f"{field} is not a valid number: {value!r}")
    return number


#: Kline intervals of docs/v5/enum#interval, in ms (M is a calendar month; 30 days here).
INTERVAL_MS: dict[str, int] = {
    **{str(m): m * 60_000 for m in (1, 3, 5, 15, 30, 60, 120, 240, 360, 720)},
    "D": 86_400_000,
    "W": 7 * 86_400_000,
    "M": 30 * 86_400_000,
}


@dataclass(frozen=True)
class InstrumentSpec:
    """A USDT perpetual's rules (docs/v5/market/instrument: priceFilter, lotSizeFilter)."""

    symbol: str
    price: Decimal  # initial last price
    tick_size: Decimal
    qty_step: Decimal
    min_order_qty: Decimal
    max_order_qty: Decimal
    max_mkt_order_qty: Decimal
    min_notional: Decimal
    max_leverage: Decimal = Decimal(100)

    @property
    def base_coin(self) -> str:
        return self.symbol.removesuffix("USDT")

    @property
    def price_scale(self) -> int:
        return max(0, -int(self.tick_size.normalize().as_tuple().exponent))

    def wire(self) -> dict[str, Any]:
        """One entry of instruments-info ``result.list`` for category=linear."""
        scale = self.price_scale
        return {
            "symbol": self.symbol,
            "contractType": "LinearPerpetual",
            "status": "Trading",
            "baseCoin": self.base_coin,
            "quoteCoin": "USDT",
            "launchTime": "1585526400000",
            "deliveryTime": "0",
            "deliveryFeeRate": "",
            "priceScale": str(scale),
            "leverageFilter": {
                "minLeverage": "1",
                "maxLeverage": f"{self.max_leverage:.2f}",
                "leverageStep": "0.01",
            },
            "priceFilter": {
                "minPrice": fmt(self.tick_size),
                "maxPrice": fmt(self.tick_size * 19_999_998),
                "tickSize": fmt(self.tick_size),
            },
            "lotSizeFilter": {
                "maxOrderQty": fmt(self.max_order_qty),
                "minOrderQty": fmt(self.min_order_qty),
                "qtyStep": fmt(self.qty_step),
                "postOnlyMaxOrderQty": fmt(self.max_order_qty),
                "maxMktOrderQty": fmt(self.max_mkt_order_qty),
                "minNotionalValue": fmt(self.min_notional),
            },
            "unifiedMarginTrade": True,
            "fundingInterval": 480,
            "settleCoin": "USDT",
            "copyTrading": "both",
            "upperFundingRate": "0.00375",
            "lowerFundingRate": "-0.00375",
            "isPreListing": False,
            "preListingInfo": None,
            "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
            "symbolType": "",
        }


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return value % step == 0

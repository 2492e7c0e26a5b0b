"""Hyperliquid wire payloads as typed models, and their conversion to core events.

Every payload that crosses the adapter's edge is validated here; a payload of the wrong shape
raises ``HlPayloadError`` naming what was being parsed, so callers can log it and skip it.
Unknown extra fields are ignored (the venue adds fields over time). Numbers arrive as strings
and become ``Decimal``; times are milliseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from algotrade.core.events import Bar, Liquidity, OrderFilled, OrderSide, TradeTick
from algotrade.venues.hyperliquid.errors import HlPayloadError

NS_PER_MS = 1_000_000
WireSide = Literal["A", "B"]  # A = ask (sell), B = bid (buy)


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


def side_from_wire(side: WireSide) -> OrderSide:
    return OrderSide.BUY if side == "B" else OrderSide.SELL


# --------------------------------------------------------------------------- info: metadata


class AssetMeta(_Wire):
    name: str
    sz_decimals: int = Field(alias="szDecimals", ge=0, le=6)
    max_leverage: int = Field(alias="maxLeverage", gt=0)
    only_isolated: bool = Field(default=False, alias="onlyIsolated")
    # "strictIsolated" / "noCross": only isolated margin is allowed (perpetuals meta docs)
    margin_mode: str | None = Field(default=None, alias="marginMode")
    is_delisted: bool = Field(default=False, alias="isDelisted")

    @property
    def isolated_only(self) -> bool:
        return self.only_isolated or self.margin_mode in ("strictIsolated", "noCross")


class Meta(_Wire):
    universe: list[AssetMeta]


class AssetCtx(_Wire):
    funding: Decimal | None = None
    open_interest: Decimal | None = Field(default=None, alias="openInterest")
    prev_day_px: Decimal | None = Field(default=None, alias="prevDayPx")
    day_ntl_vlm: Decimal | None = Field(default=None, alias="dayNtlVlm")
    mark_px: Decimal | None = Field(default=None, alias="markPx")
    mid_px: Decimal | None = Field(default=None, alias="midPx")
    oracle_px: Decimal | None = Field(default=None, alias="oraclePx")


# --------------------------------------------------------------------------- info: market data


class BookLevel(_Wire):
    px: Decimal
    sz: Decimal
    n: int


class L2Book(_Wire):
    coin: str
    time: int
    levels: tuple[list[BookLevel], list[BookLevel]]  # (bids best first, asks best first)


class Candle(_Wire):
    """One candle of ``candleSnapshot`` or the ``candle`` channel (t = open, T = close, ms)."""

    open_ms: int = Field(alias="t")
    close_ms: int = Field(alias="T")
    coin: str = Field(alias="s")
    interval: str = Field(alias="i")
    open: Decimal = Field(alias="o")
    close: Decimal = Field(alias="c")
    high: Decimal = Field(alias="h")
    low: Decimal = Field(alias="l")
    volume: Decimal = Field(alias="v")
    trades: int = Field(default=0, alias="n")

    def to_bar(self, symbol: str | None = None) -> Bar:
        return Bar(
            symbol or self.coin,
            self.open_ms * NS_PER_MS,
            float(self.open),
            float(self.high),
            float(self.low),
            float(self.close),
            float(self.volume),
        )


class Trade(_Wire):
    coin: str
    side: WireSide
    px: Decimal
    sz: Decimal
    time: int
    tid: int
    hash: str = ""

    def to_tick(self) -> TradeTick:
        return TradeTick(self.coin, self.time * NS_PER_MS, float(self.px), float(self.sz))


class AllMids(_Wire):
    """The ``allMids`` channel's data; the info request returns the bare mapping."""

    mids: dict[str, Decimal]


# --------------------------------------------------------------------------- info: account


class Leverage(_Wire):
    type: str
    value: int


class Position(_Wire):
    coin: str
    szi: Decimal  # signed size: > 0 long, < 0 short
    entry_px: Decimal | None = Field(default=None, alias="entryPx")
    unrealized_pnl: Decimal = Field(default=Decimal(0), alias="unrealizedPnl")
    liquidation_px: Decimal | None = Field(default=None, alias="liquidationPx")
    margin_used: Decimal = Field(default=Decimal(0), alias="marginUsed")
    leverage: Leverage | None = None


class AssetPosition(_Wire):
    type: str = "oneWay"
    position: Position


class MarginSummary(_Wire):
    account_value: Decimal = Field(alias="accountValue")
    total_ntl_pos: Decimal = Field(alias="totalNtlPos")
    total_raw_usd: Decimal = Field(alias="totalRawUsd")
    total_margin_used: Decimal = Field(alias="totalMarginUsed")


class ClearinghouseState(_Wire):
    asset_positions: list[AssetPosition] = Field(alias="assetPositions")
    margin_summary: MarginSummary = Field(alias="marginSummary")
    withdrawable: Decimal = Decimal(0)
    time: int = 0

    def positions(self) -> dict[str, Decimal]:
        """Signed size per coin, zero positions left out."""
        return {p.position.coin: p.position.szi for p in self.asset_positions if p.position.szi}


class OpenOrder(_Wire):
    """An order as ``openOrders``/``orderStatus``/``orderUpdates`` describe it."""

    coin: str
    side: WireSide
    limit_px: Decimal = Field(alias="limitPx")
    sz: Decimal  # remaining size
    oid: int
    timestamp: int
    orig_sz: Decimal = Field(alias="origSz")
    cloid: str | None = None
    reduce_only: bool = Field(default=False, alias="reduceOnly")
    order_type: str | None = Field(default=None, alias="orderType")
    trigger_px: Decimal | None = Field(default=None, alias="triggerPx")
    is_trigger: bool = Field(default=False, alias="isTrigger")
    tif: str | None = None

    @property
    def order_side(self) -> OrderSide:
        return side_from_wire(self.side)


class Fill(_Wire):
    coin: str
    px: Decimal
    sz: Decimal
    side: WireSide
    time: int
    start_position: Decimal = Field(default=Decimal(0), alias="startPosition")
    dir: str = ""
    closed_pnl: Decimal = Field(default=Decimal(0), alias="closedPnl")
    hash: str = ""
    oid: int
    crossed: bool = True  # True: we took liquidity
    fee: Decimal = Decimal(0)
    tid: int
    fee_token: str = Field(default="USDC", alias="feeToken")
    cloid: str | None = None

    def to_order_filled(self, client_order_id: str, symbol: str | None = None) -> OrderFilled:
        return OrderFilled(
            client_order_id=client_order_id,
            venue_order_id=str(self.oid),
            trade_id=str(self.tid),
            symbol=symbol or self.coin,
            side=side_from_wire(self.side),
            qty=self.sz,
            price=self.px,
            fee=self.fee,
            liquidity=Liquidity.TAKER if self.crossed else Liquidity.MAKER,
            ts=self.time * NS_PER_MS,
        )


OrderStatusName = str  # open, filled, canceled, triggered, rejected, marginCanceled, ...
# Hyperliquid has dozens of terminal statuses (marginCanceled, siblingFilledCanceled,
# liquidatedCanceled, scheduledCancel, iocCancelRejected, badAloPxRejected, tickRejected, ...)
# and adds more: anything that is not live or filled is an end without (more) fills.
OPEN_STATUSES = frozenset({"open", "triggered", "accepted"})


class OrderUpdate(_Wire):
    """One element of the ``orderUpdates`` channel; also the ``order`` of ``orderStatus``."""

    order: OpenOrder
    status: OrderStatusName
    status_timestamp: int = Field(alias="statusTimestamp")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_filled(self) -> bool:
        return self.status == "filled"

    @property
    def is_ended_unfilled(self) -> bool:
        """Cancelled or rejected, under whichever of the venue's names."""
        return not self.is_open and not self.is_filled

    @property
    def is_rejection(self) -> bool:
        return self.status == "rejected" or self.status.endswith("Rejected")


class OrderStatusReply(_Wire):
    """``orderStatus``: ``{"status": "order", "order": {...}}`` or ``{"status": "unknownOid"}``."""

    status: str
    order: OrderUpdate | None = None

    @property
    def known(self) -> bool:
        return self.status == "order" and self.order is not None


class UserFills(_Wire):
    """The ``userFills`` channel's data; the first message after subscribing is a snapshot."""

    is_snapshot: bool = Field(default=False, alias="isSnapshot")
    user: str = ""
    fills: list[Fill]


# --------------------------------------------------------------------------- exchange replies


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """One order's status in an ``order`` reply: ``resting``, ``filled`` or ``error``."""

    kind: Literal["resting", "filled", "error"]
    oid: int | None = None
    total_sz: Decimal | None = None
    avg_px: Decimal | None = None
    error: str = ""


def parse_order_statuses(payload: Any) -> list[PlacedOrder]:
    """Statuses of an ``order`` action's reply, one per order sent, in order.

    A reply with ``status: "err"`` (the whole action refused: bad signature, nonce, ...) raises
    ``HlPayloadError`` only if malformed; the caller checks ``action_error`` first."""
    statuses = _reply_data(payload, "order").get("statuses")
    if not isinstance(statuses, list):
        raise HlPayloadError(f"order reply: 'statuses' is not a list: {payload!r:.300}")
    out: list[PlacedOrder] = []
    for entry in statuses:
        out.append(_placed(entry, payload))
    return out


def _placed(entry: Any, payload: Any) -> PlacedOrder:
    try:
        if isinstance(entry, dict) and "resting" in entry:
            return PlacedOrder("resting", oid=int(entry["resting"]["oid"]))
        if isinstance(entry, dict) and "filled" in entry:
            body = entry["filled"]
            return PlacedOrder(
                "filled",
                oid=int(body["oid"]),
                total_sz=Decimal(str(body["totalSz"])),
                avg_px=Decimal(str(body["avgPx"])),
            )
        if isinstance(entry, dict) and "error" in entry:
            return PlacedOrder("error", error=str(entry["error"]))
    except (KeyError, TypeError, ValueError, ArithmeticError):
        pass
    raise HlPayloadError(f"order reply: unknown order status {entry!r:.200} in {payload!r:.300}")


def parse_cancel_statuses(payload: Any, action: str = "cancel") -> list[str]:
    """``"success"`` or the error message, one per cancel sent."""
    statuses = _reply_data(payload, action).get("statuses")
    if not isinstance(statuses, list):
        raise HlPayloadError(f"{action} reply: 'statuses' is not a list: {payload!r:.300}")
    out = []
    for entry in statuses:
        if entry == "success":
            out.append("success")
        elif isinstance(entry, dict) and "error" in entry:
            out.append(str(entry["error"]))
        else:
            raise HlPayloadError(f"{action} reply: unknown status {entry!r:.200}")
    return out


def action_error(payload: Any) -> str | None:
    """The error message when the venue refused a whole action (``status: "err"``)."""
    if isinstance(payload, dict) and payload.get("status") == "err":
        return str(payload.get("response", "unknown error"))
    if not isinstance(payload, dict) or payload.get("status") != "ok":
        raise HlPayloadError(f"exchange reply without status ok/err: {payload!r:.300}")
    return None


def _reply_data(payload: Any, action: str) -> dict[str, Any]:
    try:
        response = payload["response"]
        data = response["data"]
    except (KeyError, TypeError):
        raise HlPayloadError(f"{action} reply without response.data: {payload!r:.300}") from None
    if not isinstance(data, dict):
        raise HlPayloadError(f"{action} reply: response.data is not an object")
    return data


# --------------------------------------------------------------------------- parsing helper

_T = TypeVar("_T")
_adapters: dict[Any, TypeAdapter[Any]] = {}


def parse(kind: type[_T], payload: Any, what: str) -> _T:
    """Validate ``payload`` as ``kind`` (a model or a type such as ``list[Fill]``).

    Raises ``HlPayloadError`` naming ``what`` and the first failing field."""
    adapter = _adapters.get(kind)
    if adapter is None:
        adapter = _adapters[kind] = TypeAdapter(kind)
    try:
        result: _T = adapter.validate_python(payload)
        return result
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "(root)"
        raise HlPayloadError(
            f"{what}: malformed payload at {location}: {first['msg']} ({exc.error_count()} "
            "problem(s))"
        ) from None

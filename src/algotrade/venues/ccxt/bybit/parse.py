"""Bybit v5 payloads → the neutral shapes of ``model.py``.

Shapes follow docs/v5/order/open-order (orders, REST and the ``order`` topic),
docs/v5/order/execution and the ``execution`` topic, docs/v5/position (REST ``avgPrice``, topic
``entryPrice``), docs/v5/account/wallet-balance and the ``wallet`` topic, docs/v5/market/kline
(rows of strings) and the ``kline`` topic, docs/v5/market/instrument. Numbers arrive as strings
(or JSON numbers parsed as ``Decimal``); an empty string means "none". A field that is missing
or malformed raises ``PayloadError`` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from algotrade.core.events import OrderSide
from algotrade.venues.ccxt.errors import PayloadError
from algotrade.venues.ccxt.model import (
    Balance,
    Candle,
    InstrumentInfo,
    VenueFill,
    VenueOrder,
    VenuePosition,
)

__all__ = [
    "balance",
    "candle_push",
    "candle_row",
    "fill",
    "instrument",
    "order",
    "position",
    "result_list",
]

_ZERO = Decimal(0)


def _obj(raw: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise PayloadError(f"{what}: expected an object, got {type(raw).__name__}")
    return raw


def _str(item: Mapping[str, Any], name: str, what: str) -> str:
    value = item.get(name)
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise PayloadError(f"{what}: '{name}' missing or not a string")
    return value


def _dec(
    item: Mapping[str, Any], name: str, what: str, *, default: Decimal | None = None
) -> Decimal:
    value = item.get(name)
    if value in (None, "") and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise PayloadError(f"{what}: '{name}' missing or not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise PayloadError(f"{what}: '{name}' is not a number: {value!r}") from None
    if not number.is_finite():
        raise PayloadError(f"{what}: '{name}' is not finite")
    return number


def _opt_dec(item: Mapping[str, Any], name: str, what: str) -> Decimal | None:
    if item.get(name) in (None, ""):
        return None
    return _dec(item, name, what)


def _int(item: Mapping[str, Any], name: str, what: str, *, default: int | None = None) -> int:
    value = item.get(name)
    if value in (None, "") and default is not None:
        return default
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise PayloadError(f"{what}: '{name}' is not an integer: {value!r}") from None


def _bool(item: Mapping[str, Any], name: str) -> bool:
    value = item.get(name)
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1")


def _side(item: Mapping[str, Any], what: str) -> OrderSide:
    side = item.get("side")
    if side == "Buy":
        return OrderSide.BUY
    if side == "Sell":
        return OrderSide.SELL
    raise PayloadError(f"{what}: 'side' must be Buy or Sell, got {side!r}")


def result_list(reply: Any, what: str) -> tuple[list[Any], str]:
    """``result.list`` and ``result.nextPageCursor`` of a v5 reply."""
    result = _obj(_obj(reply, what).get("result"), f"{what}.result")
    rows = result.get("list")
    if not isinstance(rows, list):
        raise PayloadError(f"{what}: result.list missing")
    cursor = result.get("nextPageCursor") or ""
    return rows, str(cursor)


def order(raw: Any) -> VenueOrder:
    what = "order"
    item = _obj(raw, what)
    return VenueOrder(
        order_id=_str(item, "orderId", what),
        link_id=str(item.get("orderLinkId") or ""),
        symbol=_str(item, "symbol", what),
        side=_side(item, what),
        order_type=_str(item, "orderType", what),
        tif=str(item.get("timeInForce") or ""),
        price=_opt_dec(item, "price", what),
        qty=_dec(item, "qty", what),
        cum_qty=_dec(item, "cumExecQty", what, default=_ZERO),
        status=_str(item, "orderStatus", what),
        reject_reason=str(item.get("rejectReason") or ""),
        cancel_type=str(item.get("cancelType") or ""),
        reduce_only=_bool(item, "reduceOnly"),
        created_ms=_int(item, "createdTime", what, default=0),
        updated_ms=_int(item, "updatedTime", what, default=0),
    )


def fill(raw: Any) -> VenueFill:
    what = "execution"
    item = _obj(raw, what)
    return VenueFill(
        exec_id=_str(item, "execId", what),
        order_id=_str(item, "orderId", what),
        link_id=str(item.get("orderLinkId") or ""),
        symbol=_str(item, "symbol", what),
        side=_side(item, what),
        qty=_dec(item, "execQty", what),
        price=_dec(item, "execPrice", what),
        fee=_dec(item, "execFee", what, default=_ZERO),
        is_maker=_bool(item, "isMaker"),
        time_ms=_int(item, "execTime", what),
        exec_type=str(item.get("execType") or "Trade"),
        seq=_seq(item, what),
    )


def position(raw: Any) -> VenuePosition:
    what = "position"
    item = _obj(raw, what)
    size = _dec(item, "size", what, default=_ZERO)
    side = item.get("side")
    if side == "Sell":
        size = -size
    elif side not in ("Buy", "", None, "None"):
        raise PayloadError(f"{what}: 'side' must be Buy, Sell or empty, got {side!r}")
    avg = _opt_dec(item, "avgPrice", what)
    if avg is None:
        avg = _opt_dec(item, "entryPrice", what)
    return VenuePosition(
        symbol=_str(item, "symbol", what),
        size=size,
        avg_price=avg or _ZERO,
        mark_price=_opt_dec(item, "markPrice", what),
        unrealized_pnl=_dec(item, "unrealisedPnl", what, default=_ZERO),
        updated_ms=_int(item, "updatedTime", what, default=0),
        seq=_seq(item, what),
    )


def _seq(item: Mapping[str, Any], what: str) -> int | None:
    """The cross sequence of an execution or a position; None when absent or -1 (docs: "-1
    if the symbol has never been traded")."""
    if item.get("seq") in (None, ""):
        return None
    seq = _int(item, "seq", what)
    return seq if seq >= 0 else None


def balance(raw: Any, coin: str, at_ms: int) -> Balance | None:
    """The ``coin`` balance of a UNIFIED account object (wallet-balance / ``wallet`` topic).

    ``walletBalance``, ``equity`` and ``unrealisedPnl`` are the coin's own (in the coin); the
    available balance is the account's ``totalAvailableBalance``, in USD (docs: the account
    totals are USD values over all collateral coins), so it is reported as USD."""
    what = "wallet"
    account = _obj(raw, what)
    coins = account.get("coin")
    if not isinstance(coins, list):
        raise PayloadError(f"{what}: 'coin' missing")
    for entry in coins:
        item = _obj(entry, f"{what}.coin")
        if item.get("coin") != coin:
            continue
        return Balance(
            coin=coin,
            wallet_balance=_dec(item, "walletBalance", what, default=_ZERO),
            equity=_dec(item, "equity", what, default=_ZERO),
            account_available_usd=_opt_dec(account, "totalAvailableBalance", what),
            unrealized_pnl=_dec(item, "unrealisedPnl", what, default=_ZERO),
            updated_ms=at_ms,
        )
    return None


def candle_row(raw: Any, symbol: str, interval: str) -> Candle:
    """A row of /v5/market/kline: [startTime, open, high, low, close, volume, turnover]. Rows
    carry no ``confirm``: the caller decides which are closed (by their end time)."""
    if not isinstance(raw, list) or len(raw) < 6:
        raise PayloadError(
            f"kline row: expected [start, open, high, low, close, volume, ...], got {raw!r}"
        )
    row = dict(zip(("start", "open", "high", "low", "close", "volume"), raw, strict=False))
    what = "kline row"
    return Candle(
        symbol=symbol,
        interval=interval,
        open_ms=_int(row, "start", what),
        open=_dec(row, "open", what),
        high=_dec(row, "high", what),
        low=_dec(row, "low", what),
        close=_dec(row, "close", what),
        volume=_dec(row, "volume", what),
        closed=False,
    )


def candle_push(raw: Any, symbol: str) -> Candle:
    """An entry of a ``kline.{interval}.{symbol}`` push."""
    what = "kline"
    item = _obj(raw, what)
    return Candle(
        symbol=symbol,
        interval=_str(item, "interval", what),
        open_ms=_int(item, "start", what),
        open=_dec(item, "open", what),
        high=_dec(item, "high", what),
        low=_dec(item, "low", what),
        close=_dec(item, "close", what),
        volume=_dec(item, "volume", what),
        closed=_bool(item, "confirm"),
    )


def instrument(raw: Any) -> InstrumentInfo:
    what = "instrument"
    item = _obj(raw, what)
    prices = _obj(item.get("priceFilter"), f"{what}.priceFilter")
    lots = _obj(item.get("lotSizeFilter"), f"{what}.lotSizeFilter")
    leverage = item.get("leverageFilter")
    lev = _obj(leverage, f"{what}.leverageFilter") if leverage is not None else {}
    max_qty = _dec(lots, "maxOrderQty", what)
    return InstrumentInfo(
        symbol=_str(item, "symbol", what),
        status=str(item.get("status") or ""),
        tick_size=_dec(prices, "tickSize", what),
        qty_step=_dec(lots, "qtyStep", what),
        min_qty=_dec(lots, "minOrderQty", what),
        max_qty=max_qty,
        max_market_qty=_dec(lots, "maxMktOrderQty", what, default=max_qty),
        min_notional=_dec(lots, "minNotionalValue", what, default=_ZERO),
        min_price=_dec(prices, "minPrice", what, default=_ZERO),
        max_price=_dec(prices, "maxPrice", what, default=_ZERO),
        max_leverage=_dec(lev, "maxLeverage", what, default=Decimal(1)),
        leverage_step=_dec(lev, "leverageStep", what, default=Decimal("0.01")),
    )

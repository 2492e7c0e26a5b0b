"""The v5 REST endpoints of the fake Bybit: parameter checks and ``result`` bodies.

Public (docs/v5/market/*): time, instruments-info, kline, tickers. Private (signed):
order/create|amend|cancel|cancel-all (docs/v5/order/*), order/realtime, order/history,
execution/list, position/list, position/set-leverage (docs/v5/position/leverage),
account/wallet-balance. Only ``category=linear`` is served; any
other category is answered with retCode 10001. Each handler returns the ``result`` object or
raises ``ApiError``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from .orders import Order
from .state import ExchangeState
from .wire import INTERVAL_MS, ApiError, RetCode, fmt, is_multiple, params_error, parse_decimal

__all__ = ["PRIVATE_ROUTES", "PUBLIC_ROUTES", "Rest"]

Params = dict[str, Any]
_LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
_TIFS = ("GTC", "IOC", "FOK", "PostOnly")
_DAY_MS = 86_400_000
_CLOSED_KEPT = 500  # docs/v5/order/open-order: recent 500 closed orders


def _category(params: Params, *, default: str | None = None) -> str:
    category = params.get("category", default)
    if category is None:
        raise params_error("category is required")
    if category != "linear":
        raise params_error(f"category only support linear in this fake: {category!r}")
    return "linear"


def _int(params: Params, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise params_error(f"{name} must be an integer: {raw!r}") from None
    if not low <= value <= high:
        raise params_error(f"{name} must be in [{low}, {high}]: {value}")
    return value


def _page(items: Sequence[Any], params: Params, default: int, high: int) -> tuple[list[Any], str]:
    """One page and its nextPageCursor (an opaque offset here; "" on the last page)."""
    limit = _int(params, "limit", default, 1, high)
    cursor = params.get("cursor") or "0"
    try:
        start = int(str(cursor))
    except ValueError:
        raise params_error(f"cursor invalid: {cursor!r}") from None
    page = list(items[start : start + limit])
    nxt = str(start + limit) if start + limit < len(items) else ""
    return page, nxt


def _bool(value: Any, name: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise params_error(f"{name} must be a boolean")


class Rest:
    def __init__(self, state: ExchangeState) -> None:
        self.state = state

    # ------------------------------------------------------------------ public

    def server_time(self, params: Params) -> Any:
        now_ms = self.state.clock()
        return {"timeSecond": str(now_ms // 1000), "timeNano": str(now_ms * 1_000_000)}

    def instruments_info(self, params: Params) -> Any:
        _category(params)
        symbol = params.get("symbol")
        specs = [s for s in self.state.instruments.values() if symbol in (None, s.symbol)]
        base = params.get("baseCoin")
        specs = [s for s in specs if base in (None, s.base_coin)]
        status = params.get("status")
        if status not in (None, "Trading"):
            specs = []
        page, nxt = _page(specs, params, 500, 1000)
        return {"category": "linear", "list": [s.wire() for s in page], "nextPageCursor": nxt}

    def kline(self, params: Params) -> Any:
        _category(params, default="linear")
        symbol = self.state.instrument(params.get("symbol")).symbol
        interval = params.get("interval")
        if interval not in INTERVAL_MS:
            raise params_error(f"interval invalid: {interval!r}")
        limit = _int(params, "limit", 200, 1, 1000)
        start = _int(params, "start", 0, 0, 2**63)
        end = _int(params, "end", 2**62, 0, 2**63)
        with self.state.lock:
            bars = self.state.klines.get((symbol, interval), {})
            rows = [b for t, b in sorted(bars.items(), reverse=True) if start <= t <= end]
        rows = rows[:limit]
        return {
            "category": "linear",
            "symbol": symbol,
            "list": [
                [
                    str(b["start"]),
                    b["open"],
                    b["high"],
                    b["low"],
                    b["close"],
                    b["volume"],
                    b["turnover"],
                ]
                for b in rows
            ],
        }

    def tickers(self, params: Params) -> Any:
        _category(params)
        symbol = params.get("symbol")
        if symbol is not None:
            self.state.instrument(symbol)
        with self.state.lock:
            prices = dict(self.state.prices)
        rows = []
        for name, price in prices.items():
            if symbol not in (None, name):
                continue
            text = fmt(price)
            rows.append(
                {
                    "symbol": name,
                    "lastPrice": text,
                    "indexPrice": text,
                    "markPrice": text,
                    "prevPrice24h": text,
                    "price24hPcnt": "0",
                    "highPrice24h": text,
                    "lowPrice24h": text,
                    "prevPrice1h": text,
                    "openInterest": "0",
                    "openInterestValue": "0",
                    "turnover24h": "0",
                    "volume24h": "0",
                    "fundingRate": "0.0001",
                    "nextFundingTime": "0",
                    "predictedDeliveryPrice": "",
                    "basisRate": "",
                    "deliveryFeeRate": "",
                    "deliveryTime": "0",
                    "ask1Size": "1000",
                    "bid1Price": text,
                    "ask1Price": text,
                    "bid1Size": "1000",
                    "basis": "",
                    "preOpenPrice": "",
                    "preQty": "",
                    "curPreListingPhase": "",
                    "fundingIntervalHour": "8",
                    "basisRateYear": "",
                    "fundingCap": "0.005",
                }
            )
        return {"category": "linear", "list": rows}

    # ------------------------------------------------------------------ trade

    def create_order(self, uid: str, params: Params) -> Any:
        with self.state.lock:
            self.state.create_requests.append((uid, dict(params)))
        _category(params)
        spec = self.state.instrument(params.get("symbol"))
        side = params.get("side")
        if side not in ("Buy", "Sell"):
            raise params_error(f"side invalid: {side!r}")
        order_type = params.get("orderType")
        if order_type not in ("Market", "Limit"):
            raise params_error(f"orderType invalid: {order_type!r}")
        tif = params.get("timeInForce") or "GTC"
        if tif not in _TIFS:
            raise params_error(f"timeInForce invalid: {tif!r}")
        if order_type == "Market":
            tif = "IOC"  # docs: "Market order will always use IOC"
        position_idx = params.get("positionIdx", 0)
        if position_idx not in (0, "0", None):
            raise params_error("position idx not match position mode (one-way mode: 0)")
        link_id = params.get("orderLinkId") or ""
        if link_id and (not isinstance(link_id, str) or not _LINK_ID.match(link_id)):
            raise params_error(
                "orderLinkId: max 36 characters of letters, numbers, dashes and underscores"
            )
        if params.get("triggerPrice") not in (None, "", "0"):
            raise params_error("conditional orders (triggerPrice) are not supported by this fake")
        qty = parse_decimal(params.get("qty"), "qty")
        reduce_only = _bool(params.get("reduceOnly"), "reduceOnly")
        close_on_trigger = _bool(params.get("closeOnTrigger"), "closeOnTrigger")
        max_qty = spec.max_mkt_order_qty if order_type == "Market" else spec.max_order_qty
        if qty == 0 or qty < spec.min_order_qty or qty > max_qty:
            raise params_error(
                f"qty {fmt(qty)} must be within [{fmt(spec.min_order_qty)}, {fmt(max_qty)}]"
            )
        if not is_multiple(qty, spec.qty_step):
            raise params_error(f"qty {fmt(qty)} is not a multiple of qtyStep {fmt(spec.qty_step)}")
        price = Decimal(0)
        if order_type == "Limit":
            if params.get("price") in (None, ""):
                raise params_error("price is required for a Limit order")
            price = parse_decimal(params.get("price"), "price")
            if price <= 0 or not is_multiple(price, spec.tick_size):
                raise params_error(
                    f"price {fmt(price)} is not a positive multiple of tickSize "
                    f"{fmt(spec.tick_size)}"
                )
        with self.state.lock:
            reference = price if order_type == "Limit" else self.state.prices[spec.symbol]
        if not reduce_only and qty * reference < spec.min_notional:
            raise ApiError(RetCode.NOTIONAL)
        order = self.state.create_order(
            uid,
            params,
            {
                "symbol": spec.symbol,
                "side": side,
                "order_type": order_type,
                "time_in_force": tif,
                "order_link_id": link_id,
                "qty": qty,
                "price": price,
                "reduce_only": reduce_only,
                "close_on_trigger": close_on_trigger,
            },
        )
        return {"orderId": order.order_id, "orderLinkId": order.order_link_id}

    def _target(self, uid: str, params: Params) -> Order:
        _category(params)
        spec = self.state.instrument(params.get("symbol"))
        order = self.state.find_order(uid, params.get("orderId"), params.get("orderLinkId"))
        if order.symbol != spec.symbol:
            raise ApiError(RetCode.ORDER_NOT_EXIST)
        return order

    def amend_order(self, uid: str, params: Params) -> Any:
        order = self._target(uid, params)
        spec = self.state.instruments[order.symbol]
        qty = price = None
        if params.get("qty") not in (None, ""):
            qty = parse_decimal(params["qty"], "qty")
            if not is_multiple(qty, spec.qty_step) or qty < spec.min_order_qty:
                raise params_error(f"qty invalid: {fmt(qty)}")
        if params.get("price") not in (None, ""):
            price = parse_decimal(params["price"], "price")
            if order.order_type != "Limit" or price <= 0:
                raise params_error("price can only be amended on a Limit order")
            if not is_multiple(price, spec.tick_size):
                raise params_error(f"price {fmt(price)} is not a multiple of tickSize")
        if qty is None and price is None:
            raise params_error("nothing to amend: pass qty and/or price")
        self.state.amend_order(order, qty, price)
        return {"orderId": order.order_id, "orderLinkId": order.order_link_id}

    def set_leverage(self, uid: str, params: Params) -> Any:
        """docs/v5/position/leverage: buyLeverage and sellLeverage in [1, max leverage]; in
        one-way mode they must be equal. Setting the current value is retCode 110043."""
        _category(params)
        spec = self.state.instrument(params.get("symbol"))
        buy = parse_decimal(params.get("buyLeverage"), "buyLeverage")
        sell = parse_decimal(params.get("sellLeverage"), "sellLeverage")
        if buy != sell:
            raise params_error("buyLeverage must equal sellLeverage in one-way mode")
        if not 1 <= buy <= spec.max_leverage or not is_multiple(buy, Decimal("0.01")):
            raise params_error(f"leverage invalid: {fmt(buy)} (1 to {fmt(spec.max_leverage)})")
        with self.state.lock:
            position = self.state.account(uid).position(spec.symbol)
            if position.leverage == buy:
                raise ApiError(RetCode.LEVERAGE_NOT_MODIFIED)
            position.leverage = buy
        return {}

    def cancel_order(self, uid: str, params: Params) -> Any:
        order = self._target(uid, params)
        self.state.cancel_order(order)
        return {"orderId": order.order_id, "orderLinkId": order.order_link_id}

    def cancel_all(self, uid: str, params: Params) -> Any:
        _category(params)
        symbol = params.get("symbol") or None
        base = params.get("baseCoin") or None
        settle = params.get("settleCoin") or None
        if symbol is None and base is None and settle is None:
            raise params_error("symbol, baseCoin or settleCoin is required for linear")
        if symbol is not None:
            self.state.instrument(symbol)
            base = None
        elif settle not in (None, "USDT") and base is None:
            return {"list": [], "success": "1"}
        cancelled = self.state.cancel_all(uid, symbol, base)
        return {
            "list": [{"orderId": o.order_id, "orderLinkId": o.order_link_id} for o in cancelled],
            "success": "1",
        }

    # ------------------------------------------------------------------ queries

    def _orders(self, uid: str, params: Params, keep: Callable[[Order], bool]) -> list[Order]:
        symbol = params.get("symbol")
        base = params.get("baseCoin")
        with self.state.lock:
            orders = [o for o in reversed(self.state.orders.values()) if o.uid == uid]
        if params.get("orderId"):
            return [o for o in orders if o.order_id == params["orderId"]]
        if params.get("orderLinkId"):
            return [o for o in orders if o.order_link_id == params["orderLinkId"]]
        if symbol:
            orders = [o for o in orders if o.symbol == symbol]
        elif base:
            orders = [o for o in orders if self.state.instruments[o.symbol].base_coin == base]
        return [o for o in orders if keep(o)]

    def _require_scope(self, params: Params) -> None:
        if not (
            params.get("symbol")
            or params.get("baseCoin")
            or params.get("settleCoin")
            or params.get("orderId")
            or params.get("orderLinkId")
        ):
            raise params_error("symbol, baseCoin or settleCoin is required for linear")

    def open_orders(self, uid: str, params: Params) -> Any:
        """docs/v5/order/open-order: open orders, or the recent 500 closed ones (openOnly=1);
        by orderId/orderLinkId, whatever its status."""
        _category(params)
        self._require_scope(params)
        open_only = _int(params, "openOnly", 0, 0, 2)
        if open_only == 0:
            orders = self._orders(uid, params, lambda o: o.is_open)
        else:
            orders = self._orders(uid, params, lambda o: not o.is_open)[:_CLOSED_KEPT]
        page, nxt = _page(orders, params, 20, 50)
        return {"category": "linear", "list": [o.rest() for o in page], "nextPageCursor": nxt}

    def order_history(self, uid: str, params: Params) -> Any:
        """docs/v5/order/order-list: 7 days by default; Cancelled/Rejected for 24 hours only."""
        _category(params)
        now = self.state.clock()
        start, end = self._time_range(params, now)
        status = params.get("orderStatus")

        def keep(o: Order) -> bool:
            if not start <= o.created_ms <= end:
                return False
            unfilled_end = o.status in ("Cancelled", "Rejected", "Deactivated") and not o.cum_qty
            if unfilled_end and o.updated_ms < now - _DAY_MS:
                return False
            return status in (None, o.status)

        orders = self._orders(uid, params, keep)
        page, nxt = _page(orders, params, 20, 50)
        return {"category": "linear", "list": [o.rest() for o in page], "nextPageCursor": nxt}

    @staticmethod
    def _time_range(params: Params, now: int) -> tuple[int, int]:
        week = 7 * _DAY_MS
        start = _int(params, "startTime", -1, 0, 2**63)
        end = _int(params, "endTime", -1, 0, 2**63)
        if start < 0 and end < 0:
            return now - week, now + week
        if end < 0:
            return start, start + week
        if start < 0:
            return end - week, end
        if end - start > week:
            raise params_error("endTime - startTime must be <= 7 days")
        return start, end

    def executions(self, uid: str, params: Params) -> Any:
        _category(params)
        start, end = self._time_range(params, self.state.clock())
        with self.state.lock:
            rows = [e for u, e in reversed(self.state.executions) if u == uid]
        if params.get("orderId"):
            rows = [e for e in rows if e.order_id == params["orderId"]]
        elif params.get("orderLinkId"):
            rows = [e for e in rows if e.order_link_id == params["orderLinkId"]]
        else:
            if params.get("symbol"):
                rows = [e for e in rows if e.symbol == params["symbol"]]
            rows = [e for e in rows if start <= e.exec_time_ms <= end]
        if params.get("execType") not in (None, "Trade"):
            rows = []
        page, nxt = _page(rows, params, 50, 100)
        return {"category": "linear", "list": [e.rest() for e in page], "nextPageCursor": nxt}

    def positions(self, uid: str, params: Params) -> Any:
        """docs/v5/position/list: by symbol even when flat; by settleCoin only non-zero ones."""
        _category(params)
        symbol = params.get("symbol")
        settle = params.get("settleCoin")
        if not symbol and not settle:
            raise params_error("symbol or settleCoin is required for linear")
        with self.state.lock:
            account = self.state.account(uid)
            if symbol:
                self.state.instrument(symbol)
                rows = [account.position(symbol).rest(self.state.prices[symbol])]
            elif settle == "USDT":
                rows = [
                    p.rest(self.state.prices[s])
                    for s, p in sorted(account.positions.items())
                    if p.size != 0
                ]
            else:
                rows = []
        page, nxt = _page(rows, params, 20, 200)
        return {"category": "linear", "list": page, "nextPageCursor": nxt}

    def wallet_balance(self, uid: str, params: Params) -> Any:
        if params.get("accountType") != "UNIFIED":
            raise params_error(f"accountType only support UNIFIED: {params.get('accountType')!r}")
        coins = params.get("coin")
        with self.state.lock:
            wallet = self.state.account(uid).wallet(self.state.prices)
        if coins:
            wanted = set(str(coins).split(","))
            wallet["coin"] = [c for c in wallet["coin"] if c["coin"] in wanted]
        return {"list": [wallet]}


PUBLIC_ROUTES: dict[str, str] = {
    "/v5/market/time": "server_time",
    "/v5/market/instruments-info": "instruments_info",
    "/v5/market/kline": "kline",
    "/v5/market/tickers": "tickers",
}
#: path → (HTTP method, handler name)
PRIVATE_ROUTES: dict[str, tuple[str, str]] = {
    "/v5/order/create": ("POST", "create_order"),
    "/v5/order/amend": ("POST", "amend_order"),
    "/v5/order/cancel": ("POST", "cancel_order"),
    "/v5/order/cancel-all": ("POST", "cancel_all"),
    "/v5/order/realtime": ("GET", "open_orders"),
    "/v5/order/history": ("GET", "order_history"),
    "/v5/execution/list": ("GET", "executions"),
    "/v5/position/list": ("GET", "positions"),
    "/v5/position/set-leverage": ("POST", "set_leverage"),
    "/v5/account/wallet-balance": ("GET", "wallet_balance"),
}

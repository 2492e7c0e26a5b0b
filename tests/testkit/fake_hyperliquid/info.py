"""``POST /info`` of the fake Hyperliquid: read-only requests, answered from ``ExchangeState``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .state import ExchangeState
from .wire import INTERVAL_MS, BadRequest, fmt

__all__ = ["FILLS_BY_TIME_WINDOW", "MAX_FILLS", "handle_info"]

MAX_FILLS = 2000  # per userFills / userFillsByTime reply (the docs' cap)
FILLS_BY_TIME_WINDOW = 10_000  # userFillsByTime sees only this many most recent fills (docs)
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_CLOID = re.compile(r"^0x[0-9a-fA-F]{32}$")


def _user(body: dict[str, Any]) -> str:
    user = body.get("user")
    if not isinstance(user, str) or not _ADDRESS.match(user):
        raise BadRequest(f"{body.get('type')}: user must be a 0x address, got {user!r}")
    return user.lower()


def _ms(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{what} must be an integer (ms), got {value!r}")
    return value


def _meta(state: ExchangeState, body: dict[str, Any]) -> Any:
    del body
    universe = []
    for a in state.assets:
        entry: dict[str, Any] = {
            "name": a.name,
            "szDecimals": a.sz_decimals,
            "maxLeverage": a.max_leverage,
        }
        if a.margin_mode is not None:
            entry["marginMode"] = a.margin_mode
            entry["onlyIsolated"] = True
        universe.append(entry)
    return {"universe": universe}


def _meta_and_ctxs(state: ExchangeState, body: dict[str, Any]) -> Any:
    ctxs = []
    for asset in state.assets:
        mid = state.mids[asset.name]
        bid, ask = state.bbo(asset.name)
        ctxs.append(
            {
                "funding": "0.0000125",
                "openInterest": "1000.0",
                "prevDayPx": fmt(state.prev_day[asset.name]),
                "dayNtlVlm": fmt(mid * 100),
                "premium": "0.0",
                "oraclePx": fmt(mid),
                "markPx": fmt(mid),
                "midPx": fmt(mid),
                "impactPxs": [fmt(bid), fmt(ask)],
                "dayBaseVlm": "100.0",
            }
        )
    return [_meta(state, body), ctxs]


def _all_mids(state: ExchangeState, body: dict[str, Any]) -> Any:
    del body
    return state.all_mids()


def _l2_book(state: ExchangeState, body: dict[str, Any]) -> Any:
    coin = body.get("coin")
    if coin not in state.index:
        return None  # the venue answers null for an unknown coin
    return state.book(coin)


def _candles(state: ExchangeState, body: dict[str, Any]) -> Any:
    req = body.get("req")
    if not isinstance(req, dict):
        raise BadRequest("candleSnapshot: req must be an object")
    coin, interval = req.get("coin"), req.get("interval")
    if not isinstance(coin, str) or interval not in INTERVAL_MS:
        raise BadRequest(f"candleSnapshot: bad coin or interval in {req!r}")
    start = _ms(req.get("startTime"), "startTime")
    end = req.get("endTime")
    end = state.clock() if end is None else _ms(end, "endTime")
    return state.candle_snapshot(coin, interval, start, end, state.candle_reply_cap)


def _clearinghouse(state: ExchangeState, body: dict[str, Any]) -> Any:
    return state.clearinghouse(_user(body))


def _open_orders(frontend: bool) -> Callable[[ExchangeState, dict[str, Any]], Any]:
    def handler(state: ExchangeState, body: dict[str, Any]) -> Any:
        user = _user(body)
        orders = [o for o in state.orders.values() if o.user == user and o.is_open]
        orders.sort(key=lambda o: o.oid, reverse=True)  # the venue lists newest first
        listed = [o.frontend() if frontend else o.wire() for o in orders]
        if not state.open_order_cloids:
            for order in listed:
                order.pop("cloid", None)
                order.pop("tif", None)
        return listed

    return handler


def _user_fills(state: ExchangeState, body: dict[str, Any]) -> Any:
    fills = state.account(_user(body)).fills
    return list(reversed(fills[-MAX_FILLS:]))


def _user_fills_by_time(state: ExchangeState, body: dict[str, Any]) -> Any:
    start = _ms(body.get("startTime"), "startTime")
    end = body.get("endTime")
    end = None if end is None else _ms(end, "endTime")
    fills = state.account(_user(body)).fills[-FILLS_BY_TIME_WINDOW:]
    chosen = [f for f in fills if f["time"] >= start and (end is None or f["time"] <= end)]
    return chosen[:MAX_FILLS]  # the oldest of the range first: page on from the last time


def _order_status(state: ExchangeState, body: dict[str, Any]) -> Any:
    user = _user(body)
    ref = body.get("oid")
    if isinstance(ref, str) and _CLOID.match(ref):
        oid = state.by_cloid.get((user, ref.lower()), -1)
    elif isinstance(ref, int) and not isinstance(ref, bool):
        oid = ref
    else:
        raise BadRequest(f"orderStatus: oid must be an integer or a cloid, got {ref!r}")
    order = state.orders.get(oid)
    if order is None or order.user != user:
        return {"status": "unknownOid"}
    return {
        "status": "order",
        "order": {
            "order": order.frontend(),
            "status": order.status,
            "statusTimestamp": order.status_ts,
        },
    }


_HANDLERS: dict[str, Callable[[ExchangeState, dict[str, Any]], Any]] = {
    "meta": _meta,
    "metaAndAssetCtxs": _meta_and_ctxs,
    "allMids": _all_mids,
    "l2Book": _l2_book,
    "candleSnapshot": _candles,
    "clearinghouseState": _clearinghouse,
    "openOrders": _open_orders(frontend=False),
    "frontendOpenOrders": _open_orders(frontend=True),
    "userFills": _user_fills,
    "userFillsByTime": _user_fills_by_time,
    "orderStatus": _order_status,
}


def handle_info(state: ExchangeState, body: Any) -> Any:
    """The reply to one info request; ``BadRequest`` (HTTP 422) for unknown or malformed ones."""
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise BadRequest("body must be an object with a type")
    handler = _HANDLERS.get(body["type"])
    if handler is None:
        raise BadRequest(f"unknown info type {body['type']!r}")
    with state.lock:
        return handler(state, body)

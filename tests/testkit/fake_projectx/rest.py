"""The REST endpoints of the fake ProjectX Gateway (``POST /api/...``), one handler each.

Request fields and reply shapes follow gateway.docs.projectx.com/docs/api-reference: account
search, contract search / searchById / available, history retrieveBars, order place / cancel /
modify / search / searchOpen, position searchOpen / closeContract / partialCloseContract,
trade search. A handler gets the session's user name and the JSON body and returns the reply;
a malformed field raises ``BadField`` (HTTP 400, ASP.NET Core's validation problem shape), a
refusal raises ``Refused`` (HTTP 200 with ``success: false``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from .state import VenueState
from .wire import BarUnit, fail, iso, num, ok, parse_time

__all__ = ["HANDLERS", "MAX_BARS", "BadField", "Handler"]

#: retrieve-bars: "The maximum number of bars that can be retrieved in a single request is 20,000."
MAX_BARS = 20_000

Handler = Callable[[VenueState, str, dict[str, Any]], dict[str, Any]]


class BadField(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def problem(self) -> dict[str, Any]:
        return {
            "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
            "title": "One or more validation errors occurred.",
            "status": 400,
            "errors": {self.field: [self.message]},
        }


def _int(body: dict[str, Any], field: str, required: bool = True) -> int | None:
    value = body.get(field)
    if value is None:
        if required:
            raise BadField(field, f"The {field} field is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadField(field, f"{field} must be an integer, got {value!r}")
    return value


def _req_int(body: dict[str, Any], field: str) -> int:
    value = _int(body, field)
    assert value is not None
    return value


def _dec(body: dict[str, Any], field: str) -> Decimal | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadField(field, f"{field} must be a number, got {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise BadField(field, f"{field} must be a number, got {value!r}") from None


def _bool(body: dict[str, Any], field: str) -> bool:
    value = body.get(field)
    if not isinstance(value, bool):
        raise BadField(field, f"{field} must be true or false, got {value!r}")
    return value


def _str(body: dict[str, Any], field: str, required: bool = True) -> str | None:
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadField(field, f"{field} must be a string, got {value!r}")
    return value


def _time(body: dict[str, Any], field: str, required: bool = True) -> float | None:
    value = body.get(field)
    if value is None and not required:
        return None
    try:
        return parse_time(value, field)
    except ValueError as exc:
        raise BadField(field, str(exc)) from None


# ---------------------------------------------------------------------- accounts, contracts


def account_search(state: VenueState, user: str, body: dict[str, Any]) -> dict[str, Any]:
    only_active = _bool(body, "onlyActiveAccounts")
    with state.lock:
        accounts = [
            a.wire()
            for a in state.accounts.values()
            if a.user == user and (a.active or not only_active)
        ]
    return ok(accounts=accounts)


def contract_search(state: VenueState, user: str, body: dict[str, Any]) -> dict[str, Any]:
    _bool(body, "live")
    text = (_str(body, "searchText") or "").upper()
    with state.lock:
        if state.search_only and not text:
            return ok(contracts=[])
        found = [
            c.wire()
            for c in state.contracts.values()
            if text in c.name.upper()
            or text in c.symbol_id.upper()
            or text in c.description.upper()
        ]
    return ok(contracts=found[:20] if state.search_only else found)


def contract_search_by_id(state: VenueState, user: str, body: dict[str, Any]) -> dict[str, Any]:
    contract_id = _str(body, "contractId")
    with state.lock:
        spec = state.contracts.get(contract_id or "")
    # The docs' revisions differ: search-contracts-by-id shows a "contracts" list, later
    # revisions a single "contract"; both are sent so either reading works.
    found = [] if spec is None else [spec.wire()]
    return ok(contracts=found, contract=found[0] if found else None)


def contract_available(state: VenueState, user: str, body: dict[str, Any]) -> dict[str, Any]:
    _bool(body, "live")
    with state.lock:
        return ok(contracts=[c.wire() for c in state.contracts.values() if c.active])


def retrieve_bars(state: VenueState, user: str, body: dict[str, Any]) -> dict[str, Any]:
    contract_id = _str(body, "contractId")
    _bool(body, "live")
    start, end = _time(body, "startTime"), _time(body, "endTime")
    unit = _req_int(body, "unit")
    if unit not in BarUnit._value2member_map_:
        raise BadField("unit", f"unit must be 1-6 (second..month), got {unit}")
    unit_number = _req_int(body, "unitNumber")
    limit = _req_int(body, "limit")
    _bool(body, "includePartialBar")
    if not 0 < limit <= MAX_BARS:
        raise BadField("limit", f"limit must be 1..{MAX_BARS}, got {limit}")
    assert start is not None
    assert end is not None
    with state.lock:
        state.contract(contract_id)
        stored = state.bars.get((contract_id or "", unit, unit_number), [])
        picked = [b for b in stored if start <= b["t"] <= end]
    newest_first = sorted(picked, key=lambda b: b["t"], reverse=True)[:limit]
    return ok(bars=[_bar_wire(b) for b in newest_first])


def _bar_wire(bar: dict[str, Any]) -> dict[str, Any]:
    return {
        "t": iso(bar["t"]),
        "o": num(bar["o"]),
        "h": num(bar["h"]),
        "l": num(bar["l"]),
        "c": num(bar["c"]),
        "v": int(bar["v"]),
    }


# ---------------------------------------------------------------------- orders


def order_place(state: VenueState, user: str, body: dict[str, Any]) -> dict[str, Any]:
    account_id = _req_int(body, "accountId")
    contract_id = _str(body, "contractId")
    type_ = _req_int(body, "type")
    side = _req_int(body, "side")
    size = _req_int(body, "size")
    limit_price, stop_price = _dec(body, "limitPrice"), _dec(body, "stopPrice")
    custom_tag = _str(body, "customTag", required=False)
    for bracket in ("stopLossBracket", "takeProfitBracket"):
        if body.get(bracket) is not None:
            raise BadField(bracket, f"{bracket} is not simulated by the fake ProjectX")
    with state.lock:
        account = state.account_of(user, account_id)
        refusal = state.refusals_naming_orders.pop(0) if state.refusals_naming_orders else None
        if refusal is not None and not refusal[2]:  # refused and never created
            return fail(refusal[0], refusal[1], orderId=state.next_id("order"))
        order = state.place(
            account, contract_id, type_, side, size, limit_price, stop_price, custom_tag, "api"
        )
    if refusal is not None:  # refused, yet the order was created and works
        return fail(refusal[0], refusal[1], orderId=order.id)
    return ok(orderId=order.id)


def order_cancel(state: VenueState, user: str, body: dict[str, Any]) -> dict[str, Any]:
    account_id, order_id = _req_int(body, "accountId"), _req_int(body, "orderId")
    with state.lock:
        state.cancel(state.account_of(user, account_id), order_id)
    return ok()


def order_modify(state: VenueState, user: str, body: dict[str, Any]) -> dict[str, Any]:
    account_id, order_id = _req_int(body, "accountId"), _req_int(body, "orderId")
    size = _int(body, "size", required=False)
    limit_price, stop_price = _dec(body, "limitPrice"), _dec(body, "stopPrice")
    if body.get("trailPrice") is not None:
        raise BadField("trailPrice", "trailing stops are not simulated by the fake ProjectX")
    with state.lock:
        state.modify(state.account_of(user, account_id), order_id, size, limit_price, stop_price)
    return ok()


def _search(
    state: VenueState,
    user: str,
    body: dict[str, Any],
    key: str,
    rows: Callable[..., Iterable[Any]],
    window: bool,
) -> dict[str, Any]:
    """``{key: [row.wire()...]}`` of the caller's account: ``rows(account id)``, or with
    ``window`` ``rows(account id, startTimestamp, endTimestamp or None)``."""
    account_id = _req_int(body, "accountId")
    span: tuple[Any, ...] = ()
    if window:
        start = _time(body, "startTimestamp")
        assert start is not None
        span = (start, _time(body, "endTimestamp", required=False))
    with state.lock:
        account = state.account_of(user, account_id)
        return ok(**{key: [row.wire() for row in rows(account.id, *span)]})


def order_search(state: VenueState, user: str, body: dict[str, Any]) -> dict[str, Any]:
    return _search(state, user, body, "orders", state.orders_between, window=True)


def order_search_open(state: VenueState, user: str, body: dict[str, Any]) -> dict[str, Any]:
    return _search(state, user, body, "orders", state.open_orders, window=False)


# ---------------------------------------------------------------------- positions, trades


def position_search_open(state: VenueState, user: str, body: dict[str, Any]) -> dict[str, Any]:
    return _search(state, user, body, "positions", state.open_positions, window=False)


def position_close(state: VenueState, user: str, body: dict[str, Any]) -> dict[str, Any]:
    account_id = _req_int(body, "accountId")
    contract_id = _str(body, "contractId")
    with state.lock:
        state.close_position(state.account_of(user, account_id), contract_id, None)
    return ok()


def position_partial_close(state: VenueState, user: str, body: dict[str, Any]) -> dict[str, Any]:
    account_id = _req_int(body, "accountId")
    contract_id = _str(body, "contractId")
    size = _req_int(body, "size")
    with state.lock:
        state.close_position(state.account_of(user, account_id), contract_id, size)
    return ok()


def trade_search(state: VenueState, user: str, body: dict[str, Any]) -> dict[str, Any]:
    return _search(state, user, body, "trades", state.trades_between, window=True)


#: lower-cased path → handler (ASP.NET routes are case-insensitive: the docs spell both
#: ``/api/Order/place`` and ``/api/order/place``)
HANDLERS: dict[str, Handler] = {
    "/api/account/search": account_search,
    "/api/contract/search": contract_search,
    "/api/contract/searchbyid": contract_search_by_id,
    "/api/contract/available": contract_available,
    "/api/history/retrievebars": retrieve_bars,
    "/api/order/place": order_place,
    "/api/order/cancel": order_cancel,
    "/api/order/modify": order_modify,
    "/api/order/search": order_search,
    "/api/order/searchopen": order_search_open,
    "/api/position/searchopen": position_search_open,
    "/api/position/closecontract": position_close,
    "/api/position/partialclosecontract": position_partial_close,
    "/api/trade/search": trade_search,
}

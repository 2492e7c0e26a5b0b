"""ProjectX Gateway JSON → the records of ``schemas.py``.

``parse_*`` functions turn one JSON object into a record and raise ``ProjectXPayloadError``
naming the field that is wrong. ``parse_orders`` reads an order list one order at a time: an
order whose status the gateway does not document is left out (``OrderList.unreadable``), so
the other orders are still read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from typing import Any, TypeVar

from algotrade.venues.projectx.errors import ProjectXPayloadError, UnknownOrderStatus
from algotrade.venues.projectx.schemas import (
    Account,
    Bar,
    Contract,
    DepthUpdate,
    DomType,
    MarketTrade,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    PositionType,
    Quote,
    Trade,
    TradeLogType,
)

__all__ = [
    "OrderList",
    "parse_account",
    "parse_bar",
    "parse_contract",
    "parse_depth",
    "parse_list",
    "parse_market_trade",
    "parse_order",
    "parse_orders",
    "parse_position",
    "parse_quote",
    "parse_time",
    "parse_trade",
    "to_decimal",
]

_T = TypeVar("_T")
_E = TypeVar("_E", bound=IntEnum)


def _get(raw: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in raw:
        raise ProjectXPayloadError(f"{what}: field '{key}' is missing")
    return raw[key]


def _int(raw: Mapping[str, Any], key: str, what: str) -> int:
    value = _get(raw, key, what)
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        raise ProjectXPayloadError(f"{what}: '{key}' must be an integer, got {value!r}")
    if value != int(value):
        raise ProjectXPayloadError(f"{what}: '{key}' must be an integer, got {value!r}")
    return int(value)


def _opt_int(raw: Mapping[str, Any], key: str, what: str) -> int | None:
    return None if raw.get(key) is None else _int(raw, key, what)


def _str(raw: Mapping[str, Any], key: str, what: str) -> str:
    value = _get(raw, key, what)
    if not isinstance(value, str):
        raise ProjectXPayloadError(f"{what}: '{key}' must be a string, got {value!r}")
    return value


def _opt_str(raw: Mapping[str, Any], key: str, what: str) -> str | None:
    return None if raw.get(key) is None else _str(raw, key, what)


def _bool(raw: Mapping[str, Any], key: str, what: str) -> bool:
    value = _get(raw, key, what)
    if not isinstance(value, bool):
        raise ProjectXPayloadError(f"{what}: '{key}' must be true or false, got {value!r}")
    return value


def to_decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool):
        raise ProjectXPayloadError(f"{what} must be a number, got {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float | str):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            pass
    raise ProjectXPayloadError(f"{what} must be a number, got {value!r}")


def _dec(raw: Mapping[str, Any], key: str, what: str) -> Decimal:
    return to_decimal(_get(raw, key, what), f"{what}: '{key}'")


def _opt_dec(raw: Mapping[str, Any], key: str, what: str) -> Decimal | None:
    return None if raw.get(key) is None else _dec(raw, key, what)


def parse_time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise ProjectXPayloadError(f"{what} must be an ISO 8601 time, got {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # .NET writes 7 fractional digits; Python 3.11 accepts at most 6.
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        tail = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{tail}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ProjectXPayloadError(f"{what} is not an ISO 8601 time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _time(raw: Mapping[str, Any], key: str, what: str) -> datetime:
    return parse_time(_get(raw, key, what), f"{what}: '{key}'")


def _opt_time(raw: Mapping[str, Any], key: str, what: str) -> datetime | None:
    return None if raw.get(key) is None else _time(raw, key, what)


def _enum(enum: type[_E], raw: Mapping[str, Any], key: str, what: str) -> _E:
    value = _int(raw, key, what)
    try:
        return enum(value)
    except ValueError:
        raise ProjectXPayloadError(
            f"{what}: '{key}' = {value} is not a known {enum.__name__}"
        ) from None


def _object(raw: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ProjectXPayloadError(f"{what} must be a JSON object, got {type(raw).__name__}")
    return raw


def parse_account(raw: Any) -> Account:
    r = _object(raw, "account")
    w = "account"
    simulated = r.get("simulated")
    return Account(
        id=_int(r, "id", w),
        name=_str(r, "name", w),
        balance=_opt_dec(r, "balance", w),
        can_trade=_bool(r, "canTrade", w),
        is_visible=bool(r.get("isVisible", True)),
        simulated=simulated if isinstance(simulated, bool) else None,
    )


def parse_contract(raw: Any) -> Contract:
    r = _object(raw, "contract")
    w = f"contract {r.get('id', '?')}"
    contract = Contract(
        id=_str(r, "id", w),
        name=_str(r, "name", w),
        description=str(r.get("description") or ""),
        tick_size=_dec(r, "tickSize", w),
        tick_value=_dec(r, "tickValue", w),
        active_contract=bool(r.get("activeContract", True)),
        symbol_id=_opt_str(r, "symbolId", w),
    )
    if contract.tick_size <= 0 or contract.tick_value <= 0:
        raise ProjectXPayloadError(f"{w}: tickSize and tickValue must be positive")
    return contract


def parse_bar(raw: Any) -> Bar:
    r = _object(raw, "bar")
    w = "bar"
    return Bar(
        t=_time(r, "t", w),
        o=_dec(r, "o", w),
        h=_dec(r, "h", w),
        l=_dec(r, "l", w),
        c=_dec(r, "c", w),
        v=_int(r, "v", w),
    )


def parse_order(raw: Any) -> Order:
    """One order; ``UnknownOrderStatus`` when its status is a value the gateway does not
    document (the order can then be left out of a list without losing the others)."""
    r = _object(raw, "order")
    w = f"order {r.get('id', '?')}"
    order_id = _int(r, "id", w)
    status = _int(r, "status", w)
    if status not in OrderStatus._value2member_map_:
        contract = r.get("contractId")
        raise UnknownOrderStatus(
            f"{w}: 'status' = {status} is not an order status the gateway documents "
            f"({min(OrderStatus)}-{max(OrderStatus)})",
            order_id=order_id,
            contract_id=contract if isinstance(contract, str) else None,
            value=status,
        )
    return Order(
        id=order_id,
        account_id=_int(r, "accountId", w),
        contract_id=_str(r, "contractId", w),
        creation_timestamp=_time(r, "creationTimestamp", w),
        update_timestamp=_opt_time(r, "updateTimestamp", w),
        status=OrderStatus(status),
        type=_enum(OrderType, r, "type", w),
        side=_enum(OrderSide, r, "side", w),
        size=_int(r, "size", w),
        limit_price=_opt_dec(r, "limitPrice", w),
        stop_price=_opt_dec(r, "stopPrice", w),
        fill_volume=_opt_int(r, "fillVolume", w) or 0,
        filled_price=_opt_dec(r, "filledPrice", w),
        custom_tag=_opt_str(r, "customTag", w),
        symbol_id=_opt_str(r, "symbolId", w),
    )


def parse_position(raw: Any) -> Position:
    r = _object(raw, "position")
    w = f"position {r.get('id', '?')}"
    return Position(
        id=_int(r, "id", w),
        account_id=_int(r, "accountId", w),
        contract_id=_str(r, "contractId", w),
        creation_timestamp=_time(r, "creationTimestamp", w),
        type=_enum(PositionType, r, "type", w),
        size=_int(r, "size", w),
        average_price=_dec(r, "averagePrice", w),
    )


def parse_trade(raw: Any) -> Trade:
    r = _object(raw, "trade")
    w = f"trade {r.get('id', '?')}"
    return Trade(
        id=_int(r, "id", w),
        account_id=_int(r, "accountId", w),
        contract_id=_str(r, "contractId", w),
        creation_timestamp=_time(r, "creationTimestamp", w),
        price=_dec(r, "price", w),
        profit_and_loss=_opt_dec(r, "profitAndLoss", w),
        fees=_opt_dec(r, "fees", w) or Decimal(0),
        side=_enum(OrderSide, r, "side", w),
        size=_int(r, "size", w),
        voided=bool(r.get("voided", False)),
        order_id=_int(r, "orderId", w),
    )


def parse_quote(contract_id: str, raw: Any) -> Quote:
    r = _object(raw, "quote")
    w = f"quote {contract_id}"
    return Quote(
        contract_id=contract_id,
        symbol=_opt_str(r, "symbol", w),
        symbol_name=_opt_str(r, "symbolName", w),
        last_price=_opt_dec(r, "lastPrice", w),
        best_bid=_opt_dec(r, "bestBid", w),
        best_ask=_opt_dec(r, "bestAsk", w),
        change=_opt_dec(r, "change", w),
        change_percent=_opt_dec(r, "changePercent", w),
        open=_opt_dec(r, "open", w),
        high=_opt_dec(r, "high", w),
        low=_opt_dec(r, "low", w),
        volume=_opt_int(r, "volume", w),
        last_updated=_opt_time(r, "lastUpdated", w),
        timestamp=_opt_time(r, "timestamp", w),
    )


def parse_market_trade(contract_id: str, raw: Any) -> MarketTrade:
    r = _object(raw, "market trade")
    w = f"market trade {contract_id}"
    return MarketTrade(
        contract_id=contract_id,
        symbol_id=_opt_str(r, "symbolId", w),
        price=_dec(r, "price", w),
        timestamp=_opt_time(r, "timestamp", w),
        type=_enum(TradeLogType, r, "type", w),
        volume=_int(r, "volume", w),
    )


def parse_depth(contract_id: str, raw: Any) -> DepthUpdate:
    r = _object(raw, "depth")
    w = f"depth {contract_id}"
    return DepthUpdate(
        contract_id=contract_id,
        timestamp=_opt_time(r, "timestamp", w),
        type=_enum(DomType, r, "type", w),
        price=_dec(r, "price", w),
        volume=_int(r, "volume", w),
        current_volume=_opt_int(r, "currentVolume", w),
    )


def _items(raw: Any, key: str, what: str) -> list[Any]:
    items = _object(raw, what).get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise ProjectXPayloadError(f"{what}: '{key}' must be a list, got {type(items).__name__}")
    return items


def parse_list(raw: Any, key: str, parse: Callable[[Any], _T], what: str) -> list[_T]:
    """``raw[key]`` (a list of objects) parsed one by one; a missing/null list is empty."""
    return [parse(item) for item in _items(raw, key, what)]


class OrderList(list[Order]):
    """The orders of an ``Order/search``/``searchOpen`` reply. ``unreadable``: the orders left
    out because their status is not documented (each names the order id and the value)."""

    unreadable: tuple[UnknownOrderStatus, ...] = ()


def parse_orders(raw: Any, what: str) -> OrderList:
    """``raw["orders"]``: an order with an undocumented status is left out (and listed in
    ``unreadable``), never the whole reply; any other fault still fails the reply."""
    orders, unreadable = OrderList(), []
    for item in _items(raw, "orders", what):
        try:
            orders.append(parse_order(item))
        except UnknownOrderStatus as exc:
            unreadable.append(exc)
    orders.unreadable = tuple(unreadable)
    return orders

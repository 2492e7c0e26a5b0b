"""``ProjectXHttp``: every ProjectX Gateway REST endpoint we use, returning typed records.

Endpoints and bodies follow the gateway's API reference (all ``POST`` with a JSON body):
``Account/search``, ``Contract/search``, ``Contract/searchById``, ``History/retrieveBars``,
``Order/place|cancel|modify|search|searchOpen``, ``Position/searchOpen|closeContract|
partialCloseContract``, ``Trade/search``. Transport, auth, rate limits and retries live in
``GatewayTransport``.

Every order we place carries our client order id as ``customTag`` (the gateway requires it to
be unique per account), so an order whose placement timed out is found again by that tag.
An order listed with a status the gateway does not document is left out of the list (logged,
and kept in ``OrderList.unreadable`` for the caller to report), never the whole reply.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from algotrade.core.errors import InputError
from algotrade.venues.live.lifecycle import AsyncClosing
from algotrade.venues.projectx.errors import ProjectXPayloadError
from algotrade.venues.projectx.payloads import (
    OrderList,
    parse_account,
    parse_bar,
    parse_contract,
    parse_list,
    parse_orders,
    parse_position,
    parse_trade,
)
from algotrade.venues.projectx.schemas import (
    Account,
    Bar,
    BarUnit,
    Contract,
    OrderSide,
    OrderType,
    Position,
    Trade,
)
from algotrade.venues.projectx.transport import BARS_PATH, GatewayTransport, Kind

__all__ = ["Bracket", "ProjectXHttp", "iso_utc"]

MAX_BARS = 20_000  # "The maximum number of bars that can be retrieved in a single request"


@dataclass(frozen=True, slots=True)
class Bracket:
    """A stop-loss or take-profit bracket attached to ``Order/place``: ``ticks`` away, as
    an order of ``type``."""

    ticks: int
    type: OrderType

    def to_json(self) -> dict[str, int]:
        return {"ticks": self.ticks, "type": int(self.type)}


_log = logging.getLogger("algotrade.venues.projectx")


def _orders(reply: Any, what: str) -> OrderList:
    orders = parse_orders(reply, what)
    for problem in orders.unreadable:
        _log.error("projectx %s: left out %s", what, problem)
    return orders


def iso_utc(moment: datetime) -> str:
    """A timestamp as the gateway's examples write it (ISO 8601, UTC, ``Z``)."""
    if moment.tzinfo is None:
        raise InputError(f"timestamp {moment.isoformat()} has no timezone (expected UTC-aware)")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InputError(f"{name} must be a positive whole number of contracts, got {value!r}")
    return value


def _price(name: str, value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise InputError(f"{name} must be a positive Decimal, got {value!r}")
    return value


class ProjectXHttp(AsyncClosing):
    """Typed REST calls over one ``GatewayTransport`` (shared with the realtime hubs, which
    take their tokens from it)."""

    def __init__(self, transport: GatewayTransport) -> None:
        self.transport = transport

    async def start(self) -> None:
        await self.transport.start()

    async def close(self) -> None:
        await self.transport.close()

    async def login(self) -> None:
        """Log in now (otherwise the first request does)."""
        await self.transport.token()

    # ------------------------------------------------------------------ accounts, contracts

    async def search_accounts(self, *, only_active: bool = True) -> list[Account]:
        reply = await self._read("/api/Account/search", {"onlyActiveAccounts": only_active})
        return parse_list(reply, "accounts", parse_account, "Account/search")

    async def search_contracts(self, search_text: str, *, live: bool = False) -> list[Contract]:
        reply = await self._read("/api/Contract/search", {"live": live, "searchText": search_text})
        return parse_list(reply, "contracts", parse_contract, "Contract/search")

    async def contract_by_id(self, contract_id: str) -> Contract:
        reply = await self._read("/api/Contract/searchById", {"contractId": contract_id})
        raw = reply.get("contract")
        if raw is None:
            # An earlier revision of the docs answered with a list, "contracts": [{...}].
            listed = reply.get("contracts")
            if isinstance(listed, list):
                raw = next((c for c in listed if isinstance(c, dict)), None)
        if raw is None:
            raise ProjectXPayloadError(f"Contract/searchById: no contract {contract_id!r}")
        return parse_contract(raw)

    async def retrieve_bars(
        self,
        contract_id: str,
        *,
        start: datetime,
        end: datetime,
        unit: BarUnit,
        unit_number: int = 1,
        limit: int = MAX_BARS,
        live: bool = False,
        include_partial_bar: bool = False,
    ) -> list[Bar]:
        """Bars as the gateway returns them (newest first in its examples); not re-sorted."""
        if not 0 < limit <= MAX_BARS:
            raise InputError(f"limit must be between 1 and {MAX_BARS}, got {limit}")
        body = {
            "contractId": contract_id,
            "live": live,
            "startTime": iso_utc(start),
            "endTime": iso_utc(end),
            "unit": int(unit),
            "unitNumber": _positive_int("unit_number", unit_number),
            "limit": limit,
            "includePartialBar": include_partial_bar,
        }
        reply = await self._read(BARS_PATH, body)
        return parse_list(reply, "bars", parse_bar, "History/retrieveBars")

    # ------------------------------------------------------------------ orders

    async def place_order(
        self,
        *,
        account_id: int,
        contract_id: str,
        type: OrderType,
        side: OrderSide,
        size: int,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        trail_price: Decimal | None = None,
        custom_tag: str | None = None,
        stop_loss_bracket: Bracket | None = None,
        take_profit_bracket: Bracket | None = None,
    ) -> int:
        """Place an order; the gateway's ``orderId``."""
        if type is OrderType.LIMIT and limit_price is None:
            raise InputError("limit_price is required for a limit order")
        if type in (OrderType.STOP, OrderType.STOP_LIMIT) and stop_price is None:
            raise InputError("stop_price is required for a stop order")
        if type is OrderType.TRAILING_STOP and trail_price is None:
            raise InputError("trail_price is required for a trailing stop order")
        body: dict[str, Any] = {
            "accountId": account_id,
            "contractId": contract_id,
            "type": int(type),
            "side": int(side),
            "size": _positive_int("size", size),
            "limitPrice": _price("limit_price", limit_price),
            "stopPrice": _price("stop_price", stop_price),
            "trailPrice": _price("trail_price", trail_price),
            "customTag": custom_tag,
        }
        if stop_loss_bracket is not None:
            body["stopLossBracket"] = stop_loss_bracket.to_json()
        if take_profit_bracket is not None:
            body["takeProfitBracket"] = take_profit_bracket.to_json()
        reply = await self._act("/api/Order/place", body)
        order_id = reply.get("orderId")
        if not isinstance(order_id, int) or isinstance(order_id, bool):
            raise ProjectXPayloadError(f"Order/place: 'orderId' is not an integer: {order_id!r}")
        return order_id

    async def cancel_order(self, *, account_id: int, order_id: int) -> None:
        await self._act("/api/Order/cancel", {"accountId": account_id, "orderId": order_id})

    async def modify_order(
        self,
        *,
        account_id: int,
        order_id: int,
        size: int | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
        trail_price: Decimal | None = None,
    ) -> None:
        body = {
            "accountId": account_id,
            "orderId": order_id,
            "size": None if size is None else _positive_int("size", size),
            "limitPrice": _price("limit_price", limit_price),
            "stopPrice": _price("stop_price", stop_price),
            "trailPrice": _price("trail_price", trail_price),
        }
        await self._act("/api/Order/modify", body)

    async def search_orders(
        self, *, account_id: int, start: datetime, end: datetime | None = None
    ) -> OrderList:
        body = {
            "accountId": account_id,
            "startTimestamp": iso_utc(start),
            "endTimestamp": None if end is None else iso_utc(end),
        }
        return _orders(await self._read("/api/Order/search", body), "Order/search")

    async def search_open_orders(self, *, account_id: int) -> OrderList:
        reply = await self._read("/api/Order/searchOpen", {"accountId": account_id})
        return _orders(reply, "Order/searchOpen")

    # ------------------------------------------------------------------ positions, trades

    async def search_open_positions(self, *, account_id: int) -> list[Position]:
        reply = await self._read("/api/Position/searchOpen", {"accountId": account_id})
        return parse_list(reply, "positions", parse_position, "Position/searchOpen")

    async def close_position(self, *, account_id: int, contract_id: str) -> None:
        await self._act(
            "/api/Position/closeContract", {"accountId": account_id, "contractId": contract_id}
        )

    async def partial_close_position(self, *, account_id: int, contract_id: str, size: int) -> None:
        body = {
            "accountId": account_id,
            "contractId": contract_id,
            "size": _positive_int("size", size),
        }
        await self._act("/api/Position/partialCloseContract", body)

    async def search_trades(
        self, *, account_id: int, start: datetime, end: datetime | None = None
    ) -> list[Trade]:
        body = {
            "accountId": account_id,
            "startTimestamp": iso_utc(start),
            "endTimestamp": None if end is None else iso_utc(end),
        }
        reply = await self._read("/api/Trade/search", body)
        return parse_list(reply, "trades", parse_trade, "Trade/search")

    # ------------------------------------------------------------------ internals

    async def _read(self, path: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        return await self.transport.call(path, body, kind=Kind.READ)

    async def _act(self, path: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        return await self.transport.call(path, body, kind=Kind.ACTION)

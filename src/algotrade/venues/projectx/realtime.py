"""The gateway's two SignalR hubs with typed callbacks.

User hub (``user_hub_url``): ``SubscribeAccounts()``, ``SubscribeOrders(accountId)``,
``SubscribePositions(accountId)``, ``SubscribeTrades(accountId)``; events ``GatewayUserAccount``,
``GatewayUserOrder``, ``GatewayUserPosition``, ``GatewayUserTrade``.

Market hub (``market_hub_url``): ``SubscribeContractQuotes|Trades|MarketDepth(contractId)`` and
their ``Unsubscribe…`` twins; events ``GatewayQuote``, ``GatewayTrade``, ``GatewayDepth``, each
invoked with ``(contractId, data)``.

A user-hub event's argument is the record itself; an ``{"action": …, "data": {…}}`` wrapper and
lists of records are accepted too (the gateway's payload pages show both styles). A payload that
cannot be parsed is logged and dropped: one bad message never stops the stream.

Gap fill: events sent while a hub was disconnected are not replayed. After every reconnect (and
resubscription) ``on_resync`` is awaited: the owner re-reads open orders, positions and trades
over REST (``ProjectXHttp.search_open_orders`` / ``search_open_positions`` / ``search_trades``).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from algotrade.venues.projectx.config import ProjectXConfig
from algotrade.venues.projectx.errors import ProjectXPayloadError, UnknownOrderStatus
from algotrade.venues.projectx.hub import ClientFactory, Handler, HubConnection, Invocation
from algotrade.venues.projectx.payloads import (
    parse_account,
    parse_depth,
    parse_market_trade,
    parse_order,
    parse_position,
    parse_quote,
    parse_trade,
)
from algotrade.venues.projectx.schemas import (
    Account,
    DepthUpdate,
    MarketTrade,
    Order,
    Position,
    Quote,
    Trade,
)
from algotrade.venues.projectx.transport import GatewayTransport

__all__ = ["MarketHub", "UserHub"]

_log = logging.getLogger(__name__)

_T = TypeVar("_T")
Callback = Callable[[_T], Awaitable[None] | None]
Resync = Callable[[], Awaitable[None]]


async def _deliver(callback: Callable[[Any], Any] | None, record: Any) -> None:
    if callback is None:
        return
    result = callback(record)
    if inspect.isawaitable(result):
        await result


def _records(argument: Any) -> list[Any]:
    """The record(s) in a user-hub event argument (bare, ``{action, data}``, or a list)."""
    items = argument if isinstance(argument, list) else [argument]
    out = []
    for item in items:
        wrapped = isinstance(item, Mapping) and "data" in item and "action" in item
        out.append(item["data"] if wrapped else item)
    return out


def _user_handler(
    event: str,
    parse: Callable[[Any], _T],
    callback: Callback[_T] | None,
    on_unreadable: Callable[[UnknownOrderStatus], None] | None = None,
) -> Handler:
    async def handle(arguments: list[Any]) -> None:
        if not arguments:
            _log.warning("projectx user hub: %s without arguments", event)
            return
        for raw in _records(arguments[0]):
            try:
                record = parse(raw)
            except UnknownOrderStatus as exc:
                _log.error("projectx user hub: %s dropped: %s", event, exc)
                if on_unreadable is not None:
                    on_unreadable(exc)
                continue
            except ProjectXPayloadError as exc:
                _log.warning("projectx user hub: %s dropped: %s", event, exc)
                continue
            try:
                await _deliver(callback, record)
            except Exception:
                _log.exception("projectx user hub: the %s callback failed", event)

    return handle


def _market_handler(
    event: str, parse: Callable[[str, Any], _T], callback: Callback[_T] | None
) -> Handler:
    async def handle(arguments: list[Any]) -> None:
        if len(arguments) < 2 or not isinstance(arguments[0], str):
            _log.warning("projectx market hub: %s without (contractId, data)", event)
            return
        contract_id, data = arguments[0], arguments[1]
        for raw in data if isinstance(data, list) else [data]:
            try:
                record = parse(contract_id, raw)
            except ProjectXPayloadError as exc:
                _log.warning("projectx market hub: %s dropped: %s", event, exc)
                continue
            try:
                await _deliver(callback, record)
            except Exception:
                _log.exception("projectx market hub: the %s callback failed", event)

    return handle


class UserHub:
    """Account, order, position and trade events of ``account_ids``."""

    def __init__(
        self,
        config: ProjectXConfig,
        transport: GatewayTransport,
        *,
        account_ids: Iterable[int],
        on_account: Callback[Account] | None = None,
        on_order: Callback[Order] | None = None,
        on_position: Callback[Position] | None = None,
        on_trade: Callback[Trade] | None = None,
        on_resync: Resync | None = None,
        client_factory: ClientFactory | None = None,
        on_unreadable_order: Callable[[UnknownOrderStatus], None] | None = None,
    ) -> None:
        self.account_ids: list[int] = list(dict.fromkeys(account_ids))
        handlers = {
            "GatewayUserAccount": _user_handler("GatewayUserAccount", parse_account, on_account),
            "GatewayUserOrder": _user_handler(
                "GatewayUserOrder", parse_order, on_order, on_unreadable_order
            ),
            "GatewayUserPosition": _user_handler(
                "GatewayUserPosition", parse_position, on_position
            ),
            "GatewayUserTrade": _user_handler("GatewayUserTrade", parse_trade, on_trade),
        }
        self.connection = HubConnection(
            "user",
            config.user_hub_url,
            config,
            transport,
            handlers=handlers,
            subscriptions=self._subscriptions,
            on_resync=on_resync,
            client_factory=client_factory,
        )

    def _subscriptions(self) -> list[Invocation]:
        calls: list[Invocation] = [("SubscribeAccounts", [])]
        for account_id in self.account_ids:
            calls += [
                ("SubscribeOrders", [account_id]),
                ("SubscribePositions", [account_id]),
                ("SubscribeTrades", [account_id]),
            ]
        return calls

    async def add_account(self, account_id: int) -> None:
        if account_id in self.account_ids:
            return
        self.account_ids.append(account_id)
        for method in ("SubscribeOrders", "SubscribePositions", "SubscribeTrades"):
            await self.connection.invoke(method, [account_id])

    def start(self) -> None:
        self.connection.start()

    async def stop(self) -> None:
        await self.connection.stop()

    async def wait_connected(self, timeout_s: float) -> None:
        await self.connection.wait_connected(timeout_s)

    @property
    def connected(self) -> bool:
        return self.connection.connected


class MarketHub:
    """Quotes, market trades and depth of the contracts subscribed to."""

    def __init__(
        self,
        config: ProjectXConfig,
        transport: GatewayTransport,
        *,
        on_quote: Callback[Quote] | None = None,
        on_trade: Callback[MarketTrade] | None = None,
        on_depth: Callback[DepthUpdate] | None = None,
        on_resync: Resync | None = None,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.quotes: list[str] = []
        self.trades: list[str] = []
        self.depth: list[str] = []
        handlers = {
            "GatewayQuote": _market_handler("GatewayQuote", parse_quote, on_quote),
            "GatewayTrade": _market_handler("GatewayTrade", parse_market_trade, on_trade),
            "GatewayDepth": _market_handler("GatewayDepth", parse_depth, on_depth),
        }
        self.connection = HubConnection(
            "market",
            config.market_hub_url,
            config,
            transport,
            handlers=handlers,
            subscriptions=self._subscriptions,
            on_resync=on_resync,
            client_factory=client_factory,
        )

    def _subscriptions(self) -> list[Invocation]:
        return (
            [("SubscribeContractQuotes", [c]) for c in self.quotes]
            + [("SubscribeContractTrades", [c]) for c in self.trades]
            + [("SubscribeContractMarketDepth", [c]) for c in self.depth]
        )

    async def subscribe_quotes(self, contract_id: str) -> None:
        await self._subscribe(self.quotes, "ContractQuotes", contract_id)

    async def subscribe_trades(self, contract_id: str) -> None:
        await self._subscribe(self.trades, "ContractTrades", contract_id)

    async def subscribe_depth(self, contract_id: str) -> None:
        await self._subscribe(self.depth, "ContractMarketDepth", contract_id)

    async def unsubscribe_quotes(self, contract_id: str) -> None:
        await self._unsubscribe(self.quotes, "ContractQuotes", contract_id)

    async def unsubscribe_trades(self, contract_id: str) -> None:
        await self._unsubscribe(self.trades, "ContractTrades", contract_id)

    async def unsubscribe_depth(self, contract_id: str) -> None:
        await self._unsubscribe(self.depth, "ContractMarketDepth", contract_id)

    async def _subscribe(self, subscribed: list[str], topic: str, contract_id: str) -> None:
        if contract_id not in subscribed:
            subscribed.append(contract_id)
            await self.connection.invoke(f"Subscribe{topic}", [contract_id])

    async def _unsubscribe(self, subscribed: list[str], topic: str, contract_id: str) -> None:
        if contract_id in subscribed:
            subscribed.remove(contract_id)
            await self.connection.invoke(f"Unsubscribe{topic}", [contract_id])

    def start(self) -> None:
        self.connection.start()

    async def stop(self) -> None:
        await self.connection.stop()

    async def wait_connected(self, timeout_s: float) -> None:
        await self.connection.wait_connected(timeout_s)

    @property
    def connected(self) -> bool:
        return self.connection.connected

"""In-process harness: the Bybit venue (CcxtFactory "bybit") connected to a fake Bybit, with a
recording owner and a sink that applies order events the way the engine does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from algotrade.core.events import (
    OrderAmended,
    OrderAmendRejected,
    OrderEvent,
    OrderFilled,
    OrderSide,
)
from algotrade.core.orders import Order, OrderRequest, OrderStatus, OrderType, TimeInForce
from algotrade.venues.ccxt.bybit.config import BybitConfig
from algotrade.venues.ccxt.bybit.rest import BybitRest
from algotrade.venues.ccxt.connection import CcxtConnection
from algotrade.venues.ccxt.credentials import ApiCredentials
from algotrade.venues.ccxt.execution import CcxtVenue
from algotrade.venues.ccxt.factory import bybit
from algotrade.venues.ccxt.model import PlaceRequest
from testkit.fake_bybit import FakeBybit
from testkit.venue_store import StoreAnswers

KEY, SECRET = "harness-api-key-0001", "harness-api-secret-0001"
ENV = {"ALGOTRADE_BYBIT_API_KEY": KEY, "ALGOTRADE_BYBIT_API_SECRET": SECRET}


class Owner(StoreAnswers):
    """A ``VenueOwner`` that records what the venue asks of the daemon."""

    def __init__(self, sinks: list[Sink] | None = None) -> None:
        super().__init__()
        self.sinks = sinks if sinks is not None else []
        self.blocked: dict[str, str | None] = {}
        self.alerts: list[str] = []
        self.connection: list[tuple[bool, str]] = []

    def bot_ids(self) -> list[str]:
        return [s.bot_id for s in self.sinks]

    def local_positions(self) -> dict[str, Decimal]:
        total: dict[str, Decimal] = {}
        for sink in self.sinks:
            for symbol, qty in sink.positions.items():
                if qty:
                    total[symbol] = total.get(symbol, Decimal(0)) + qty
        return total

    def set_blocked(self, symbol: str, reason: str | None) -> None:
        self.blocked[symbol] = reason

    def alert(self, message: str) -> None:
        self.alerts.append(message)

    def connection_changed(self, connected: bool, reason: str) -> None:
        self.connection.append((connected, reason))


class Sink:
    """Applies order events to the orders like ``Engine.on_order_event`` and records them."""

    def __init__(self, bot_id: str = "b1") -> None:
        self.bot_id = bot_id
        self.orders: dict[str, Order] = {}
        self.events: list[OrderEvent] = []
        self.positions: dict[str, Decimal] = {}
        self.seq = 0

    def on_order_event(self, event: OrderEvent) -> None:
        order = self.orders.get(event.client_order_id)
        self.events.append(event)
        if order is None:
            return
        if isinstance(event, OrderFilled):
            if event.trade_id in order.fill_ids:
                return
            self.positions[event.symbol] = self.positions.get(event.symbol, Decimal(0)) + (
                event.signed_qty
            )
        order.apply(event)

    def new(self, request: OrderRequest) -> Order:
        self.seq += 1
        order = Order(f"{self.bot_id}-{self.seq}", request, created_ts=time.time_ns())
        self.orders[order.client_order_id] = order
        return order

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def fills(self, coid: str | None = None) -> list[OrderFilled]:
        return [f for f in self.of(OrderFilled) if coid in (None, f.client_order_id)]

    def amendments(self) -> list[OrderAmended | OrderAmendRejected]:
        return [e for e in self.events if isinstance(e, OrderAmended | OrderAmendRejected)]


#: what the ``setup`` fixture yields
Setup = tuple[CcxtConnection, Sink, Owner]


def limit(side: str, qty: str, price: str, symbol: str = "BTCUSDT", **kw: Any) -> OrderRequest:
    return OrderRequest(
        symbol,
        OrderSide(side),
        Decimal(qty),
        OrderType.LIMIT,
        limit_price=Decimal(price),
        tif=kw.pop("tif", TimeInForce.GTC),
        **kw,
    )


def market(side: str, qty: str, symbol: str = "BTCUSDT", **kw: Any) -> OrderRequest:
    return OrderRequest(symbol, OrderSide(side), Decimal(qty), **kw)


def config(fake: FakeBybit, **changes: Any) -> dict[str, Any]:
    return {
        "network": "testnet",
        "rest_url": fake.base_url,
        "public_ws_url": fake.public_ws_url,
        "private_ws_url": fake.private_ws_url,
        "request_timeout_s": 1.0,
        "reconcile_interval_s": 0,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.2,
        **changes,
    }


async def connect(fake: FakeBybit, owner: Owner, **changes: Any) -> CcxtConnection:
    parsed = bybit.parse_config(config(fake, **changes))
    connection = await bybit.connect(parsed, owner)
    assert isinstance(connection, CcxtConnection)
    return connection


class BotSpecStub:
    def __init__(self, bot_id: str = "b1", symbol: str = "BTCUSDT", **kw: Any) -> None:
        self.bot_id = bot_id
        self.symbol = symbol
        self.interval = kw.get("interval", "1m")
        self.feed = "bybit"
        self.venue = "bybit"
        self.feed_options: dict[str, Any] = {}
        self.leverage = Decimal(kw.get("leverage", "1"))
        self.account_id = "acct"


async def venue_for(connection: CcxtConnection, sink: Sink, **kw: Any) -> CcxtVenue:
    errors: list[BaseException] = []
    venue = await connection.execution_venue(BotSpecStub(sink.bot_id, **kw), errors.append)
    assert isinstance(venue, CcxtVenue)
    venue.bind(sink)
    return venue


async def until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def resting(venue: CcxtVenue, order: Order) -> Order:
    """Submit ``order`` and wait until the venue has accepted it (resting on the book)."""
    venue.submit(order)
    await until(lambda: order.status is OrderStatus.ACCEPTED, "the resting order")
    return order


async def place_directly(
    fake: FakeBybit, link: str, side: str, qty: str, price: str | None = None
) -> str:
    """An order placed at the venue by someone else (a person, or our last run)."""
    rest = BybitRest(BybitConfig(rest_url=fake.base_url), ApiCredentials(KEY, SECRET))
    try:
        return await rest.place(
            PlaceRequest(
                "BTCUSDT",
                OrderSide(side),
                "Market" if price is None else "Limit",
                Decimal(qty),
                None if price is None else Decimal(price),
                "GTC",
                False,
                link,
            )
        )
    finally:
        await rest.close()

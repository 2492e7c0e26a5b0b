"""Helpers for the ProjectX venue tests: a connection to the fake gateway, an owner that plays
the daemon's part, and books that apply order events the way the engine does."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from algotrade.core.events import OrderEvent, OrderFilled, OrderSide
from algotrade.core.orders import Order, OrderRequest, OrderType
from algotrade.venues.live.resume import StoredOrder
from algotrade.venues.projectx.config import ProjectXCredentials
from algotrade.venues.projectx.connection import ProjectXConnection
from algotrade.venues.projectx.factory import ProjectXVenueConfig
from algotrade.venues.projectx.venue import ProjectXVenue
from testkit.fake_projectx import FakeProjectX
from testkit.projectx_trader import gateway_urls
from testkit.venue_store import StoreAnswers

ES_ID = "CON.F.US.EP.Z25"
ES = "EPZ25"
USER, KEY = "trader", "key-123"


def market(side: OrderSide, qty: str = "1", symbol: str = ES) -> OrderRequest:
    return OrderRequest(symbol, side, Decimal(qty))


def limit(side: OrderSide, price: str, qty: str = "1", **extra: Any) -> OrderRequest:
    return OrderRequest(
        ES, side, Decimal(qty), OrderType.LIMIT, limit_price=Decimal(price), **extra
    )


def config_for(venue: FakeProjectX, **changes: Any) -> ProjectXVenueConfig:
    values: dict[str, Any] = {
        **gateway_urls(venue),
        "request_timeout_s": 1.0,
        "max_retries": 1,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.2,
        "reconcile_interval_s": 0,
        "pending_claim_s": 1.0,
        "fill_wait_s": 1.0,
        "lookup_attempts": 3,
        "bar_delay_s": 0.05,
        **changes,
    }
    return ProjectXVenueConfig(**values)


async def until(check: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@dataclass
class Books:
    """One bot's side: its orders and position, changed only by order events (as the engine
    changes them), and every event seen."""

    venue: ProjectXVenue
    orders: dict[str, Order] = field(default_factory=dict)
    events: list[OrderEvent] = field(default_factory=list)
    position: Decimal = Decimal(0)
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    prefix: str = "bot-"

    def __post_init__(self) -> None:
        self.venue.bind(self)

    def on_order_event(self, event: OrderEvent) -> None:
        order = self.orders[event.client_order_id]
        if isinstance(event, OrderFilled) and event.trade_id in order.fill_ids:
            return
        order.apply(event)
        self.events.append(event)
        if isinstance(event, OrderFilled):
            self.position += event.signed_qty

    def submit(self, request: OrderRequest, created_ts: int = 1_700_000_000_000_000_000) -> Order:
        order = Order(f"{self.prefix}{next(self.seq)}", request, created_ts=created_ts)
        self.orders[order.client_order_id] = order
        self.venue.submit(order)
        return order

    def adopt(self, order: Order) -> None:
        self.orders[order.client_order_id] = order
        self.venue.adopt(order)

    def of(self, kind: type[Any], coid: str | None = None) -> list[Any]:
        return [
            e
            for e in self.events
            if isinstance(e, kind) and (coid is None or e.client_order_id == coid)
        ]


class Owner(StoreAnswers):
    """The daemon's side of a venue connection (``registry.VenueOwner``); its store: the
    newest booked trade and the ids booked within a minute of it (``latest``), the orders it
    holds open (``stored``) and every trade id it booked (``booked``, asked about: ``asked``)."""

    def __init__(
        self,
        latest: tuple[int, list[str]] = (0, []),
        stored: Sequence[StoredOrder] = (),
        booked: Sequence[str] = (),
    ) -> None:
        self.books: list[Books] = []
        self.blocked: dict[str, str] = {}
        self.block_calls: list[tuple[str, str | None]] = []
        self.alerts: list[str] = []
        self.changes: list[tuple[bool, str]] = []
        super().__init__(latest, stored, booked)

    def bot_ids(self) -> list[str]:
        return [b.venue.bot_id for b in self.books]

    def local_positions(self) -> dict[str, Decimal]:
        total: dict[str, Decimal] = {}
        for books in self.books:
            if books.position:
                symbol = books.venue.symbol
                total[symbol] = total.get(symbol, Decimal(0)) + books.position
        return total

    def set_blocked(self, symbol: str, reason: str | None) -> None:
        self.block_calls.append((symbol, reason))
        if reason is None:
            self.blocked.pop(symbol, None)
        else:
            self.blocked[symbol] = reason

    def alert(self, message: str) -> None:
        self.alerts.append(message)

    def connection_changed(self, connected: bool, reason: str) -> None:
        self.changes.append((connected, reason))


async def connect(
    venue: FakeProjectX, owner: Owner | None = None, **changes: Any
) -> ProjectXConnection:
    connection = ProjectXConnection(
        config_for(venue, **changes),
        ProjectXCredentials(USER, KEY),
        owner if owner is not None else Owner(),
        since_ns=owner.latest[0] or None if owner is not None else None,
        seen_trade_ids=owner.latest[1] if owner is not None else (),
        open_orders=owner.stored if owner is not None else (),
    )
    await connection.start()
    return connection


@contextlib.asynccontextmanager
async def connected(
    venue: FakeProjectX, owner: Owner | None = None, **changes: Any
) -> AsyncIterator[ProjectXConnection]:
    """``connect``, and stop the connection on the way out."""
    connection = await connect(venue, owner, **changes)
    try:
        yield connection
    finally:
        await connection.stop()


async def bot(
    connection: ProjectXConnection, bot_id: str = "bot", symbol: str = ES, prefix: str = "bot-"
) -> Books:
    venue = await connection.venue(bot_id, symbol)
    books = Books(venue, prefix=prefix)
    owner = connection.owner
    if isinstance(owner, Owner):
        owner.books.append(books)
    return books


def venue_position(venue: FakeProjectX, account: int, contract_id: str = ES_ID) -> int:
    for position in venue.positions(account):
        if position["contractId"] == contract_id:
            size = int(position["size"])
            return size if position["type"] == 1 else -size
    return 0

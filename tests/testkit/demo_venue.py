"""A venue defined outside the ``algotrade`` package: the example of docs/venues.md.

Importing this module registers it as ``"demo"``. A daemon process learns of it through
``ALGOTRADE_VENUE_PLUGINS=testkit.demo_venue`` (with ``tests/`` on ``PYTHONPATH``).

* feed: one bar per ``tick_seconds`` for every subscribed symbol, a deterministic zig-zag;
* execution: simulated matching (the paper venue's) on those bars, every order, amendment and
  fill also counted by the connection so ``GET /api/venues`` shows what reached the venue;
* reconciliation: counts the requests; health: the counters.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from algotrade.core.events import Bar, OrderEvent, OrderFilled
from algotrade.core.instruments import Instrument, InstrumentRegistry
from algotrade.core.orders import Order
from algotrade.core.ports import ExecutionVenue, VenueEventSink
from algotrade.venues.paper import PaperVenue, PaperVenueConfig
from algotrade.venues.registry import (
    BotFeedHandle,
    BotSpec,
    VenueConnection,
    VenueFactory,
    VenueOwner,
    register_venue,
)

NAME = "demo"
SYMBOLS = ("DEMO-BTC", "DEMO-ETH")


class DemoConfig(BaseModel):
    """The ``[venues.demo]`` settings section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tick_seconds: float = Field(default=0.05, gt=0, le=60, description="one bar per tick")
    start_price: float = Field(default=100.0, gt=0)


class DemoFactory(VenueFactory):
    def config_model(self) -> type[BaseModel]:
        return DemoConfig

    def validate_feed(self, bot: BotSpec) -> None:
        if bot.feed_options:
            raise ValueError(
                f"feed_options: the demo feed takes none (got {sorted(bot.feed_options)})"
            )
        if bot.interval not in ("1s", "1m"):
            raise ValueError(f"interval: the demo feed has 1s and 1m bars; got '{bot.interval}'")

    def validate_execution(self, bot: BotSpec) -> None:
        if bot.leverage > 5:
            raise ValueError("leverage: the demo venue allows at most 5")

    async def connect(self, config: BaseModel, owner: VenueOwner) -> VenueConnection:
        assert isinstance(config, DemoConfig)
        connection = DemoConnection(config, owner)
        connection.start()
        return connection


class DemoConnection:
    def __init__(self, config: DemoConfig, owner: VenueOwner) -> None:
        self.config = config
        self.owner = owner
        self.subscribers: dict[str, tuple[str, Callable[[Bar], None]]] = {}
        self.orders = 0
        self.fills = 0
        self.amends = 0
        self.reconciles = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick(), name="demo-venue")

    async def _tick(self) -> None:
        start = self.config.start_price
        for step in itertools.count():
            await asyncio.sleep(self.config.tick_seconds)
            close = start + (step % 10 if (step // 10) % 2 == 0 else 10 - step % 10)
            ts = time.time_ns()
            for symbol, handler in list(self.subscribers.values()):
                handler(Bar(symbol, ts, close, close + 0.5, close - 0.5, close, 1.0))

    async def stop(self, timeout: float = 5.0) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=timeout)

    def snapshot(self) -> dict[str, Any]:
        return {
            "venue": NAME,
            "network": "local",
            "account": "demo",
            "connected": self._task is not None and not self._task.done(),
            "orders": self.orders,
            "fills": self.fills,
            "amends": self.amends,
            "reconciles": self.reconciles,
            "bots": self.owner.bot_ids(),
        }

    async def reconcile(self) -> dict[str, Any]:
        self.reconciles += 1
        return self.snapshot()

    def instruments(self, symbol: str) -> list[Instrument]:
        if symbol not in SYMBOLS:
            raise ValueError(f"symbol: the demo venue has no '{symbol}' ({', '.join(SYMBOLS)})")
        return [Instrument(symbol, Decimal("0.01"), Decimal("0.001"), venue=NAME)]

    async def execution_venue(
        self, bot: BotSpec, on_error: Callable[[BaseException], None]
    ) -> ExecutionVenue:
        registry = InstrumentRegistry()
        for instrument in self.instruments(bot.symbol):
            registry.add(instrument)
        return DemoExecution(self, PaperVenue(PaperVenueConfig(), registry))

    def blocked_reason(self, bot: BotSpec) -> str | None:
        return None

    def bot_feed(self, bot: BotSpec, handler: Callable[[Bar], None]) -> BotFeedHandle:
        return DemoFeed(self, bot.bot_id, bot.symbol, handler)


class DemoFeed:
    def __init__(
        self, connection: DemoConnection, key: str, symbol: str, handler: Callable[[Bar], None]
    ) -> None:
        self._connection = connection
        self._key = key
        self._symbol = symbol
        self._handler = handler

    async def start(self, warmup: int) -> list[Bar]:
        self._connection.subscribers[self._key] = (self._symbol, self._handler)
        return []

    def stop(self) -> None:
        self._connection.subscribers.pop(self._key, None)


class DemoExecution:
    """Paper matching, with every order and fill counted at the connection."""

    name = NAME
    simulated = True

    def __init__(self, connection: DemoConnection, paper: PaperVenue) -> None:
        self._connection = connection
        self._paper = paper

    def bind(self, sink: VenueEventSink) -> None:
        self._paper.bind(_CountingSink(self._connection, sink))

    def submit(self, order: Order) -> None:
        self._connection.orders += 1
        self._paper.submit(order)

    def adopt(self, order: Order) -> None:
        self._paper.adopt(order)

    def cancel(self, client_order_id: str) -> None:
        self._paper.cancel(client_order_id)

    def amend(
        self,
        client_order_id: str,
        *,
        qty: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        """Applied by the paper matching (synchronously), counted at the connection."""
        self._connection.amends += 1
        self._paper.amend(client_order_id, qty=qty, limit_price=limit_price, stop_price=stop_price)

    def on_market(self, event: Any) -> None:
        self._paper.on_market(event)


class _CountingSink:
    def __init__(self, connection: DemoConnection, sink: VenueEventSink) -> None:
        self._connection = connection
        self._sink = sink

    def on_order_event(self, event: OrderEvent) -> None:
        if isinstance(event, OrderFilled):
            self._connection.fills += 1
        self._sink.on_order_event(event)


register_venue(NAME, DemoFactory())

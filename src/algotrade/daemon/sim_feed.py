"""Shared SIMULATED market data for bots on the ``sim`` feed.

One stream per (symbol, seed, start price, volatility, tick) produces seeded random-walk bars
and hands each bar to every bot subscribed to it, synchronously and in subscription order:
a thousand bots on one symbol cost one price path, and every bot sees identical prices.
Bars are stamped with the wall-clock time they were generated; each is a synthetic bar of the
bot's nominal interval, produced every ``tick_seconds`` (accelerated time). Nothing here is
market history, and every status and report says so.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from algotrade.core.events import Bar
from algotrade.daemon.feed_options import FeedOptions
from algotrade.daemon.supervisor import TaskSupervisor

_log = logging.getLogger("algotrade.daemon.sim")

BarHandler = Callable[[Bar], None]
# Awaited before each bar of a simulated feed: returns once the store keeps up with what the
# bots book (``ActivityWriter.keep_pace``), so simulated prices never outrun persistence.
Pace = Callable[[], Awaitable[None]]
HISTORY = 5_000  # bars kept per stream for warm-up of bots that subscribe later
SUB_STEPS = 4


class SimOptions(FeedOptions):
    """``feed_options`` of a sim bot. Frozen and hashable: it keys the shared streams."""

    seed: int = 1
    start_price: float = Field(default=100.0, gt=0)
    volatility: float = Field(default=0.002, gt=0, lt=0.5)  # std of log return per sub-step
    tick_seconds: float = Field(default=1.0, ge=0.001, le=86_400)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bools(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("expected a number")
        return value


async def no_pace() -> None:
    """The pace of a feed with no store to keep up with (tests, tools)."""


class SimStream:
    def __init__(self, symbol: str, options: SimOptions, pace: Pace = no_pace) -> None:
        self.symbol = symbol
        self.options = options
        self._pace = pace
        seed = zlib.crc32(symbol.encode()) ^ options.seed  # same seed, other symbol: other path
        self._rng = np.random.default_rng(seed)
        self._price = options.start_price
        self._last_ts = 0
        self.history: deque[Bar] = deque(maxlen=HISTORY)
        self.subscribers: dict[str, BarHandler] = {}
        self.task: asyncio.Task[None] | None = None
        self.bars_generated = 0

    def next_bar(self, ts: int) -> Bar:
        steps = self._rng.normal(0.0, self.options.volatility, SUB_STEPS)
        path = self._price * np.exp(np.cumsum(steps))
        open_ = round(self._price, 2)
        close = round(float(path[-1]), 2)
        high = round(max(open_, float(path.max())), 2)
        low = round(min(open_, float(path.min())), 2)
        volume = round(float(self._rng.lognormal(6.0, 0.5)), 4)
        self._price = max(close, 0.01)
        ts = max(ts, self._last_ts + 1)  # strictly increasing even if the clock steps back
        self._last_ts = ts
        self.bars_generated += 1
        bar = Bar(
            self.symbol, ts, open_, max(high, close), max(min(low, close), 0.01), close, volume
        )
        self.history.append(bar)
        return bar

    def dispatch(self, bar: Bar) -> None:
        for handler in list(self.subscribers.values()):
            handler(bar)  # handlers catch their own errors: one bot never stops the others

    async def run(self) -> None:
        interval = self.options.tick_seconds
        next_at = time.monotonic()
        while self.subscribers:
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                next_at = time.monotonic()  # fell behind: do not burst to catch up
                await asyncio.sleep(0)
            await self._pace()
            if not self.subscribers:
                break
            self.dispatch(self.next_bar(time.time_ns()))


class SimFeedHub:
    """Owns the sim streams; bots subscribe by id."""

    def __init__(self, supervisor: TaskSupervisor | None = None, pace: Pace = no_pace) -> None:
        """``supervisor`` runs the stream tasks (and, through ``feed_factory``, the replay
        feeds'). Without one the hub keeps a private supervisor: the tasks are still
        referenced, named and logged when they fail, and ``stop()`` still ends them. Every
        stream (and, through ``feed_factory``, every replay) awaits ``pace`` before a bar."""
        self.supervisor = supervisor or TaskSupervisor()
        self.pace = pace
        self._streams: dict[tuple[str, SimOptions], SimStream] = {}
        self._subscribed: dict[str, SimStream] = {}

    def subscribe(
        self, bot_id: str, symbol: str, options: SimOptions, handler: BarHandler, warmup: int = 0
    ) -> list[Bar]:
        """Start delivering bars to ``handler``; returns up to ``warmup`` recent bars."""
        self.unsubscribe(bot_id)
        key = (symbol, options)
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = SimStream(symbol, options, self.pace)
        if warmup > len(stream.history):  # a fresh stream: make up simulated history
            start = time.time_ns() - warmup * int(options.tick_seconds * 1e9)
            for i in range(warmup - len(stream.history)):
                stream.next_bar(start + i * int(options.tick_seconds * 1e9))
        history = list(stream.history)[-warmup:] if warmup else []
        stream.subscribers[bot_id] = handler
        self._subscribed[bot_id] = stream
        if stream.task is None or stream.task.done():
            # A stream that failed is started again by the next subscription.
            stream.task = self.supervisor.spawn(
                stream.run(),
                name=f"sim-feed:{symbol}",
                on_failure=lambda _task, _exc: _starved(stream),
            )
        return history

    def unsubscribe(self, bot_id: str) -> None:
        stream = self._subscribed.pop(bot_id, None)
        if stream is not None:
            stream.subscribers.pop(bot_id, None)

    def stream_of(self, bot_id: str) -> SimStream | None:
        return self._subscribed.get(bot_id)

    async def stop(self) -> None:
        tasks = [s.task for s in self._streams.values() if s.task and not s.task.done()]
        for stream in self._streams.values():
            stream.subscribers.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._subscribed.clear()


def _starved(stream: SimStream) -> None:
    # The supervisor logged the failure; say who it leaves without prices.
    bots = ", ".join(sorted(stream.subscribers)) or "none"
    _log.error("sim prices for %s stopped; bots without new bars: %s", stream.symbol, bots)

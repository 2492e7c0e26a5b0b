"""Live closed bars from Hyperliquid's ``candle`` channel, shared by many bots.

The closed-bar rule
-------------------
Hyperliquid pushes the *current* candle on every trade (same open time ``t``, changing
close/high/low/volume); a candle is final only once a candle with a later ``t`` exists. So:

- a bar is emitted only when its candle is closed; the forming candle is never emitted;
- candle k is closed when an update (or a ``candleSnapshot`` row) for a later open time
  arrives — the last state seen of k is final — or, for a quiet market where no later candle
  comes, when ``close_due(now_ms)`` reports that k's close time ``T`` plus a grace period has
  passed and the caller supplies the confirmed candle from ``candleSnapshot`` (``confirm``);
- bars leave strictly increasing in open time, each exactly once; an update for a candle at or
  before the last emitted one is ignored (logged at debug);
- two states of the same candle are ordered by its trade count then volume (both only grow),
  so a snapshot and a live push can be merged in either order.

Latency: a bar is delivered with the next candle's first update, or at ``T`` + grace (plus one
``candleSnapshot`` request) when the market is quiet.

``HyperliquidCandleHub`` subscribes the channel once per (coin, interval), warms bots up from
``candleSnapshot`` (closed bars only), fans each closed bar out to every bot of that pair, closes
quiet candles with a timer and, after a WebSocket reconnect, fetches the candles missed during
the gap so no bot misses a bar or gets one twice. While the WebSocket is down a stream is
"unsynced": live updates are only recorded, and nothing is emitted until a snapshot has been
merged (the reconnect hook, or the timer retrying).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from algotrade.core.events import Bar
from algotrade.venues.hyperliquid.candle_builder import (
    CandleBarBuilder,
    CandleSource,
    candles_between,
)
from algotrade.venues.hyperliquid.intervals import CANDLE_INTERVALS, INTERVAL_MS
from algotrade.venues.hyperliquid.schemas import Candle, parse
from algotrade.venues.hyperliquid.ws import HlWebSocket

__all__ = [
    "INTERVALS",
    "INTERVAL_MS",
    "MAX_WARMUP",
    "BarHandler",
    "CandleBarBuilder",
    "CandleSource",
    "HyperliquidBotFeed",
    "HyperliquidCandleHub",
]

_log = logging.getLogger("algotrade.venues.hyperliquid.data")

BarHandler = Callable[[Bar], None]

INTERVALS: tuple[str, ...] = tuple(CANDLE_INTERVALS)
_MONTH_MS = 31 * 24 * 3_600_000  # upper bound of "1M", for look-back windows only
SNAPSHOT_LIMIT = 5000  # the most recent candles the venue keeps (docs)
MAX_WARMUP = SNAPSHOT_LIMIT - 10
_STOP_TIMEOUT_S = 5.0


@dataclass(slots=True)
class _Stream:
    """One (coin, interval) channel and the bots on it."""

    coin: str
    interval: str
    builder: CandleBarBuilder
    history: deque[Bar] = field(default_factory=lambda: deque(maxlen=SNAPSHOT_LIMIT))
    handlers: dict[str, tuple[str, BarHandler]] = field(default_factory=dict)  # key → (symbol, h)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    starting: int = 0  # subscribe() calls in progress
    fetched_lookback: int = -1  # the deepest warm-up fetched so far (-1: never synced)
    next_check_ms: int = 0

    @property
    def subscription(self) -> dict[str, Any]:
        return {"type": "candle", "coin": self.coin, "interval": self.interval}

    @property
    def interval_ms(self) -> int:
        return INTERVAL_MS.get(self.interval, _MONTH_MS)


class HyperliquidCandleHub:
    """Shares one candle subscription per (coin, interval) among many bots."""

    def __init__(
        self,
        ws: HlWebSocket,
        source: CandleSource,
        *,
        grace_s: float = 2.0,
        clock: Callable[[], float] = time.time,
        tick_s: float = 0.5,
    ) -> None:
        self._ws = ws
        self._source = source
        self._grace_ms = int(grace_s * 1000)
        self._clock = clock
        self._tick_s = tick_s
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._keys: dict[str, _Stream] = {}
        self._starting_keys: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.Task[None] | None = None
        self._gap_open = False  # disconnected: the reconnect hook, not the timer, re-syncs
        self._unhooks = [
            ws.on_disconnect(self._on_disconnect),
            ws.on_reconnect(self._on_reconnect),
        ]

    def handler_count(self, coin: str, interval: str) -> int:
        stream = self._streams.get((coin, interval))
        return len(stream.handlers) if stream else 0

    async def subscribe(
        self,
        key: str,
        coin: str,
        interval: str,
        handler: BarHandler,
        warmup: int,
        *,
        symbol: str | None = None,
    ) -> list[Bar]:
        """Deliver each closed bar of (coin, interval) to ``handler`` from now on; returns up
        to ``warmup`` closed bars just before the first bar the handler will get. Bars carry
        ``symbol`` (default: the coin)."""
        if interval not in INTERVALS:
            raise ValueError(f"unsupported Hyperliquid interval {interval!r}: one of {INTERVALS}")
        if key in self._keys or key in self._starting_keys:
            raise ValueError(f"feed key {key!r} is already subscribed")
        warmup = max(0, min(warmup, MAX_WARMUP))
        pair = (coin, interval)
        stream = self._streams.get(pair)
        created = stream is None
        if stream is None:
            builder = CandleBarBuilder(coin, interval, grace_ms=self._grace_ms)
            builder.desync()  # nothing is emitted before the first snapshot is merged
            stream = self._streams[pair] = _Stream(coin, interval, builder)
        self._starting_keys.add(key)
        stream.starting += 1  # keeps the stream alive while this call awaits
        try:
            if created:
                await self._ws.subscribe(stream.subscription, self._message_handler(stream))
            async with stream.lock:
                if not stream.builder.synced or warmup > stream.fetched_lookback:
                    await self._sync(stream, lookback=max(warmup, stream.fetched_lookback, 0))
        except BaseException:
            self._starting_done(stream, key)
            if not stream.handlers and not stream.starting:
                self._drop(stream)
            raise
        self._starting_done(stream, key)
        # No await from here on: the warm-up ends exactly where live delivery begins.
        bars = list(stream.history)[-warmup:] if warmup else []
        name = symbol or coin
        stream.handlers[key] = (name, handler)
        self._keys[key] = stream
        self._ensure_timer()
        return [bar if bar.symbol == name else bar._replace(symbol=name) for bar in bars]

    def unsubscribe(self, key: str) -> None:
        """Stop delivering to ``key``; the channel is unsubscribed when no bot remains."""
        stream = self._keys.pop(key, None)
        if stream is None:
            return
        stream.handlers.pop(key, None)
        if not stream.handlers and not stream.starting:
            self._drop(stream)

    async def stop(self, timeout: float = _STOP_TIMEOUT_S) -> None:
        """Unhook from the WebSocket, unsubscribe every channel, end the timer and tasks."""
        for unhook in self._unhooks:
            unhook()
        for key in list(self._keys):
            self.unsubscribe(key)
        tasks = set(self._tasks)
        if self._timer is not None:
            self._timer.cancel()
            tasks.add(self._timer)
            self._timer = None
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # ------------------------------------------------------------------ internals

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _starting_done(self, stream: _Stream, key: str) -> None:
        stream.starting -= 1
        self._starting_keys.discard(key)

    def _drop(self, stream: _Stream) -> None:
        pair = (stream.coin, stream.interval)
        if self._streams.get(pair) is stream:
            del self._streams[pair]
            self._spawn(self._ws.unsubscribe(stream.subscription, self._message_handler(stream)))

    def _message_handler(self, stream: _Stream) -> Callable[[Any], None]:
        return _StreamHandler(self, stream)

    def _on_candle(self, stream: _Stream, data: Any) -> None:
        if self._streams.get((stream.coin, stream.interval)) is not stream:
            return  # dropped; the unsubscribe is on its way
        items = data if isinstance(data, list) else [data]
        for item in items:
            candle = parse(Candle, item, f"{stream.coin} {stream.interval} candle")
            self._publish(stream, stream.builder.update(candle))

    def _publish(self, stream: _Stream, bars: list[Bar]) -> None:
        for bar in bars:
            stream.history.append(bar)
            for key, (name, handler) in list(stream.handlers.items()):
                try:
                    handler(bar if bar.symbol == name else bar._replace(symbol=name))
                except Exception:
                    _log.exception("bar handler of %s failed on %s %s", key, name, bar.ts)

    async def _sync(self, stream: _Stream, lookback: int) -> None:
        """Fetch from the last emitted bar (or ``lookback`` bars back) to now; merge the
        snapshot into the builder and publish what it closes. Caller holds ``stream.lock``."""
        now_ms = self._now_ms()
        step = stream.interval_ms
        start = now_ms - (lookback + 2) * step
        # Never leave a gap: reach back to just after the last emitted bar (or, before any,
        # to the oldest candle not emitted yet).
        last = stream.builder.last_emitted_ms
        pending = stream.builder.oldest_pending_ms
        if last is not None:
            start = min(start, last + 1)
        elif pending is not None:
            start = min(start, pending)
        earliest = now_ms - (SNAPSHOT_LIMIT - 2) * step
        if start < earliest:
            _log.warning(
                "%s %s: gap longer than %d candles; the oldest missed bars are skipped",
                stream.coin,
                stream.interval,
                SNAPSHOT_LIMIT,
            )
            start = earliest
        candles = await candles_between(self._source, stream.coin, stream.interval, start, now_ms)
        last = stream.builder.last_emitted_ms  # again: live updates may have closed bars
        older = [c.to_bar(stream.coin) for c in candles if last is not None and c.open_ms <= last]
        newer = [c for c in candles if last is None or c.open_ms > last]
        if older and stream.history:
            first_ts = stream.history[0].ts
            head = [bar for bar in older if bar.ts < first_ts]
            if head:
                stream.history = deque([*head, *stream.history], maxlen=SNAPSHOT_LIMIT)
        stream.fetched_lookback = max(stream.fetched_lookback, lookback)
        self._publish(stream, stream.builder.confirm(newer, self._now_ms()))

    # ------------------------------------------------------------------ WebSocket hooks

    def _on_disconnect(self, at_ms: int) -> None:
        del at_ms
        self._gap_open = True
        for stream in self._streams.values():
            stream.builder.desync()

    async def _on_reconnect(self, gap_started_ms: int, reconnected_ms: int) -> None:
        streams = list(self._streams.values())
        _log.info(
            "Hyperliquid candles: filling a %.1fs gap for %d stream(s)",
            (reconnected_ms - gap_started_ms) / 1000,
            len(streams),
        )
        try:
            results = await asyncio.gather(
                *(self._resync(stream) for stream in streams), return_exceptions=True
            )
        finally:
            self._gap_open = False
        for stream, result in zip(streams, results, strict=True):
            if isinstance(result, Exception):
                _log.warning(
                    "%s %s: gap fill failed (%s); the timer retries",
                    stream.coin,
                    stream.interval,
                    result,
                )

    async def _resync(self, stream: _Stream) -> None:
        stream.builder.desync()
        async with stream.lock:
            await self._sync(stream, lookback=0)

    # ------------------------------------------------------------------ grace timer

    def _ensure_timer(self) -> None:
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(
                self._timer_loop(), name="hyperliquid-candle-timer"
            )
            self._timer.add_done_callback(_log_task_exit)

    async def _timer_loop(self) -> None:
        while self._streams:
            await asyncio.sleep(self._tick_s)
            now_ms = self._now_ms()
            for stream in list(self._streams.values()):
                if stream.lock.locked() or now_ms < stream.next_check_ms:
                    continue
                builder = stream.builder
                if not builder.synced and (self._gap_open or not self._ws.connected):
                    continue  # the reconnect hook fills the gap
                if builder.synced and builder.close_due(now_ms) is None:
                    continue
                stream.next_check_ms = now_ms + max(self._grace_ms, 1000)
                self._spawn(self._check(stream))

    async def _check(self, stream: _Stream) -> None:
        async with stream.lock:
            if self._streams.get((stream.coin, stream.interval)) is not stream:
                return
            builder = stream.builder
            if builder.synced and builder.close_due(self._now_ms()) is None:
                return  # closed meanwhile by a live update or the reconnect hook
            try:
                await self._sync(stream, lookback=0)
            except Exception as exc:
                _log.warning(
                    "%s %s: candleSnapshot for a quiet candle failed: %s",
                    stream.coin,
                    stream.interval,
                    exc,
                )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_task_exit)


class _StreamHandler:
    """The WebSocket handler of one stream; equal for the same stream, so the WebSocket can
    remove exactly the handler it was given."""

    __slots__ = ("_hub", "_stream")

    def __init__(self, hub: HyperliquidCandleHub, stream: _Stream) -> None:
        self._hub = hub
        self._stream = stream

    def __call__(self, data: Any) -> None:
        self._hub._on_candle(self._stream, data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _StreamHandler) and other._stream is self._stream

    def __hash__(self) -> int:
        return id(self._stream)

    def __repr__(self) -> str:
        return f"<candle stream {self._stream.coin} {self._stream.interval}>"


class HyperliquidBotFeed:
    """One bot's bars from the shared hub; matches the daemon's ``BotFeed`` protocol."""

    def __init__(
        self,
        hub: HyperliquidCandleHub,
        config_symbol: str,
        coin: str,
        interval: str,
        key: str,
        handler: BarHandler,
    ) -> None:
        self._hub = hub
        self._symbol = config_symbol
        self._coin = coin
        self._interval = interval
        self._key = key
        self._handler = handler

    async def start(self, warmup: int) -> list[Bar]:
        return await self._hub.subscribe(
            self._key, self._coin, self._interval, self._handler, warmup, symbol=self._symbol
        )

    def stop(self) -> None:
        self._hub.unsubscribe(self._key)


def _log_task_exit(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        _log.error("task %s died", task.get_name(), exc_info=exc)

"""Live closed bars from the venue's kline stream, shared by every bot on a (symbol, interval).

Bybit pushes the forming kline many times and the closed one with ``confirm: true``; only
closed ones become bars. Per (symbol, interval) the hub:

- subscribes the topic once, however many bots listen, and drops it with the last one;
- warms a bot up from REST (/v5/market/kline; rows whose end time has passed are closed; the
  forming one is left for the stream), and starts live delivery exactly after the last warm-up
  bar: every bar reaches every bot once, in open-time order;
- while a REST sync runs, and while the stream is down, keeps pushes aside and merges them
  with what REST returned;
- after a reconnect (and whenever a pushed bar is not the one after the last delivered),
  fetches the bars missed from REST before delivering anything newer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from algotrade.core.events import Bar
from algotrade.venues.ccxt.model import Candle
from algotrade.venues.ccxt.session import ExchangeRest, PublicStream

__all__ = ["MAX_WARMUP", "CandleBotFeed", "CandleHub"]

_log = logging.getLogger("algotrade.venues.ccxt.candles")
BarHandler = Callable[[Bar], None]
PAGE = 1000  # candles per /v5/market/kline request
MAX_WARMUP = 5000
_HISTORY = MAX_WARMUP


@dataclass(slots=True)
class _Stream:
    symbol: str
    interval: str
    length_ms: int
    history: deque[Bar] = field(default_factory=lambda: deque(maxlen=_HISTORY))
    handlers: dict[str, tuple[str, BarHandler]] = field(default_factory=dict)
    stash: dict[int, Candle] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_ms: int | None = None  # open time of the last bar delivered
    synced: bool = False
    syncing: bool = False
    fetched_lookback: int = -1
    starting: int = 0


class CandleHub:
    def __init__(
        self,
        public: PublicStream,
        rest: ExchangeRest,
        interval_ms: Mapping[str, int],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._public = public
        self._rest = rest
        self._interval_ms = dict(interval_ms)
        self._clock = clock
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._keys: dict[str, _Stream] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self.last_close: dict[str, tuple[Decimal, float]] = {}  # symbol → (close, monotonic)
        self._unhooks = [
            public.on_disconnect(self._on_disconnect),
            public.on_reconnect(self._on_reconnect),
        ]

    async def subscribe(
        self, key: str, symbol: str, interval: str, handler: BarHandler, warmup: int, *, name: str
    ) -> list[Bar]:
        """Deliver each closed bar of (symbol, interval) to ``handler`` (as ``name``); the up
        to ``warmup`` closed bars just before the first one it gets."""
        if interval not in self._interval_ms:
            raise ValueError(f"interval: no candle interval {interval!r}")
        if key in self._keys:
            raise ValueError(f"feed key {key!r} is already subscribed")
        warmup = max(0, min(warmup, MAX_WARMUP))
        pair = (symbol, interval)
        stream = self._streams.get(pair)
        created = stream is None
        if stream is None:
            stream = self._streams[pair] = _Stream(symbol, interval, self._interval_ms[interval])
        stream.starting += 1
        try:
            if created:
                await self._public.subscribe_candles(symbol, interval, _PushHandler(self, stream))
            if not self._started:
                await self._public.start()  # idempotent: one connection task
                self._started = True
            async with stream.lock:
                if not stream.synced or warmup > stream.fetched_lookback:
                    await self._sync(stream, max(warmup, stream.fetched_lookback, 0))
        except BaseException:
            stream.starting -= 1
            if not stream.handlers and not stream.starting:
                self._drop(stream)
            raise
        stream.starting -= 1
        bars = list(stream.history)[-warmup:] if warmup else []
        stream.handlers[key] = (name, handler)
        self._keys[key] = stream
        return [b if b.symbol == name else b._replace(symbol=name) for b in bars]

    def unsubscribe(self, key: str) -> None:
        stream = self._keys.pop(key, None)
        if stream is None:
            return
        stream.handlers.pop(key, None)
        if not stream.handlers and not stream.starting:
            self._drop(stream)

    async def stop(self, timeout: float = 5.0) -> None:
        for unhook in self._unhooks:
            unhook()
        for key in list(self._keys):
            self.unsubscribe(key)
        tasks = set(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
        await self._public.stop(timeout)

    def handler_count(self, symbol: str, interval: str) -> int:
        stream = self._streams.get((symbol, interval))
        return len(stream.handlers) if stream else 0

    # ------------------------------------------------------------------ internals
    def _drop(self, stream: _Stream) -> None:
        pair = (stream.symbol, stream.interval)
        if self._streams.get(pair) is stream:
            del self._streams[pair]
            self._spawn(self._public.unsubscribe_candles(stream.symbol, stream.interval))

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _on_push(self, stream: _Stream, candles: Sequence[Candle]) -> None:
        if self._streams.get((stream.symbol, stream.interval)) is not stream:
            return
        for candle in sorted(candles, key=lambda c: c.open_ms):
            self.last_close[stream.symbol] = (candle.close, time.monotonic())
            if not candle.closed:
                continue
            last = stream.last_ms
            if last is not None and candle.open_ms <= last:
                continue  # delivered already (REST got there first)
            if not stream.synced or stream.syncing:
                stream.stash[candle.open_ms] = candle
                continue
            if last is not None and candle.open_ms > last + stream.length_ms:
                _log.warning(
                    "%s %s: bar %d follows %d: fetching the missed bars",
                    stream.symbol,
                    stream.interval,
                    candle.open_ms,
                    last,
                )
                stream.stash[candle.open_ms] = candle
                stream.synced = False
                self._spawn(self._resync(stream))
                continue
            self._publish(stream, [candle])

    def _publish(self, stream: _Stream, candles: Sequence[Candle]) -> None:
        for candle in candles:
            if stream.last_ms is not None and candle.open_ms <= stream.last_ms:
                continue
            stream.last_ms = candle.open_ms
            bar = candle.to_bar(stream.symbol)
            stream.history.append(bar)
            for key, (name, handler) in list(stream.handlers.items()):
                try:
                    handler(bar if name == bar.symbol else bar._replace(symbol=name))
                except Exception:
                    _log.exception("bar handler of %s failed on %s %d", key, name, bar.ts)

    async def _sync(self, stream: _Stream, lookback: int) -> None:
        """Fetch the newest ``lookback`` closed bars (whatever their age: a quiet market has
        none in the last minutes) and everything after the last delivered bar; deliver what is
        new, with anything stashed, in order. Caller holds ``stream.lock``."""
        stream.syncing = True
        try:
            now = self._now_ms()
            deeper = stream.last_ms is None or lookback > stream.fetched_lookback
            since = None if stream.last_ms is None else stream.last_ms + 1
            fetched = await self._fetch(stream, since, now, lookback + 2 if deeper else 0)
        finally:
            stream.syncing = False
        closed = [c for c in fetched if c.open_ms + stream.length_ms <= now]
        last = stream.last_ms
        older = [c.to_bar(stream.symbol) for c in closed if last is not None and c.open_ms <= last]
        if older:
            first_ts = stream.history[0].ts if stream.history else None
            head = [b for b in older if first_ts is None or b.ts < first_ts]
            if head:
                stream.history = deque([*head, *stream.history], maxlen=_HISTORY)
        merged = {c.open_ms: c for c in closed if last is None or c.open_ms > last}
        merged.update(stream.stash)
        stream.stash.clear()
        stream.fetched_lookback = max(stream.fetched_lookback, lookback)
        stream.synced = True
        self._publish(stream, [merged[t] for t in sorted(merged)])

    async def _fetch(
        self, stream: _Stream, since: int | None, end: int, count: int
    ) -> list[Candle]:
        """Candles up to ``end``, paging back: at least the newest ``count`` and every one
        opening at or after ``since``; at most ``MAX_WARMUP`` (a longer gap loses its
        oldest bars, with a warning)."""
        found: dict[int, Candle] = {}
        upper = end
        start = since if count == 0 else None  # a gap fill asks for its range only
        while True:
            page = await self._rest.candles(stream.symbol, stream.interval, start, upper, PAGE)
            for candle in page:
                found[candle.open_ms] = candle
            if len(page) < PAGE:
                break
            reached = since is None or page[0].open_ms <= since
            if reached and len(found) >= count:
                break
            if len(found) >= MAX_WARMUP + 2:
                _log.warning(
                    "%s %s: gap longer than %d bars; the oldest are skipped",
                    stream.symbol,
                    stream.interval,
                    MAX_WARMUP,
                )
                break
            upper = page[0].open_ms - 1
        return [found[t] for t in sorted(found)]

    def _on_disconnect(self, at_ms: int) -> None:
        del at_ms
        for stream in self._streams.values():
            stream.synced = False

    async def _on_reconnect(self, gap_started_ms: int, reconnected_ms: int) -> None:
        streams = list(self._streams.values())
        _log.info(
            "candles: filling a %.1fs gap for %d stream(s)",
            (reconnected_ms - gap_started_ms) / 1000,
            len(streams),
        )
        results = await asyncio.gather(*(self._resync(s) for s in streams), return_exceptions=True)
        for stream, result in zip(streams, results, strict=True):
            if isinstance(result, Exception):
                _log.warning("%s %s: gap fill failed: %s", stream.symbol, stream.interval, result)
                stream.synced = False
                self._spawn(self._retry(stream))

    async def _resync(self, stream: _Stream) -> None:
        async with stream.lock:
            if self._streams.get((stream.symbol, stream.interval)) is stream:
                await self._sync(stream, 0)

    async def _retry(self, stream: _Stream) -> None:
        delay = 1.0
        while self._streams.get((stream.symbol, stream.interval)) is stream and not stream.synced:
            await asyncio.sleep(delay)
            with contextlib.suppress(Exception):
                await self._resync(stream)
            delay = min(delay * 2, 30.0)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_exit)


class _PushHandler:
    __slots__ = ("_hub", "_stream")

    def __init__(self, hub: CandleHub, stream: _Stream) -> None:
        self._hub = hub
        self._stream = stream

    def __call__(self, candles: Sequence[Candle]) -> None:
        self._hub._on_push(self._stream, candles)


class CandleBotFeed:
    """One bot's bars from the hub (the daemon's ``BotFeed``)."""

    def __init__(
        self, hub: CandleHub, symbol: str, interval: str, key: str, handler: BarHandler
    ) -> None:
        self._hub = hub
        self._symbol = symbol
        self._interval = interval
        self._key = key
        self._handler = handler

    async def start(self, warmup: int) -> list[Bar]:
        return await self._hub.subscribe(
            self._key, self._symbol, self._interval, self._handler, warmup, name=self._symbol
        )

    def stop(self) -> None:
        self._hub.unsubscribe(self._key)


def _log_exit(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("task %s died", task.get_name(), exc_info=task.exception())

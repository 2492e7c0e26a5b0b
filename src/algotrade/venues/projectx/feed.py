"""Closed bars of a bot's interval from ProjectX, polled from ``History/retrieveBars``.

Why polling: the gateway's bars are the venue's own (its session boundaries, its volume);
bars rebuilt from the market hub's trade prints would differ whenever a print is missed, and
a hub reconnect needs ``retrieveBars`` to repair the gap anyway. So one poller per (contract,
bar unit, unit number) serves every bot on it:

- warm-up: the newest ``warmup`` closed bars (one request, ``includePartialBar`` false);
- live: shortly after each bar's close (``bar_delay_s``) the poller asks for the bars since
  the newest one it delivered and delivers those that are closed (open time + interval ≤
  now), oldest first, each once; if the bar that just closed is not there yet it asks again
  (``bar_retries``) while the interval lasts; a quiet market simply has no bar;
- a failed request (rate limited, gateway down) is retried at the next close: the request
  always starts after the newest delivered bar, so nothing is skipped or repeated;
- a bot joining a running poller gets the bars the poller delivered since its own warm-up.

Rate: one request per bar and stream (plus retries), charged to the transport's
``retrieveBars`` budget (``bars_requests`` / ``bars_window_s``: the documented 30 per 30 s by
default); a busy budget delays bars, never drops them. Intervals: ``Ns``, ``Nm``, ``Nh``,
``Nd`` (seconds to days, at most 7 days; ``factory.bar_unit_of``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from algotrade.core.events import Bar
from algotrade.core.timeutil import datetime_to_ns
from algotrade.venues.projectx.errors import VENUE_ERRORS
from algotrade.venues.projectx.factory import bar_unit_of
from algotrade.venues.projectx.http import MAX_BARS
from algotrade.venues.projectx.schemas import Bar as PxBar
from algotrade.venues.projectx.schemas import BarUnit

if TYPE_CHECKING:
    from algotrade.venues.projectx.connection import ProjectXConnection

__all__ = ["BarHub", "ProjectXBotFeed"]

_log = logging.getLogger("algotrade.venues.projectx.feed")
NS = 1_000_000_000
RECENT = 500
WARMUP_SLACK_NS = 4 * 86_400 * NS  # a weekend without bars fits in a warm-up window


@dataclass(slots=True)
class _Subscriber:
    symbol: str
    handler: Callable[[Bar], None]
    last_ns: int | None


@dataclass(slots=True)
class _Stream:
    contract_id: str
    unit: int
    number: int
    seconds: int
    subscribers: dict[str, _Subscriber] = field(default_factory=dict)
    last_ns: int | None = None  # open time of the newest bar delivered
    recent: deque[tuple[int, PxBar]] = field(default_factory=lambda: deque(maxlen=RECENT))
    task: asyncio.Task[None] | None = None
    failing: bool = False

    @property
    def span_ns(self) -> int:
        return self.seconds * NS


class BarHub:
    """The bar pollers of one connection, shared by the bots of each (contract, interval)."""

    def __init__(self, connection: ProjectXConnection) -> None:
        self._c = connection
        self._streams: dict[tuple[str, int, int], _Stream] = {}
        self._by_key: dict[str, _Stream] = {}
        self.requests = 0

    async def subscribe(
        self,
        key: str,
        symbol: str,
        interval: str,
        handler: Callable[[Bar], None],
        warmup: int,
    ) -> list[Bar]:
        """Deliver closed ``interval`` bars of ``symbol`` to ``handler`` from now on; the
        newest ``warmup`` closed bars before that are returned."""
        contract = self._c.contract(symbol)
        unit, number, seconds = bar_unit_of(interval)
        self.unsubscribe(key)
        stream = self._streams.get((contract.id, unit, number))
        if stream is None:
            stream = _Stream(contract.id, unit, number, seconds)
            self._streams[(contract.id, unit, number)] = stream
        history = await self._warmup(stream, warmup) if warmup > 0 else []
        last = history[-1][0] if history else None
        if stream.last_ns is not None and (last is None or last < stream.last_ns):
            if warmup > 0:  # bars the poller delivered since this bot's warm-up was read
                history += [(ts, b) for ts, b in stream.recent if last is None or ts > last]
            last = stream.last_ns
        if stream.last_ns is None:
            now = self._c.now_ns()
            stream.last_ns = (
                last if last is not None else (now // stream.span_ns - 1) * stream.span_ns
            )
            last = stream.last_ns
        stream.subscribers[key] = _Subscriber(symbol, handler, last)
        self._by_key[key] = stream
        if stream.task is None or stream.task.done():
            name = f"projectx-bars:{contract.name}:{interval}"
            stream.task = asyncio.get_running_loop().create_task(self._poll(stream), name=name)
        return [_bar(symbol, ts, b) for ts, b in history[-warmup:]] if warmup > 0 else []

    def unsubscribe(self, key: str) -> None:
        stream = self._by_key.pop(key, None)
        if stream is None:
            return
        stream.subscribers.pop(key, None)
        if not stream.subscribers and stream.task is not None:
            stream.task.cancel()
            stream.task = None

    async def stop(self, timeout: float = 5.0) -> None:
        tasks = [s.task for s in self._streams.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        self._streams.clear()
        self._by_key.clear()

    # ------------------------------------------------------------------ polling
    async def _poll(self, stream: _Stream) -> None:
        config = self._c.config
        span = stream.span_ns
        while True:
            now = self._c.now_ns()
            close = (now // span + 1) * span
            await asyncio.sleep((close - now) / NS + config.bar_delay_s)
            expected = close - span  # the bar that just closed
            for attempt in range(config.bar_retries + 1):
                try:
                    await self._deliver_new(stream)
                except Exception:  # never let one bad reply stop the bots' bars
                    _log.exception("projectx bars of %s: polling failed", stream.contract_id)
                if stream.last_ns is not None and stream.last_ns >= expected:
                    break
                wait = config.bar_delay_s * (attempt + 1) or 0.5
                if self._c.now_ns() + int(wait * NS) >= close + span:
                    break  # the next close comes first: it asks for this bar too
                await asyncio.sleep(wait)

    async def _deliver_new(self, stream: _Stream) -> None:
        now = self._c.now_ns()
        span = stream.span_ns
        start = (stream.last_ns + span) if stream.last_ns is not None else now - 3 * span
        try:
            bars = await self._fetch(stream, start, now, MAX_BARS)
        except VENUE_ERRORS as exc:
            if not stream.failing:
                _log.warning("projectx bars of %s: %s; asking again", stream.contract_id, exc)
            stream.failing = True
            return
        if stream.failing:
            _log.info("projectx bars of %s: flowing again", stream.contract_id)
            stream.failing = False
        for ts, bar in bars:
            if stream.last_ns is not None and ts <= stream.last_ns:
                continue
            stream.last_ns = ts
            stream.recent.append((ts, bar))
            for subscriber in list(stream.subscribers.values()):
                if subscriber.last_ns is not None and ts <= subscriber.last_ns:
                    continue
                subscriber.last_ns = ts
                try:
                    subscriber.handler(_bar(subscriber.symbol, ts, bar))
                except Exception:
                    _log.exception("projectx bars: a bot's bar handler failed")

    async def _warmup(self, stream: _Stream, count: int) -> list[tuple[int, PxBar]]:
        now = self._c.now_ns()
        start = now - stream.span_ns * count * 3 - WARMUP_SLACK_NS
        bars = await self._fetch(stream, start, now, min(count + 5, MAX_BARS))
        return bars[-count:]

    async def _fetch(
        self, stream: _Stream, start_ns: int, end_ns: int, limit: int
    ) -> list[tuple[int, PxBar]]:
        """Closed bars opening in ``[start_ns, end_ns]``, oldest first, with their open time."""
        from algotrade.venues.projectx.connection import to_datetime  # noqa: PLC0415

        self.requests += 1
        raw = await self._c.http.retrieve_bars(
            stream.contract_id,
            start=to_datetime(start_ns),
            end=to_datetime(end_ns),
            unit=BarUnit(stream.unit),
            unit_number=stream.number,
            limit=limit,
            live=self._c.config.live,
            include_partial_bar=False,
        )
        now, span = self._c.now_ns(), stream.span_ns
        out = sorted((datetime_to_ns(b.t), b) for b in raw)
        return [(ts, b) for ts, b in out if start_ns <= ts and ts + span <= now]


class ProjectXBotFeed:
    """One bot's feed (``registry.BotFeedHandle``) on its connection's bar pollers."""

    def __init__(
        self,
        connection: ProjectXConnection,
        key: str,
        symbol: str,
        interval: str,
        handler: Callable[[Bar], None],
    ) -> None:
        self._c = connection
        self._key = key
        self._symbol = symbol
        self._interval = interval
        self._handler = handler

    async def start(self, warmup: int) -> list[Bar]:
        return await self._c.bars.subscribe(
            self._key, self._symbol, self._interval, self._handler, warmup
        )

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone at interpreter exit
            self._c.bars.unsubscribe(self._key)


def _bar(symbol: str, ts: int, bar: PxBar) -> Bar:
    return Bar(symbol, ts, float(bar.o), float(bar.h), float(bar.l), float(bar.c), float(bar.v))

"""Closed bars of one (coin, interval) from Hyperliquid candle updates.

``CandleBarBuilder`` applies the closed-bar rule described in ``data`` (the hub's module):
a candle is emitted only once a later candle exists, or once its close time plus a grace
period has passed and ``candleSnapshot`` confirms it; bars leave strictly increasing in open
time, each exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

from algotrade.core.events import Bar
from algotrade.venues.hyperliquid.intervals import shortest_step_ms
from algotrade.venues.hyperliquid.schemas import Candle

__all__ = ["CandleBarBuilder", "CandleSource"]

# The builder logs under the hub's name, as it did before it moved here.
_log = logging.getLogger("algotrade.venues.hyperliquid.data")


class CandleSource(Protocol):
    """Closed and forming candles by request (``InfoClient`` provides this)."""

    async def candle_snapshot(
        self, coin: str, interval: str, start_ms: int, end_ms: int
    ) -> list[Candle]:
        """Candles with ``start_ms <= t <= end_ms``, ascending by ``t``: the first of them
        only when the venue caps the response (500 per request in the docs)."""
        ...


#: "Responses that take a time range will only return 500 elements" (the info endpoint's
#: docs): a reply that long may have been cut short; a shorter one holds the whole range.
RANGE_REPLY_CAP = 500


async def candles_between(
    source: CandleSource, coin: str, interval: str, start_ms: int, end_ms: int
) -> list[Candle]:
    """Every candle with ``start_ms <= t <= end_ms``, ascending: request after request, each
    from just after the last candle of the one before, while a reply may have been cut short
    (``RANGE_REPLY_CAP`` long) and brought something new."""
    step = shortest_step_ms(interval)
    found: dict[int, Candle] = {}
    cursor = start_ms
    while cursor <= end_ms:
        page = await source.candle_snapshot(coin, interval, cursor, end_ms)
        fresh = [c for c in page if cursor <= c.open_ms <= end_ms and c.open_ms not in found]
        if not fresh:
            break
        for candle in fresh:
            found[candle.open_ms] = candle
        last_open = max(candle.open_ms for candle in fresh)
        if len(page) < RANGE_REPLY_CAP or last_open + step > end_ms:
            break  # the whole range was sent, or no candle can open in the rest of it
        cursor = last_open + 1
    return [found[t] for t in sorted(found)]


def _version(candle: Candle) -> tuple[int, Decimal]:
    return candle.trades, candle.volume


class CandleBarBuilder:
    """Turns candle updates of one (coin, interval) into closed ``Bar``s (see module doc)."""

    def __init__(self, symbol: str, interval: str, *, grace_ms: int = 2000) -> None:
        self.symbol = symbol
        self.interval = interval
        self.grace_ms = grace_ms
        self._pending: dict[int, Candle] = {}  # open time → latest state, all after last emitted
        self._last_emitted_ms: int | None = None
        self._synced = True

    @property
    def last_emitted_ms(self) -> int | None:
        """Open time (ms) of the last emitted bar."""
        return self._last_emitted_ms

    @property
    def forming(self) -> Candle | None:
        """The newest candle seen that is not emitted yet."""
        return self._pending[max(self._pending)] if self._pending else None

    @property
    def oldest_pending_ms(self) -> int | None:
        """Open time of the oldest candle seen and not emitted yet."""
        return min(self._pending) if self._pending else None

    @property
    def synced(self) -> bool:
        return self._synced

    def desync(self) -> None:
        """Live updates may have been missed: emit nothing until the next ``confirm``."""
        self._synced = False

    def update(self, candle: Candle) -> list[Bar]:
        """Feed a live update; returns the bars it closes (oldest first, usually 0 or 1)."""
        if not self._accept(candle) or not self._synced:
            return []
        return self._emit(include_newest=False)

    def close_due(self, now_ms: int) -> int | None:
        """Open time of the forming candle once ``now_ms`` ≥ its ``T`` + grace; the caller
        should then fetch it from ``candleSnapshot`` and pass it to ``confirm``."""
        forming = self.forming
        if forming is None or now_ms < forming.close_ms + self.grace_ms:
            return None
        return forming.open_ms

    def confirm(self, candles: Iterable[Candle], now_ms: int) -> list[Bar]:
        """Merge ``candleSnapshot`` candles and emit every candle now known to be closed: one
        with a later candle seen, or one in ``candles`` whose ``T`` + grace has passed.
        Re-synchronises the builder."""
        confirmed: set[int] = set()
        for candle in candles:
            if self._accept(candle):
                confirmed.add(candle.open_ms)
        self._synced = True
        bars = self._emit(include_newest=False)
        newest = self.forming
        if (
            newest is not None
            and newest.open_ms in confirmed
            and now_ms >= newest.close_ms + self.grace_ms
        ):
            bars.extend(self._emit(include_newest=True))
        return bars

    def _accept(self, candle: Candle) -> bool:
        if candle.interval != self.interval:
            _log.warning(
                "%s %s: ignored a candle of interval %s",
                self.symbol,
                self.interval,
                candle.interval,
            )
            return False
        last = self._last_emitted_ms
        if last is not None and candle.open_ms <= last:
            _log.debug(
                "%s %s: ignored an update of candle %d (bar %d already emitted)",
                self.symbol,
                self.interval,
                candle.open_ms,
                last,
            )
            return False
        current = self._pending.get(candle.open_ms)
        if current is None or _version(candle) >= _version(current):
            self._pending[candle.open_ms] = candle
        return True

    def _emit(self, *, include_newest: bool) -> list[Bar]:
        times = sorted(self._pending)
        if not include_newest:
            times = times[:-1]
        bars = []
        for open_ms in times:
            bars.append(self._pending.pop(open_ms).to_bar(self.symbol))
            self._last_emitted_ms = open_ms
        return bars

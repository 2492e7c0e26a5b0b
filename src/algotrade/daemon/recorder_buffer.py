"""The recorder's in-memory buffer: closed bars per series, waiting for the next flush.

Bars arrive on the event loop (``add``); the writer thread takes everything buffered
(``take``) and, when a write fails, gives a batch back (``restore``) to be retried by the
next flush. One lock guards the buffer; no call holds it for longer than a dict operation
per bar, so the loop never waits on the writer's file I/O.

A series is keyed by (venue, symbol, interval); its bars by open time, so a bar delivered to
several bots of the same series is buffered once (the first delivery wins, as in the catalog).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from algotrade.core.events import Bar

__all__ = [
    "ADDED",
    "DUPLICATE",
    "FULL",
    "Batch",
    "BufferCounts",
    "RecordBuffer",
    "SeriesId",
    "bar_problem",
]

#: (venue, symbol, interval): one series of the catalog.
SeriesId = tuple[str, str, str]
#: open, high, low, close, volume of one bar.
Values = tuple[float, float, float, float, float]
#: What ``RecordBuffer.add`` did with a bar.
ADDED, DUPLICATE, FULL = "added", "duplicate", "full"


def bar_problem(bar: Bar, step_ns: int) -> str | None:
    """Why the catalog would refuse ``bar`` (the catalog's rules, checked per bar so one bad
    bar never blocks the rest of its series), or None."""
    prices = (bar.open, bar.high, bar.low, bar.close)
    if not all(math.isfinite(p) and p > 0 for p in prices):
        return f"prices must be finite and > 0 (got {prices})"
    if not (math.isfinite(bar.volume) and bar.volume >= 0):
        return f"volume must be finite and >= 0 (got {bar.volume!r})"
    if bar.high < max(bar.open, bar.close) or bar.low > min(bar.open, bar.close):
        return f"high/low do not enclose open and close (got {prices})"
    if bar.ts % step_ns:
        return f"ts {bar.ts} is not a multiple of the interval ({step_ns} ns)"
    return None


@dataclass(slots=True)
class BufferCounts:
    buffered: int = 0  # bars waiting to be written
    duplicates: int = 0  # deliveries of a bar already buffered (several bots, one series)
    dropped: int = 0  # bars refused because the buffer was full (writes failing for long)


@dataclass(frozen=True, slots=True)
class Batch:
    """One series' buffered bars, taken for one write (sorted by open time)."""

    series: SeriesId
    ts: tuple[int, ...]
    values: tuple[Values, ...]

    def __len__(self) -> int:
        return len(self.ts)


class RecordBuffer:
    """Bars per series waiting for the writer; at most ``max_rows`` of them."""

    def __init__(self, max_rows: int) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows: expected at least 1, got {max_rows}")
        self._max_rows = max_rows
        self._lock = threading.Lock()
        self._series: dict[SeriesId, dict[int, Values]] = {}
        self.counts = BufferCounts()

    def add(self, series: SeriesId, bar: Bar) -> str:
        """Buffer ``bar``: ``ADDED``, or ``DUPLICATE`` (already buffered) or ``FULL``."""
        values = (bar.open, bar.high, bar.low, bar.close, bar.volume)
        with self._lock:
            bars = self._series.get(series)
            if bars is None:
                bars = self._series[series] = {}
            elif bar.ts in bars:
                self.counts.duplicates += 1
                return DUPLICATE
            if self.counts.buffered >= self._max_rows:
                self.counts.dropped += 1
                return FULL
            bars[bar.ts] = values
            self.counts.buffered += 1
            return ADDED

    def take(self) -> list[Batch]:
        """Everything buffered, one batch per series; the buffer is left empty."""
        with self._lock:
            taken, self._series = self._series, {}
            self.counts.buffered = 0
        batches = []
        for series, bars in taken.items():
            if bars:
                ordered = sorted(bars.items())
                batches.append(
                    Batch(series, tuple(t for t, _ in ordered), tuple(v for _, v in ordered))
                )
        return batches

    def restore(self, batch: Batch) -> int:
        """Put a batch whose write failed back, for the next flush; returns its size. Its bars
        were delivered first, so they replace any delivery of the same bar buffered since
        (first delivery wins, as in the catalog), and each bar still counts once. All are
        kept, even past ``max_rows``: what was accepted is never dropped."""
        with self._lock:
            bars = self._series.setdefault(batch.series, {})
            before = len(bars)
            bars.update(zip(batch.ts, batch.values, strict=True))
            self.counts.buffered += len(bars) - before
        return len(batch)

    def snapshot(self) -> tuple[int, int, int, int]:
        """(buffered bars, series buffered, duplicates, dropped), consistent with each other."""
        with self._lock:
            return (
                self.counts.buffered,
                sum(1 for bars in self._series.values() if bars),
                self.counts.duplicates,
                self.counts.dropped,
            )

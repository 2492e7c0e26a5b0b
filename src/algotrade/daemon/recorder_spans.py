"""What this daemon already recorded, per series: one span of open times, kept on the loop.

Many bots may share a series: each closed bar reaches the recorder once per bot, and each
bot that starts hands over its warm-up (up to thousands of bars the venue's feed already
delivered). Checking every such bar against the buffer would cost a lock and a dict lookup
per bar per bot; a span ``[first, last]`` of open times known to be recorded answers in one
comparison (live bars) or two bisections (a warm-up list).

The span only ever claims bars a feed delivered: a warm-up list or a live bar extends it
only when it overlaps or touches it (within one interval); anything else starts a new span.
Forgetting the old span only makes the recorder offer some bars to the catalog again (which
skips them); it never skips a bar not recorded.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from algotrade.core.events import Bar
from algotrade.daemon.recorder_buffer import SeriesId

__all__ = ["RecordedSpans"]


def _ts(bar: Bar) -> int:
    return bar.ts


class RecordedSpans:
    def __init__(self) -> None:
        self._spans: dict[SeriesId, tuple[int, int]] = {}

    def covers(self, series: SeriesId, ts: int) -> bool:
        span = self._spans.get(series)
        return span is not None and span[0] <= ts <= span[1]

    def outside(self, series: SeriesId, bars: Sequence[Bar]) -> list[Bar]:
        """The bars of ``bars`` (sorted by open time) not inside the series' span."""
        span = self._spans.get(series)
        if span is None or not bars:
            return list(bars)
        lo, hi = span
        before = bisect_left(bars, lo, key=_ts)
        after = bisect_right(bars, hi, key=_ts)
        return [*bars[:before], *bars[after:]]

    def extend(self, series: SeriesId, first: int, last: int, step: int) -> None:
        """Bars from ``first`` to ``last`` (a feed's contiguous delivery) are recorded."""
        span = self._spans.get(series)
        if span is not None and first <= span[1] + step and last >= span[0] - step:
            first, last = min(first, span[0]), max(last, span[1])
        self._spans[series] = (first, last)

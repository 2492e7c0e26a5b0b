"""Simple moving average."""

from __future__ import annotations

import math

from algotrade.indicators.period import check_period


class SMA:
    """Mean of the last ``period`` values, O(1) per update.

    The running sum is re-summed exactly (``math.fsum``) once per full window, so rounding
    error never accumulates over millions of updates.
    """

    __slots__ = ("_buf", "_count", "_i", "_sum", "period", "value")

    def __init__(self, period: int) -> None:
        check_period("SMA", period)
        self.period = period
        self._buf = [0.0] * period
        self._i = 0
        self._count = 0
        self._sum = 0.0
        self.value: float | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, x: float) -> float | None:
        i = self._i
        buf = self._buf
        self._sum += x - buf[i]
        buf[i] = x
        i += 1
        if i == self.period:
            i = 0
            self._sum = math.fsum(buf)
        self._i = i
        if self._count < self.period:
            self._count += 1
            if self._count < self.period:
                return None
        value = self.value = self._sum / self.period
        return value


FIXED_POINT_SCALE = 100_000_000  # 1e-8: exact for prices published with up to 8 decimals


class ExactSMA:
    """SMA whose running sum is an exact integer on a 1e-8 fixed-point grid.

    Use it where *equality* of two averages matters (a crossover's "unchanged when equal"):
    float sums of decimal prices differ in the last bits even when the decimal means are equal.
    ``compare`` is exact; ``value`` is the float mean for display. Prices with more than 8
    decimals are rounded to the grid; prices up to ~9e7 keep full precision.
    """

    __slots__ = ("_buf", "_count", "_i", "_sum", "period", "ready")

    def __init__(self, period: int) -> None:
        check_period("SMA", period)
        self.period = period
        self._buf = [0] * period
        self._i = 0
        self._count = 0
        self._sum = 0
        self.ready = False

    def update(self, x: float) -> bool:
        """Add a value; returns whether the window is full."""
        units = round(x * FIXED_POINT_SCALE)
        i = self._i
        self._sum += units - self._buf[i]
        self._buf[i] = units
        i += 1
        self._i = 0 if i == self.period else i
        if not self.ready:
            self._count += 1
            self.ready = self._count >= self.period
        return self.ready

    @property
    def value(self) -> float | None:
        return self._sum / self.period / FIXED_POINT_SCALE if self.ready else None

    def compare(self, other: ExactSMA) -> int:
        """-1, 0 or 1 as this mean is below, equal to or above ``other``'s, exactly."""
        left = self._sum * other.period
        right = other._sum * self.period
        return (left > right) - (left < right)


class ExactCrossover:
    """Two exact SMAs of one series (fast and slow), updated together.

    ``update`` returns 1 when the fast mean is above the slow one, -1 below, and 0 when they
    are equal or the slow window is not full yet. One call and one fixed-point conversion per
    value: this sits in the per-bar hot path of crossover strategies.
    """

    __slots__ = ("_buf", "_fast_sum", "_i", "_seen", "_slow_sum", "fast", "slow")

    def __init__(self, fast: int, slow: int) -> None:
        for name, period in (("fast", fast), ("slow", slow)):
            check_period(name, period)
        if fast >= slow:
            raise ValueError(f"fast period ({fast}) must be below slow period ({slow})")
        self.fast = fast
        self.slow = slow
        self._buf = [0] * slow  # ring buffer of the slow window; the fast one is its tail
        self._i = 0
        self._seen = 0
        self._fast_sum = 0
        self._slow_sum = 0

    def update(self, x: float) -> int:
        units = round(x * FIXED_POINT_SCALE)
        buf = self._buf
        i = self._i
        slow = self.slow
        leaving_fast = buf[(i - self.fast) % slow]  # the value fast periods ago
        self._fast_sum += units - leaving_fast
        self._slow_sum += units - buf[i]
        buf[i] = units
        self._i = i + 1 if i + 1 < slow else 0
        if self._seen < slow:
            self._seen += 1
            if self._seen < slow:
                return 0
        left = self._fast_sum * slow
        right = self._slow_sum * self.fast
        return (left > right) - (left < right)

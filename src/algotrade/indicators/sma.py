"""Simple moving average."""

from __future__ import annotations

import math


class SMA:
    """Mean of the last ``period`` values, O(1) per update.

    The running sum is re-summed exactly (``math.fsum``) once per full window, so rounding
    error never accumulates over millions of updates.
    """

    __slots__ = ("_buf", "_count", "_i", "_sum", "period", "value")

    def __init__(self, period: int) -> None:
        if not isinstance(period, int) or period < 1:
            raise ValueError(f"SMA period must be a positive integer, got {period!r}")
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

"""Bollinger bands."""

from __future__ import annotations

import math
from typing import NamedTuple

from algotrade.indicators.period import check_period


class BollingerBands(NamedTuple):
    middle: float
    upper: float
    lower: float


class Bollinger:
    """Middle = SMA(period); upper/lower = middle ± k × population std of the window.

    O(1) per update from running sums of ``d = x - shift`` and ``d²``. The shift is the window
    mean as of the last exact re-sum: prices are large compared with their spread, and plain
    sums of ``x²`` would cancel catastrophically in ``E[x²] - E[x]²``. Once per full window
    both sums are recomputed exactly (``math.fsum``), as in ``SMA``, so rounding error never
    accumulates; the variance is clamped at zero against the last bit of rounding.
    """

    __slots__ = ("_buf", "_count", "_i", "_shift", "_sum", "_sum_sq", "k", "period", "value")

    def __init__(self, period: int = 20, k: float = 2.0) -> None:
        check_period("Bollinger", period)
        if isinstance(k, bool) or not isinstance(k, int | float) or not math.isfinite(k) or k < 0:
            raise ValueError(f"Bollinger k must be a finite number >= 0, got {k!r}")
        self.period = period
        self.k = float(k)
        self._buf = [0.0] * period
        self._i = 0
        self._count = 0
        self._shift = 0.0
        self._sum = 0.0  # Σ (x - shift) over the window
        self._sum_sq = 0.0  # Σ (x - shift)² over the window
        self.value: BollingerBands | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, x: float) -> BollingerBands | None:
        i = self._i
        buf = self._buf
        period = self.period
        shift = self._shift
        new = x - shift
        if self._count < period:
            self._count += 1
            self._sum += new
            self._sum_sq += new * new
        else:
            old = buf[i] - shift
            self._sum += new - old
            self._sum_sq += new * new - old * old
        buf[i] = x
        i += 1
        if i == period:
            i = 0
            self._resum()
        self._i = i
        if self._count < period:
            return None
        mean_shifted = self._sum / period
        variance = self._sum_sq / period - mean_shifted * mean_shifted
        width = self.k * math.sqrt(variance) if variance > 0.0 else 0.0
        middle = self._shift + mean_shifted
        value = self.value = BollingerBands(middle, middle + width, middle - width)
        return value

    def _resum(self) -> None:
        """Exact sums over the full window, re-centred on its mean."""
        buf = self._buf
        shift = self._shift = math.fsum(buf) / self.period
        deviations = [x - shift for x in buf]
        self._sum = math.fsum(deviations)
        self._sum_sq = math.fsum(d * d for d in deviations)

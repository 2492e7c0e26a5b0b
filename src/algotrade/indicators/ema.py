"""Exponential moving average."""

from __future__ import annotations

from algotrade.indicators.period import check_period


class EMA:
    """Exponential moving average with ``alpha = 2 / (period + 1)``, O(1) per update.

    Seeded like TA-Lib: the first value is the simple mean of the first ``period`` inputs
    (ready after ``period`` inputs); after that ``ema += alpha * (x - ema)``. Seeding with
    the SMA rather than the first input keeps early values from being dominated by one bar.
    """

    __slots__ = ("_count", "_seed_sum", "alpha", "period", "value")

    def __init__(self, period: int) -> None:
        check_period("EMA", period)
        self.period = period
        self.alpha = 2.0 / (period + 1)
        self._count = 0
        self._seed_sum = 0.0
        self.value: float | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, x: float) -> float | None:
        value = self.value
        if value is not None:
            value = self.value = value + self.alpha * (x - value)
            return value
        self._count += 1
        self._seed_sum += x
        if self._count < self.period:
            return None
        value = self.value = self._seed_sum / self.period
        return value

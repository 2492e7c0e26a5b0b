"""Average true range (Wilder)."""

from __future__ import annotations

from algotrade.indicators.period import check_period


class ATR:
    """Wilder's average true range over ``period`` bars, O(1) per update.

    True range needs the previous close, ``max(high, prev_close) - min(low, prev_close)``, so
    the first bar only sets the previous close (as in TA-Lib). The first ATR is the plain mean
    of the next ``period`` true ranges (ready after ``period + 1`` bars); after that
    ``atr = (atr * (period - 1) + tr) / period``.
    """

    __slots__ = ("_count", "_prev_close", "_seed_sum", "period", "value")

    def __init__(self, period: int = 14) -> None:
        check_period("ATR", period)
        self.period = period
        self._prev_close: float | None = None
        self._count = 0
        self._seed_sum = 0.0
        self.value: float | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, high: float, low: float, close: float) -> float | None:
        prev_close = self._prev_close
        self._prev_close = close
        if prev_close is None:
            return None
        true_range = max(high, prev_close) - min(low, prev_close)
        period = self.period
        value = self.value
        if value is not None:
            value = self.value = (value * (period - 1) + true_range) / period
            return value
        self._seed_sum += true_range
        self._count += 1
        if self._count < period:
            return None
        value = self.value = self._seed_sum / period
        return value

"""Relative strength index (Wilder)."""

from __future__ import annotations

from algotrade.indicators.period import check_period


class RSI:
    """Wilder's RSI over ``period`` price changes, O(1) per update.

    The first input only sets the previous price. The next ``period`` inputs give ``period``
    changes whose plain means of gains and losses seed the averages, so the first value is
    ready after ``period + 1`` inputs (as in TA-Lib). After that both averages use Wilder's
    smoothing ``avg = (avg * (period - 1) + new) / period``.

    ``RSI = 100 * avg_gain / (avg_gain + avg_loss)``, which equals the textbook
    ``100 - 100 / (1 + avg_gain / avg_loss)`` without dividing by a zero loss: it is 100
    when only gains were seen, and 50 when prices did not move at all.
    """

    __slots__ = ("_avg_gain", "_avg_loss", "_count", "_prev", "period", "value")

    def __init__(self, period: int = 14) -> None:
        check_period("RSI", period)
        self.period = period
        self._prev: float | None = None
        self._count = 0  # price changes seen, counted only while warming up
        self._avg_gain = 0.0
        self._avg_loss = 0.0
        self.value: float | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, x: float) -> float | None:
        prev = self._prev
        self._prev = x
        if prev is None:
            return None
        change = x - prev
        gain = change if change > 0.0 else 0.0
        loss = -change if change < 0.0 else 0.0
        period = self.period
        if self.value is None:
            # Warm-up: accumulate sums, turned into plain means on the last seed change.
            self._avg_gain += gain
            self._avg_loss += loss
            self._count += 1
            if self._count < period:
                return None
            self._avg_gain /= period
            self._avg_loss /= period
        else:
            self._avg_gain = (self._avg_gain * (period - 1) + gain) / period
            self._avg_loss = (self._avg_loss * (period - 1) + loss) / period
        total = self._avg_gain + self._avg_loss
        # gain / (gain + loss) <= 1 in floats too, so the value never leaves [0, 100].
        value = self.value = 100.0 * (self._avg_gain / total) if total > 0.0 else 50.0
        return value

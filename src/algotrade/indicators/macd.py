"""Moving average convergence/divergence."""

from __future__ import annotations

from typing import NamedTuple

from algotrade.indicators.ema import EMA
from algotrade.indicators.period import check_period


class MACDValue(NamedTuple):
    macd: float  # EMA(fast) - EMA(slow)
    signal: float  # EMA(signal_period) of the MACD line
    histogram: float  # macd - signal


class MACD:
    """MACD line, signal line and histogram, O(1) per update.

    Each EMA is seeded with the SMA of its own first inputs (see ``EMA``). The MACD line exists
    once the slow EMA is ready (``slow`` inputs); the signal EMA is fed only defined MACD values,
    so the full value is ready after ``slow + signal - 1`` inputs. Until then ``update`` returns
    None, while ``macd_line`` already shows the MACD line when it exists.
    """

    __slots__ = ("_fast", "_signal", "_slow", "macd_line", "value")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        for label, period in (("fast", fast), ("slow", slow), ("signal", signal)):
            check_period(f"MACD {label}", period)
        if fast >= slow:
            raise ValueError(f"MACD fast period ({fast}) must be smaller than slow ({slow})")
        self._fast = EMA(fast)
        self._slow = EMA(slow)
        self._signal = EMA(signal)
        self.macd_line: float | None = None
        self.value: MACDValue | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, x: float) -> MACDValue | None:
        fast = self._fast.update(x)
        slow = self._slow.update(x)
        if fast is None or slow is None:
            return None
        line = self.macd_line = fast - slow
        signal = self._signal.update(line)
        if signal is None:
            return None
        value = self.value = MACDValue(line, signal, line - signal)
        return value

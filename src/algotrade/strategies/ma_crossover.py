"""Moving-average crossover: long when SMA(fast) > SMA(slow), short when below.

Spec: on each closed bar compute SMA(fast) and SMA(slow) of the close. Direction is long when
fast > slow, short when fast < slow, unchanged when equal. When the direction differs from the
last one (the first defined direction counts as a change) the target position becomes +qty
(long) or -qty (short; 0 when ``long_only``).

The averages are compared exactly (integer sums on a 1e-8 grid, see ``ExactCrossover``): on real
data two windows do have equal means, and float sums would call one of them larger.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, model_validator

from algotrade.core.events import Bar
from algotrade.core.strategy import Strategy, StrategyParams
from algotrade.indicators.sma import ExactCrossover


class MACrossoverParams(StrategyParams):
    fast: int = Field(default=10, ge=1, description="fast SMA period (bars)")
    slow: int = Field(default=30, ge=2, description="slow SMA period (bars)")
    qty: Decimal = Field(default=Decimal(1), gt=0, description="position size in units")
    long_only: bool = Field(default=False, description="go flat instead of short")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> MACrossoverParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be smaller than slow ({self.slow})")
        return self


class MACrossover(Strategy):
    name = "ma_crossover"
    Params = MACrossoverParams

    def on_start(self) -> None:
        p = self.params
        self._cross: dict[str, ExactCrossover] = {}
        self._direction: dict[str, int] = {}
        self._long = p.qty
        self._short = Decimal(0) if p.long_only else -p.qty

    def on_bar(self, bar: Bar) -> None:
        symbol = bar.symbol
        cross = self._cross.get(symbol)
        if cross is None:
            cross = self._cross[symbol] = ExactCrossover(self.params.fast, self.params.slow)
        direction = cross.update(bar.close)
        if direction and self._direction.get(symbol) != direction:
            self._direction[symbol] = direction
            self.ctx.target_position(symbol, self._long if direction > 0 else self._short)

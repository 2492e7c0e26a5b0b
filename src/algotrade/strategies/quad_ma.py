"""Four moving averages: long when all four agree up, short when all agree down, else flat.

Spec: on each closed bar compute SMA(p1), SMA(p2), SMA(p3) and SMA(p4) of the close, with
p1 < p2 < p3 < p4. Once all four are defined, the desired target position is

- +qty when SMA1 > SMA2 > SMA3 > SMA4 (every shorter average above the next longer one);
- -qty when SMA1 < SMA2 < SMA3 < SMA4 (0 when ``long_only``);
- 0 otherwise (including any tie).

The target is sent only when it differs from the last one sent for that symbol; the first
defined target counts as a change. Each symbol is traded independently.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, ValidationInfo, field_validator

from algotrade.core.events import Bar
from algotrade.core.strategy import Strategy, StrategyParams
from algotrade.indicators.sma import SMA


class QuadMAParams(StrategyParams):
    p1: int = Field(default=5, ge=1, description="fastest SMA period (bars)")
    p2: int = Field(default=10, ge=2, description="second SMA period (bars)")
    p3: int = Field(default=20, ge=3, description="third SMA period (bars)")
    p4: int = Field(default=40, ge=4, description="slowest SMA period (bars)")
    qty: Decimal = Field(default=Decimal(1), gt=0, description="position size in units")
    long_only: bool = Field(default=False, description="go flat instead of short")

    @field_validator("p2", "p3", "p4")
    @classmethod
    def _periods_increase(cls, value: int, info: ValidationInfo) -> int:
        # A field validator (not a model validator) so the error names the offending period.
        field = info.field_name
        assert field is not None
        previous = f"p{int(field[1]) - 1}"
        before = info.data.get(previous)
        if before is not None and value <= before:
            raise ValueError(f"{field} ({value}) must be greater than {previous} ({before})")
        return value


class QuadMA(Strategy):
    name = "quad_ma"
    Params = QuadMAParams

    def on_start(self) -> None:
        p = self.params
        self._periods: tuple[int, ...] = (p.p1, p.p2, p.p3, p.p4)
        self._averages: dict[str, tuple[SMA, ...]] = {}
        self._target: dict[str, Decimal] = {}
        self._long = p.qty
        self._short = Decimal(0) if p.long_only else -p.qty
        self._flat = Decimal(0)

    def on_bar(self, bar: Bar) -> None:
        symbol = bar.symbol
        averages = self._averages.get(symbol)
        if averages is None:
            averages = self._averages[symbol] = tuple(SMA(n) for n in self._periods)
        close = bar.close
        s1, s2, s3, s4 = (sma.update(close) for sma in averages)
        if s1 is None or s2 is None or s3 is None or s4 is None:
            return
        if s1 > s2 > s3 > s4:
            target = self._long
        elif s1 < s2 < s3 < s4:
            target = self._short
        else:
            target = self._flat
        if self._target.get(symbol) != target:
            self._target[symbol] = target
            self.ctx.target_position(symbol, target)

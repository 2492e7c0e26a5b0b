"""RSI mean reversion: buy oversold, sell overbought, exit around the middle.

Spec: on each closed bar update Wilder's RSI(period) of the close (ready after period + 1
bars; see ``indicators.rsi``). With ``state`` the last target sent for the symbol (flat before
any), the new target is, checking the rules in this order:

1. RSI < oversold → +qty (entry, or reversal from short);
2. RSI > overbought → -qty, or 0 when ``long_only`` (entry, or reversal from long);
3. long and RSI >= exit_level → 0;
4. short and RSI <= exit_level → 0;
5. otherwise unchanged.

Because oversold < exit_level < overbought, rules 1-2 never fight rules 3-4: a long seeing
RSI > overbought both exits and reverses. The target is sent only when it changes. Each symbol
is traded independently.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, ValidationInfo, field_validator

from algotrade.core.events import Bar
from algotrade.core.strategy import Strategy, StrategyParams
from algotrade.indicators.rsi import RSI


class RSIParams(StrategyParams):
    period: int = Field(default=14, ge=1, description="RSI period (bars)")
    oversold: float = Field(default=30.0, gt=0, lt=100, description="buy below this RSI")
    exit_level: float = Field(default=50.0, gt=0, lt=100, description="close positions here")
    overbought: float = Field(default=70.0, gt=0, lt=100, description="sell above this RSI")
    qty: Decimal = Field(default=Decimal(1), gt=0, description="position size in units")
    long_only: bool = Field(default=False, description="go flat instead of short")

    # Fields validate in declaration order (oversold, exit_level, overbought), so each check
    # below sees the levels before it and the error names the field that breaks the order.
    @field_validator("exit_level")
    @classmethod
    def _exit_above_oversold(cls, value: float, info: ValidationInfo) -> float:
        oversold = info.data.get("oversold")
        if oversold is not None and value <= oversold:
            raise ValueError(f"exit_level ({value}) must be greater than oversold ({oversold})")
        return value

    @field_validator("overbought")
    @classmethod
    def _overbought_above_exit(cls, value: float, info: ValidationInfo) -> float:
        for lower in ("exit_level", "oversold"):
            level = info.data.get(lower)
            if level is not None and value <= level:
                raise ValueError(f"overbought ({value}) must be greater than {lower} ({level})")
        return value


class RSIReversion(Strategy):
    name = "rsi"
    Params = RSIParams

    def on_start(self) -> None:
        p = self.params
        self._rsi: dict[str, RSI] = {}
        self._target: dict[str, Decimal] = {}
        self._long = p.qty
        self._short = Decimal(0) if p.long_only else -p.qty
        self._flat = Decimal(0)

    def on_bar(self, bar: Bar) -> None:
        symbol = bar.symbol
        rsi = self._rsi.get(symbol)
        if rsi is None:
            rsi = self._rsi[symbol] = RSI(self.params.period)
        value = rsi.update(bar.close)
        if value is None:
            return
        p = self.params
        current = self._target.get(symbol, self._flat)
        if value < p.oversold:
            target = self._long
        elif value > p.overbought:
            target = self._short
        elif (current > 0 and value >= p.exit_level) or (current < 0 and value <= p.exit_level):
            target = self._flat
        else:
            target = current
        if target != current:
            self._target[symbol] = target
            self.ctx.target_position(symbol, target)

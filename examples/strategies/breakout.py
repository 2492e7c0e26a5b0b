"""Donchian breakout: an example of a user strategy file.

Run it with ``--strategy examples/strategies/breakout.py --param lookback=20``. The loader
executes this file and uses the single ``Strategy`` subclass defined here.

Rules, on each closed bar of each symbol:

- the channel is the highest high and the lowest low of the ``lookback`` bars *before* the
  current one (the current bar is left out, or a close could never break its own high);
- a close above the channel's high sets the target position to +qty;
- a close below the channel's low sets it to -qty (0 when ``long_only``);
- otherwise the position is kept; targets are sent only when they change.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from pydantic import Field

from algotrade.core.events import Bar
from algotrade.core.strategy import Strategy, StrategyParams


class BreakoutParams(StrategyParams):
    # Each field is a parameter: ``--param lookback=50`` arrives as the string "50", and
    # pydantic converts it to int and checks the bound, so on_bar can trust the values.
    lookback: int = Field(default=20, ge=1, description="bars in the channel")
    qty: Decimal = Field(default=Decimal(1), gt=0, description="position size in units")
    long_only: bool = Field(default=False, description="go flat instead of short")


class Breakout(Strategy):
    name = "breakout"  # matches the file name, which also picks it if the file grows
    Params = BreakoutParams

    def on_start(self) -> None:
        # State lives on the instance and is built here, so one object can run again cleanly.
        self._highs: dict[str, deque[float]] = {}
        self._lows: dict[str, deque[float]] = {}
        self._target: dict[str, Decimal] = {}

    def on_bar(self, bar: Bar) -> None:
        p = self.params
        highs = self._highs.setdefault(bar.symbol, deque(maxlen=p.lookback))
        lows = self._lows.setdefault(bar.symbol, deque(maxlen=p.lookback))
        if len(highs) == p.lookback:
            # max()/min() over the window cost O(lookback) per bar: simple, and cheap for
            # channels of a few dozen bars. The window is compared before adding this bar.
            target = self._target.get(bar.symbol)
            if bar.close > max(highs):
                target = p.qty
            elif bar.close < min(lows):
                target = Decimal(0) if p.long_only else -p.qty
            if target is not None and target != self._target.get(bar.symbol):
                self._target[bar.symbol] = target
                # The engine sizes the market order from the current position: we only say
                # where we want to be, never how much to buy or sell.
                self.ctx.target_position(bar.symbol, target)
        highs.append(bar.high)
        lows.append(bar.low)

"""A test strategy that follows a script: step i runs on the i-th bar after start.

Steps: ``""`` (nothing), ``"buy:QTY"`` / ``"sell:QTY"`` (market), ``"limit_buy:PX:QTY"`` /
``"limit_sell:PX:QTY"`` (GTC limit), ``"cancel_all"``. Bars past the script do nothing.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from algotrade.core.events import Bar, OrderSide
from algotrade.core.orders import OrderRequest, OrderType
from algotrade.core.strategy import Strategy, StrategyParams


class ScriptedParams(StrategyParams):
    steps: list[str] = Field(default_factory=list)


class Scripted(Strategy):
    name = "scripted"
    Params = ScriptedParams

    def on_start(self) -> None:
        self.bars = 0

    def on_bar(self, bar: Bar) -> None:
        index = self.bars
        self.bars += 1
        if index >= len(self.params.steps):
            return
        step = self.params.steps[index]
        if not step:
            return
        kind, *args = step.split(":")
        if kind == "cancel_all":
            self.ctx.cancel_all()
            return
        side = OrderSide.BUY if kind.endswith("buy") else OrderSide.SELL
        if kind in ("buy", "sell"):
            self.ctx.submit_order(OrderRequest(bar.symbol, side, Decimal(args[0])))
        else:
            price, qty = Decimal(args[0]), Decimal(args[1])
            self.ctx.submit_order(
                OrderRequest(bar.symbol, side, qty, OrderType.LIMIT, limit_price=price)
            )

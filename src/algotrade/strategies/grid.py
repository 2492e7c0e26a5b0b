"""Grid: a ladder of resting limit orders around a reference price.

Spec (one symbol: ``symbol`` if set, else the first symbol seen; bars of any other symbol
are ignored, because a grid's levels only make sense for the instrument they were laid on):

- Levels are ``reference + k × step`` for integer ``k`` with ``step = reference ×
  spacing_pct / 100``, prices rounded to the instrument's tick. ``reference`` is the close
  of the first bar (``"first_close"``) or a fixed positive price.
- Start: a buy limit of ``qty`` (rounded to the lot) at each level ``k = -1 … -levels`` and a
  sell limit at each level ``k = +1 … +levels``, nearest levels first. With a fixed
  reference and a ``symbol`` the ladder is placed in ``on_start``, otherwise on the first bar
  (after that bar, so it can fill from the next one).
- When a buy at level ``k`` fills, a sell limit for the filled quantity goes to level
  ``k + 1``; when a sell at level ``k`` fills, a buy goes to level ``k - 1``. The counter
  order sits one level from the order's own level, not from its fill price: a gap fill at a
  better price must not shift the grid off its lattice.
- Risk: an order is placed only if, should it and every open order on the same side fill,
  ``|position|`` stays within ``max_position`` (default ``levels × qty``); otherwise it is
  skipped (and logged), not retried. Levels at a price <= 0 are skipped too.
- Stop: the grid cancels its resting orders; the position is left as it is.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from algotrade.core.events import (
    Bar,
    OrderCancelled,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    OrderSide,
)
from algotrade.core.money import ZERO, to_decimal
from algotrade.core.orders import OrderRequest, OrderType
from algotrade.core.strategy import Strategy, StrategyParams

HUNDRED = Decimal(100)


class GridParams(StrategyParams):
    levels: int = Field(default=5, ge=1, description="limit orders per side")
    spacing_pct: Decimal = Field(
        default=Decimal("0.5"), gt=0, description="distance between levels, % of reference"
    )
    qty: Decimal = Field(default=Decimal(1), gt=0, description="order size per level in units")
    reference: Literal["first_close"] | Decimal = Field(
        default="first_close", description='"first_close" or a fixed reference price'
    )
    max_position: Decimal | None = Field(
        default=None, gt=0, description="largest |position| allowed (default levels × qty)"
    )
    symbol: str | None = Field(
        default=None, min_length=1, description="symbol to trade (default: first one seen)"
    )

    @field_validator("reference", mode="before")
    @classmethod
    def _first_close_or_positive_price(cls, value: object) -> object:
        # One clear message instead of pydantic's error per member of the union.
        if value == "first_close":
            return value
        try:
            price = to_decimal(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, ArithmeticError):
            price = None
        if price is None or price <= 0:
            raise ValueError('reference must be "first_close" or a positive price')
        return price

    @field_validator("spacing_pct")
    @classmethod
    def _lowest_level_positive(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        levels = info.data.get("levels")
        if levels is not None and levels * value >= HUNDRED:
            raise ValueError(
                f"levels × spacing_pct ({levels} × {value}) must be below 100, "
                "or the lowest buy level is at or below zero"
            )
        return value


class Grid(Strategy):
    name = "grid"
    Params = GridParams

    def on_start(self) -> None:
        p = self.params
        self._symbol: str | None = p.symbol
        self._max_position: Decimal = (
            p.max_position if p.max_position is not None else p.levels * p.qty
        )
        self._reference: Decimal | None = None
        self._step = ZERO
        # client order id → (level index, remaining qty) of our resting grid orders.
        self._levels: dict[str, tuple[int, Decimal]] = {}
        if self._symbol is not None and isinstance(p.reference, Decimal):
            self._lay_ladder(self._symbol, p.reference)

    def on_bar(self, bar: Bar) -> None:
        if self._symbol is None:
            self._symbol = bar.symbol
        elif bar.symbol != self._symbol:
            return
        if self._reference is None:
            reference = self.params.reference
            if not isinstance(reference, Decimal):
                reference = to_decimal(bar.close)
            self._lay_ladder(bar.symbol, reference)

    def on_fill(self, fill: OrderFilled) -> None:
        entry = self._levels.get(fill.client_order_id)
        if entry is None:
            return
        level, remaining = entry
        remaining -= fill.qty
        if remaining > 0:
            self._levels[fill.client_order_id] = (level, remaining)
        else:
            del self._levels[fill.client_order_id]
        if fill.side is OrderSide.BUY:
            self._place(fill.symbol, OrderSide.SELL, level + 1, fill.qty)
        else:
            self._place(fill.symbol, OrderSide.BUY, level - 1, fill.qty)

    def on_order(self, event: OrderEvent) -> None:
        if isinstance(event, OrderRejected | OrderCancelled):
            entry = self._levels.pop(event.client_order_id, None)
            if entry is not None and isinstance(event, OrderRejected):
                self.ctx.log(f"grid level {entry[0]} order rejected: {event.reason}")

    def on_stop(self) -> None:
        for client_order_id in list(self._levels):
            self.ctx.cancel_order(client_order_id)

    # ------------------------------------------------------------------ internals
    @property
    def reference(self) -> Decimal | None:
        """The grid's level 0, once the ladder is laid."""
        return self._reference

    def level_price(self, level: int) -> Decimal:
        """Price of grid level ``level`` (0 is the reference), rounded to the tick."""
        if self._reference is None or self._symbol is None:
            raise RuntimeError("grid levels are not defined before the ladder is laid")
        raw = self._reference + level * self._step
        return self.ctx.instrument(self._symbol).round_price(raw)

    def _lay_ladder(self, symbol: str, reference: Decimal) -> None:
        p = self.params
        self._reference = reference
        self._step = reference * p.spacing_pct / HUNDRED
        for distance in range(1, p.levels + 1):
            self._place(symbol, OrderSide.BUY, -distance, p.qty)
            self._place(symbol, OrderSide.SELL, distance, p.qty)

    def _place(self, symbol: str, side: OrderSide, level: int, qty: Decimal) -> None:
        instrument = self.ctx.instrument(symbol)
        qty = instrument.round_qty(qty)
        price = self.level_price(level)
        if qty <= 0 or price <= 0:
            self.ctx.log(f"grid level {level}: skipped {side} {qty} @ {price} (not tradable)")
            return
        if not self._within_max_position(symbol, side, qty):
            self.ctx.log(
                f"grid level {level}: skipped {side} {qty} @ {price}, "
                f"|position| could exceed {self._max_position}"
            )
            return
        request = OrderRequest(symbol, side, qty, OrderType.LIMIT, limit_price=price, tag="grid")
        client_order_id = self.ctx.submit_order(request)
        if client_order_id is not None:
            self._levels[client_order_id] = (level, qty)

    def _within_max_position(self, symbol: str, side: OrderSide, qty: Decimal) -> bool:
        """Would |position| stay within the limit if this and all same-side orders filled?"""
        same_side = sum(
            (o.remaining_qty for o in self.ctx.open_orders(symbol) if o.side is side), ZERO
        )
        worst = self.ctx.position(symbol) + (same_side + qty) * side.sign
        return abs(worst) <= self._max_position

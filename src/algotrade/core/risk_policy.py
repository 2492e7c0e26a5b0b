"""The default per-bot risk policy: target-position sizing and pre-trade checks.

Account-wide rules (daily loss, lockouts, trading hours) live in the account risk engine; this
policy guards one strategy's orders: lot/tick grid, minimums, reduce-only, leverage.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from algotrade.core.errors import OrderRejectedError
from algotrade.core.events import OrderSide
from algotrade.core.orders import OrderRequest, OrderType
from algotrade.core.ports import AccountView
from algotrade.core.signals import Signal, SubmitOrder, TargetPosition


class BasicRiskPolicy:
    def __init__(self, *, max_leverage: Decimal | None = None) -> None:
        if max_leverage is not None and max_leverage <= 0:
            raise ValueError("max_leverage must be positive")
        self.max_leverage = max_leverage

    def orders_for(self, signal: Signal, account: AccountView) -> Sequence[OrderRequest]:
        if isinstance(signal, SubmitOrder):
            return [signal.request]
        if isinstance(signal, TargetPosition):
            instrument = account.instrument(signal.symbol)
            target = instrument.round_qty(signal.qty)
            current = account.position_qty(signal.symbol) + account.pending_qty(signal.symbol)
            delta = target - current
            if delta == 0:
                return []
            side = OrderSide.BUY if delta > 0 else OrderSide.SELL
            return [OrderRequest(signal.symbol, side, abs(delta), OrderType.MARKET, tag=signal.tag)]
        raise TypeError(f"unknown signal {signal!r}")  # pragma: no cover

    def check(self, request: OrderRequest, account: AccountView) -> None:
        self.checked_budget(request, account)

    def checked_budget(self, request: OrderRequest, account: AccountView) -> Decimal | None:
        """``check``, returning equity × ``max_leverage`` when the leverage check valued the
        account for this order (an order adding exposure at a known price), else None: a
        subclass with limits of its own on that budget needs no second valuation."""
        instrument = account.instrument(request.symbol)
        if instrument.round_qty(request.qty) != request.qty:
            raise OrderRejectedError(
                f"qty {request.qty} is not a multiple of lot size {instrument.lot_size}"
            )
        if request.qty < instrument.min_qty:
            raise OrderRejectedError(f"qty {request.qty} is below minimum {instrument.min_qty}")
        for name, price in (
            ("limit_price", request.limit_price),
            ("stop_price", request.stop_price),
        ):
            if price is not None and instrument.round_price(price) != price:
                raise OrderRejectedError(
                    f"{name} {price} is not on tick size {instrument.tick_size}"
                )
        if instrument.min_notional <= 0 and self.max_leverage is None:
            ref_price = None  # nothing below needs it: no mark conversion per order
        else:
            ref_price = request.limit_price or request.stop_price
            if ref_price is None:
                ref_price = account.mark_price(request.symbol)
        if ref_price is not None and instrument.min_notional > 0:
            notional = request.qty * ref_price * instrument.multiplier
            if notional < instrument.min_notional:
                raise OrderRejectedError(
                    f"order value {notional} is below minimum {instrument.min_notional}"
                )
        position = account.position_qty(request.symbol)
        if request.reduce_only and (
            position == 0 or (position > 0) == (request.side is OrderSide.BUY)
        ):
            raise OrderRejectedError("reduce-only order would not reduce the position")
        if self.max_leverage is None or ref_price is None:
            return None
        projected = abs(position + request.qty * request.side.sign)
        if projected <= abs(position):
            return None  # reducing: no valuation of the account needed
        exposure = projected * ref_price * instrument.multiplier
        limit = account.equity() * self.max_leverage
        if exposure > limit:
            raise OrderRejectedError(
                f"position value {exposure} would exceed {self.max_leverage}x equity ({limit})"
            )
        return limit

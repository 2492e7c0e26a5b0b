"""Orders a bot sends on someone else's behalf: risk enforcement and "close all".

They go out even while the strategy's own signals are suppressed (a paused bot, a bot in
warm-up): the suppression is lifted for these orders only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from algotrade.core.engine import Engine
from algotrade.core.events import OrderSide
from algotrade.core.orders import OrderRequest, OrderType

ZERO = Decimal(0)


@contextmanager
def unsuppressed(engine: Engine) -> Iterator[Engine]:
    suppressed, engine.suppress_orders = engine.suppress_orders, False
    try:
        yield engine
    finally:
        engine.suppress_orders = suppressed


def cancel_orders(engine: Engine, symbol: str, order_id: str, keep_protective: bool) -> None:
    """Cancel one order (``order_id``) or all of ``symbol`` (all symbols when empty), keeping
    protective stops and reduce-only orders unless told otherwise."""
    for order in engine.open_orders(symbol or None):
        request = order.request
        protective = request.reduce_only or request.type is OrderType.STOP
        if order_id and order.client_order_id != order_id:
            continue
        if keep_protective and protective and not order_id:
            continue
        engine.cancel_order(order.client_order_id)


def close_position(engine: Engine, symbol: str, qty: Decimal) -> Decimal:
    """Close up to ``|qty|`` of the ``symbol`` position in the direction of ``qty`` (reduce
    only, after cancelling the symbol's orders); returns the qty sent."""
    held = engine.position(symbol)
    if not held or (held > 0) == (qty > 0):
        return ZERO
    sent = min(abs(held), abs(qty))
    side = OrderSide.BUY if qty > 0 else OrderSide.SELL
    engine.cancel_all(symbol)
    engine.submit_order(OrderRequest(symbol, side, sent, reduce_only=True, tag="risk"))
    return sent


def close_all(engine: Engine) -> None:
    """Cancel every open order and flatten every position (reduce only)."""
    engine.cancel_all()
    for symbol, position in list(engine.portfolio.positions.items()):
        if position.qty:
            side = OrderSide.SELL if position.qty > 0 else OrderSide.BUY
            request = OrderRequest(
                symbol, side, abs(position.qty), reduce_only=True, tag="close_all"
            )
            engine.submit_order(request)

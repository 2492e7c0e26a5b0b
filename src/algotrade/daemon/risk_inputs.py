"""A bot's orders and fills as the risk engine's events (the daemon's clock is their time)."""

from __future__ import annotations

from algotrade.core.events import OrderFilled
from algotrade.core.orders import Order, OrderRequest
from algotrade.risk.events import AccountFill, OrderIntent, OrderUpdate

__all__ = ["bot_fill", "bot_intent", "bot_order"]


def bot_intent(account_id: str, bot_id: str, request: OrderRequest, ts: int) -> OrderIntent:
    """A bot's order before it is sent (the pre-trade check's input)."""
    return OrderIntent(
        account_id,
        ts,
        request.symbol,
        request.side.value,
        request.qty,
        request.type.value,
        request.limit_price or request.stop_price,
        request.reduce_only,
        bot_id,
    )


def bot_fill(account_id: str, bot_id: str, fill: OrderFilled, ts: int) -> AccountFill:
    return AccountFill(
        account_id,
        ts,
        fill.symbol,
        fill.side.value,
        fill.qty,
        fill.price,
        fill.fee,
        None,
        fill.client_order_id,
        bot_id,
    )


def bot_order(account_id: str, bot_id: str, order: Order, ts: int) -> OrderUpdate:
    request = order.request
    return OrderUpdate(
        account_id,
        ts,
        order.client_order_id,
        request.symbol,
        request.side.value,
        request.type.value,
        request.qty,
        "open" if order.is_open else order.status.value,
        request.limit_price,
        request.stop_price,
        request.reduce_only,
        bot_id,
    )

"""The account guard's enforcement at the venue: cancel orders, close positions.

Both read the account's open orders and positions over REST first, so they act on the venue's
state as it is now, never on a stale copy: an order no longer open counts as cancelled, and a
close never sends more than is held (so it can never reverse a position). An open order whose
status the gateway does not document cannot be read, so it cannot be shown to protect the
position: it is cancelled too (by its id).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from algotrade.venues.projectx.errors import ProjectXError, ProjectXOrderRejected
from algotrade.venues.projectx.guard_records import is_reducing, signed_size
from algotrade.venues.projectx.http import ProjectXHttp

__all__ = ["cancel_orders", "close_position"]

ZERO = Decimal(0)


async def cancel_orders(
    http: ProjectXHttp,
    account_id: int,
    symbol_of: Callable[[str], Awaitable[str]],
    symbol: str | None,
    order_id: str | None,
    keep_protective: bool,
) -> int:
    """Cancel ``order_id``, or every open order (of ``symbol`` when given); with
    ``keep_protective`` not the orders that only reduce a position. How many were cancelled."""
    if order_id:
        return await _cancel(http, account_id, _order_id(order_id))
    orders = await http.search_open_orders(account_id=account_id)
    positions = await http.search_open_positions(account_id=account_id)
    held = {p.contract_id: signed_size(p) for p in positions}
    cancelled = 0
    for order in orders:
        if symbol and await symbol_of(order.contract_id) != symbol:
            continue
        if keep_protective and is_reducing(order, held.get(order.contract_id, ZERO)):
            continue
        cancelled += await _cancel(http, account_id, order.id)
    for unread in orders.unreadable:
        if symbol and (unread.contract_id is None or await symbol_of(unread.contract_id) != symbol):
            continue
        cancelled += await _cancel(http, account_id, unread.order_id)
    return cancelled


async def _cancel(http: ProjectXHttp, account_id: int, order_id: int) -> int:
    try:
        await http.cancel_order(account_id=account_id, order_id=order_id)
    except ProjectXOrderRejected:
        still = await http.search_open_orders(account_id=account_id)
        listed = [o.id for o in still] + [u.order_id for u in still.unreadable]
        if order_id in listed:
            raise
        return 0  # filled or cancelled meanwhile: nothing left to cancel
    return 1


async def close_position(
    http: ProjectXHttp, account_id: int, contract_id: str, qty: Decimal | None
) -> Decimal:
    """Close ``qty`` (None: all) of the position in ``contract_id``, at most what is held:
    ``Position/closeContract`` for all of it (after cancelling the contract's open orders,
    which would open a new position once it is flat: its stop, its take profit),
    ``partialCloseContract`` for part (the orders protecting the rest stay)."""
    positions = await http.search_open_positions(account_id=account_id)
    held = next((signed_size(p) for p in positions if p.contract_id == contract_id), ZERO)
    size = abs(held) if qty is None else min(abs(qty), abs(held))
    contracts = int(size)  # whole contracts; a fraction is never closed
    if contracts <= 0:
        return ZERO
    if contracts == abs(held):
        orders = await http.search_open_orders(account_id=account_id)
        for order_id in [o.id for o in orders if o.contract_id == contract_id] + [
            u.order_id for u in orders.unreadable if u.contract_id == contract_id
        ]:
            await _cancel(http, account_id, order_id)
        await http.close_position(account_id=account_id, contract_id=contract_id)
    else:
        await http.partial_close_position(
            account_id=account_id, contract_id=contract_id, size=contracts
        )
    return Decimal(contracts)


def _order_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ProjectXError(f"order id {text!r} is not a ProjectX order id") from None

"""A bot's first engine continues from the store: its order numbering and its open orders."""

from __future__ import annotations

from collections.abc import Callable

from algotrade.core.engine import Engine
from algotrade.core.ports import ExecutionVenue
from algotrade.daemon import persist
from algotrade.daemon.bot_handle import ActorContext
from algotrade.daemon.venues import RecoversOrders


async def adopt_stored_orders(
    engine: Engine,
    venue: ExecutionVenue,
    bot_id: str,
    ctx: ActorContext,
    warn: Callable[[str, str], None],
) -> None:
    """Continue the stored order ids and adopt the stored open orders (with the trade ids
    booked for them); a venue that can look orders up is asked about the next ids too: a
    crash can come between sending an order and recording it. ``warn(kind, message)`` goes
    to the bot's log."""
    prefix = f"{bot_id}-"
    engine.restore_order_sequence(await ctx.max_order_seq(bot_id, prefix))
    load_ids = ctx.load_open_order_trade_ids
    booked = await load_ids(bot_id) if load_ids is not None else {}
    for record in await ctx.load_open_orders(bot_id):
        fill_ids = booked.get(record.client_order_id)
        engine.adopt_open_order(persist.order_from_record(record, fill_ids))
    if isinstance(venue, RecoversOrders):
        for order in await venue.unrecorded_orders(prefix, engine.order_sequence):
            engine.restore_order_sequence(int(order.client_order_id[len(prefix) :]))
            engine.adopt_open_order(order)
            warn("recovered", f"{order.client_order_id}: found at the venue")

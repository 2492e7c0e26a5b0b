"""The state every ccxt bot venue keeps, and how it aligns an order with the venue's view.

``VenueOrders`` holds the bot's open orders and emits core order events to the engine (only
legal transitions, in order); ``_align`` brings a local order in line with what a lookup or an
adoption found at the venue (accepted, resized by an amendment before a restart, executions
fetched by order id, ended). ``amending.py`` and ``execution.py`` build on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from algotrade.core.events import (
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderEvent,
    OrderRejected,
)
from algotrade.core.money import decimal_text
from algotrade.core.orders import Order, OrderStatus, OrderType
from algotrade.core.ports import VenueEventSink
from algotrade.venues.ccxt.errors import VENUE_ERRORS
from algotrade.venues.ccxt.model import NS_PER_MS, VenueFill, VenueOrder
from algotrade.venues.live.order_events import deliver

if TYPE_CHECKING:
    from algotrade.venues.ccxt.account import CcxtAccount

__all__ = ["VenueOrders"]

_log = logging.getLogger("algotrade.venues.ccxt")
FILL_SYNC_DELAY_S = 3.0
LOOKUP_ATTEMPTS = 5
LOOKUP_BACKOFF_S = 0.2  # doubled after each failed lookup, up to 5 s


class VenueOrders:
    simulated = False

    def __init__(
        self,
        account: CcxtAccount,
        bot_id: str,
        symbol: str,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._account = account
        self.name = account.venue_name
        self.bot_id = bot_id
        self.symbol = symbol
        self._on_error = on_error
        self._sink: VenueEventSink | None = None
        self._orders: dict[str, Order] = {}  # client order id → open (or recent) order
        self._placing: dict[str, asyncio.Event] = {}  # placement in flight → done
        self._amending: dict[str, tuple[Decimal | None, Decimal | None]] = {}
        self.resends = 0
        self.lookups = 0

    # ------------------------------------------------------------------ port
    # ------------------------------------------------------------------ routed to by the account
    def on_venue_fill(self, client_order_id: str, fill: VenueFill) -> bool:
        raise NotImplementedError

    def on_venue_order(self, client_order_id: str, update: VenueOrder) -> None:
        raise NotImplementedError

    def recheck(self, client_order_id: str, *, skip_symbols: set[str]) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ aligning
    async def _recheck(self, order: Order) -> None:
        ok, found = await self._lookup(order)
        if ok and found is not None:
            await self._align(order, found)

    def _reject(self, order: Order, reason: str) -> None:
        if order.status is OrderStatus.NEW:
            self._emit(order, OrderRejected(order.client_order_id, reason, self._ts()))

    async def _lookup(self, order: Order) -> tuple[bool, VenueOrder | None]:
        """(True, the venue's view of the order or ``None`` if it has none), or (False,
        None) when the lookups keep failing."""
        link = self._account.link_id(order.client_order_id)
        for attempt in range(LOOKUP_ATTEMPTS):
            self.lookups += 1
            try:
                return True, await self._account.rest.find_order(order.symbol, link)
            except VENUE_ERRORS as exc:
                _log.warning("looking up %s failed (%s); retrying", link, exc)
                await asyncio.sleep(min(LOOKUP_BACKOFF_S * 2**attempt, 5.0))
        return False, None

    async def _align(self, order: Order, found: VenueOrder) -> None:
        """Bring the local order in line with the venue's (a lookup or an adoption)."""
        coid = order.client_order_id
        self._account.note_order_id(found.order_id, found.link_id)
        ts = found.updated_ms * NS_PER_MS or self._ts()
        if order.status is OrderStatus.NEW and not found.is_rejected:
            self._emit(order, OrderAccepted(coid, found.order_id, ts))
        if found.cum_qty > order.filled_qty and order.is_open:
            if found.qty > order.qty:  # grown by an amendment before a restart: fit it first
                self._follow_size(order, found)
            since = min(found.created_ms or order.created_ts // NS_PER_MS, _placed_ms(order))
            await self._account.sync_fills_of(order.symbol, found.order_id, since)
        if found.is_open:
            self._follow_size(order, found)
        elif found.ended_unfilled and order.is_open:
            self._emit(order, self._ended(order, found))
        elif found.is_filled and order.is_open:
            await self._settle_filled(order, found)

    def _follow_size(self, order: Order, found: VenueOrder) -> None:
        """The venue's size/price of an order we did not amend in this run (amended before a
        restart): adopt it, so its executions fit."""
        if order.client_order_id in self._amending or not order.is_open:
            return
        request = order.request
        price = found.price if request.type is OrderType.LIMIT else None
        changed = found.qty != request.qty or (price is not None and price != request.limit_price)
        if changed and found.qty >= order.filled_qty:
            self._emit(
                order, OrderAmended(order.client_order_id, found.qty, price, None, self._ts())
            )

    async def _after_placement(self, order: Order) -> None:
        placing = self._placing.get(order.client_order_id)
        if placing is not None:
            await placing.wait()

    async def _wait_filled(self, order: Order, filled: Decimal, order_id: str) -> None:
        deadline = asyncio.get_running_loop().time() + FILL_SYNC_DELAY_S
        while order.filled_qty < filled and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        if order.filled_qty < filled and order.client_order_id in self._orders:
            await self._account.sync_fills_of(order.symbol, order_id, _placed_ms(order))

    async def _end_after_fills(self, order: Order, update: VenueOrder) -> None:
        await self._wait_filled(order, update.cum_qty, update.order_id)
        if order.is_open:
            self._emit(order, self._ended(order, update))

    async def _settle_filled(self, order: Order, update: VenueOrder) -> None:
        """The venue says the order is filled: book its executions; what the venue never had
        (a reduce-only order cut to the position's size) is cancelled."""
        await self._wait_filled(order, update.cum_qty, update.order_id)
        if not order.is_open:
            return
        if order.filled_qty < update.cum_qty:
            self._account.report(
                f"order {order.client_order_id} is filled at the venue but only "
                f"{decimal_text(order.filled_qty)} of {decimal_text(update.cum_qty)} was found",
                block_symbol=order.symbol,
            )
            return
        self._emit(
            order,
            OrderCancelled(
                order.client_order_id,
                f"the venue filled {decimal_text(update.cum_qty)} of "
                f"{decimal_text(order.qty)} (reduce-only: cut to the position)",
                self._ts(),
            ),
        )

    def _ended(self, order: Order, update: VenueOrder) -> OrderCancelled | OrderRejected:
        reason = update.end_reason
        if update.is_rejected and order.status is OrderStatus.NEW:
            return OrderRejected(order.client_order_id, reason, update.updated_ms * NS_PER_MS)
        return OrderCancelled(
            order.client_order_id, reason, update.updated_ms * NS_PER_MS or self._ts()
        )

    def _track(self, order: Order) -> None:
        self._orders[order.client_order_id] = order
        link = self._account.link_id(order.client_order_id)
        self._account.register(link, self, order.client_order_id, order.venue_order_id)

    def _ts(self) -> int:
        return time.time_ns()

    def _emit(self, order: Order, event: OrderEvent) -> None:
        deliver(self._sink, event, self.name, self.bot_id, self._on_error, _log)
        if not order.is_open:
            coid = order.client_order_id
            self._orders.pop(coid, None)
            self._account.unregister(self._account.link_id(coid), self, order.venue_order_id)


def _placed_ms(order: Order) -> int:
    """A time (ms) at or before the order was sent: its creation (the bar's time) less a
    minute of slack; the last 7 days when it has none."""
    if order.created_ts <= 0:
        return time.time_ns() // NS_PER_MS - 7 * 86_400_000
    return order.created_ts // NS_PER_MS - 60_000

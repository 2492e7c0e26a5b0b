"""Amending a resting order (``ExecutionVenue.amend``) on a ccxt venue.

Checked against the instrument's rules first (``OrderAmendRejected`` naming the rule, nothing
sent); one amendment per order in flight; sent once its placement is resolved. The amendment
is applied (``OrderAmended``) when the venue confirms it — the REST reply, or the order stream
showing the new size and price, whichever comes first: executions of the grown order can
arrive before the reply, and the account holds back an execution larger than what is left
until then. A reply of unknown outcome is resolved by looking the order up.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from algotrade.core.events import OrderAmended, OrderAmendRejected
from algotrade.core.orders import Order
from algotrade.venues.ccxt.errors import VENUE_ERRORS, OrderFinished, OrderUnknown, VenueRefused
from algotrade.venues.ccxt.model import VenueOrder
from algotrade.venues.ccxt.rules import check_amend
from algotrade.venues.ccxt.venue_orders import VenueOrders

__all__ = ["Amending"]

_log = logging.getLogger("algotrade.venues.ccxt")


class Amending(VenueOrders):
    def amend(
        self,
        client_order_id: str,
        *,
        qty: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        order = self._orders.get(client_order_id)
        if order is None or not order.is_open:
            return
        info = self._account.instruments_info.get(order.symbol)
        try:
            if stop_price is not None:
                raise VenueRefused("amend: stop orders are not supported on this venue yet")
            if client_order_id in self._amending:
                raise VenueRefused("amend: an amendment of this order is in flight")
            assert info is not None
            check_amend(order.request, info, order.filled_qty, qty, limit_price)
        except VenueRefused as exc:
            self._emit(order, OrderAmendRejected(client_order_id, str(exc), self._ts()))
            return
        self._amending[client_order_id] = (qty, limit_price)
        self._account.spawn(
            self._amend(order, qty, limit_price), f"amend:{client_order_id}", order.symbol
        )

    async def _amend(self, order: Order, qty: Decimal | None, price: Decimal | None) -> None:
        coid = order.client_order_id
        try:
            await self._after_placement(order)
            if not order.is_open:
                return
            link = self._account.link_id(coid)
            try:
                await self._account.rest.amend(order.symbol, link, qty, price)
            except (OrderUnknown, OrderFinished) as exc:
                self._emit(order, OrderAmendRejected(coid, str(exc), self._ts()))
                await self._recheck(order)
                return
            except VenueRefused as exc:
                self._emit(order, OrderAmendRejected(coid, str(exc), self._ts()))
                return
            except VENUE_ERRORS as exc:
                # Unknown outcome: the venue's view of the order decides.
                _log.warning("amending %s: %s; looking it up", coid, exc)
                _, found = await self._lookup(order)
                if found is not None and _matches(found, qty, price):
                    self._apply_amend(order, qty, price)
                else:
                    self._emit(
                        order, OrderAmendRejected(coid, f"venue unavailable: {exc}", self._ts())
                    )
                return
            self._apply_amend(order, qty, price)
        finally:
            self._amending.pop(coid, None)
            self._account.reoffer()

    def _confirm_amend(self, order: Order, update: VenueOrder) -> None:
        """The order stream shows the amendment we asked for: apply it now (its executions
        may come before the REST reply)."""
        wanted = self._amending.get(order.client_order_id)
        if wanted is not None and _matches(update, *wanted):
            self._apply_amend(order, *wanted)
            self._account.reoffer()

    def _apply_amend(self, order: Order, qty: Decimal | None, price: Decimal | None) -> None:
        if not order.is_open:
            return
        request = order.request
        new_qty = request.qty if qty is None else qty
        new_price = request.limit_price if price is None else price
        if new_qty == request.qty and new_price == request.limit_price:
            return  # applied already (the stream was first)
        self._emit(order, OrderAmended(order.client_order_id, new_qty, price, None, self._ts()))


def _matches(order: VenueOrder, qty: Decimal | None, price: Decimal | None) -> bool:
    return (qty is None or order.qty == qty) and (price is None or order.price == price)

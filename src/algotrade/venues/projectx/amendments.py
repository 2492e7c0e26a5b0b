"""Amending a bot's resting ProjectX order, and following changes made at the venue.

``send`` asks ``Order/modify`` (size = the new total, limit/stop price) and answers with
``OrderAmended`` or ``OrderAmendRejected``; a reply that never came is resolved by looking the
order up by its tag, never by sending the modification again. ``follow`` turns a live order
whose size or price differs at the venue (changed by us, or by a person on the platform)
into ``OrderAmended``. Stale views are not followed: an event older than the one our own
amendment awaits, or a reconciliation snapshot read before our last amendment.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING

from algotrade.core.events import OrderAmended, OrderAmendRejected
from algotrade.core.orders import Order
from algotrade.venues.projectx.errors import (
    VENUE_ERRORS,
    ProjectXOrderRejected,
    ProjectXPayloadError,
    ProjectXRequestTimeout,
)
from algotrade.venues.projectx.order_rules import LIVE, Values, venue_ts, venue_values
from algotrade.venues.projectx.schemas import Order as PxOrder

if TYPE_CHECKING:
    from algotrade.venues.projectx.venue import ProjectXVenue

__all__ = ["Amendments"]

WANT_TTL_S = 10.0  # how long an amendment's own event is awaited before any event counts


class Amendments:
    def __init__(self, venue: ProjectXVenue) -> None:
        self._v = venue
        self._want: dict[str, tuple[Values, float]] = {}  # coid → (values awaited, until)
        self._changed_at: dict[str, float] = {}  # coid → when our amendment changed it

    def forget(self, coid: str) -> None:
        self._want.pop(coid, None)
        self._changed_at.pop(coid, None)

    async def send(
        self,
        order: Order,
        order_id: int,
        qty: Decimal | None,
        limit: Decimal | None,
        stop: Decimal | None,
    ) -> None:
        venue, coid, request = self._v, order.client_order_id, order.request
        connection = venue.connection
        wanted = (
            request.qty if qty is None else qty,
            request.limit_price if limit is None else limit,
            request.stop_price if stop is None else stop,
        )
        self._want[coid] = (wanted, time.monotonic() + WANT_TTL_S)
        try:
            await connection.modify(
                order_id,
                size=None if qty is None else int(qty),
                limit_price=limit,
                stop_price=stop,
            )
        except ProjectXOrderRejected as exc:
            self._want.pop(coid, None)
            venue.emit(order, OrderAmendRejected(coid, f"venue: {exc}", connection.now_ns()))
        except (ProjectXRequestTimeout, ProjectXPayloadError) as exc:
            self._want.pop(coid, None)
            await self._resolve(order, wanted, exc)
        except VENUE_ERRORS as exc:
            self._want.pop(coid, None)
            reason = f"venue unavailable: {exc}"
            venue.emit(order, OrderAmendRejected(coid, reason, connection.now_ns()))
        else:
            self._changed_at[coid] = time.monotonic()
            self._amended(order, wanted, connection.now_ns())

    def follow(self, order: Order, px: PxOrder, as_of: float | None) -> None:
        """A live order's values at the venue (``as_of``: when a snapshot was read)."""
        coid = order.client_order_id
        values = venue_values(order, px)
        want = self._want.get(coid)
        if want is not None:
            if values == want[0] or time.monotonic() > want[1]:
                del self._want[coid]
            if values != want[0]:
                return
        if as_of is not None and as_of < self._changed_at.get(coid, 0.0):
            return
        self._amended(order, values, venue_ts(px))

    def _amended(self, order: Order, values: Values, ts: int) -> None:
        request = order.request
        if order.is_open and values != (request.qty, request.limit_price, request.stop_price):
            if values[0] < order.filled_qty:
                return
            coid = order.client_order_id
            self._v.emit(order, OrderAmended(coid, values[0], values[1], values[2], ts))

    async def _resolve(self, order: Order, wanted: Values, exc: Exception) -> None:
        venue, coid = self._v, order.client_order_id
        found, _ = await venue.lookup(order, venue.tag_of(order), attempts=2)
        if found is not None and found.status in LIVE and venue_values(order, found) == wanted:
            self._changed_at[coid] = time.monotonic()
            self._amended(order, wanted, venue_ts(found))
            return
        shown = "cannot be asked" if found is None else f"shows it {found.status.name.lower()}"
        reason = f"no reply to Order/modify ({exc}) and the venue {shown}; not sent again"
        venue.emit(order, OrderAmendRejected(coid, reason, venue.connection.now_ns()))
        if found is not None:
            await venue.align(order, found)

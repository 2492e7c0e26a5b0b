"""Amending a bot's resting order on Hyperliquid (the ``modify`` exchange action).

Hyperliquid carries out a modify as a cancel-replace: the order gets a **new oid** under the
same cloid, sized with what is left to fill (``s`` = new total − filled), and the streams say
so out of order (``open`` for the new oid, ``canceled`` for the old one, around the HTTP
reply). So, per order:

- one amendment at a time; while it is in flight the order's status updates, and its fills
  under any oid but the old one, are held, then replayed once the reply is in;
- accepted → ``OrderAmended`` with the venue's truth: total = filled + the size now resting;
  the old oid is remembered as replaced and its ``canceled`` ignored for good; what the old
  oid(s) filled is the order's *base*, added to the new oid's ``origSz - sz`` when the venue
  ends the order, so its last fills are awaited before it is cancelled;
- refused → ``OrderAmendRejected`` naming the venue's reason (the order stays as it was); a
  refusal by the venue is followed by a look-up by cloid, since a modify whose new order
  failed to place has cancelled the old one ("Error placing new order during modify");
- no answer (timeout, unreadable reply) → the order is looked up: a new open oid means the
  modify happened (``OrderAmended`` with that oid's size), else it is reported refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING

from algotrade.core.events import OrderAmended, OrderAmendRejected
from algotrade.core.orders import Order, OrderRequest, OrderStatus, OrderType
from algotrade.venues.hyperliquid.errors import (
    VENUE_ERRORS,
    HlOrderRejected,
    HlPayloadError,
    HlRequestTimeout,
)
from algotrade.venues.hyperliquid.schemas import Fill, OrderUpdate

if TYPE_CHECKING:
    from algotrade.venues.hyperliquid.execution import HyperliquidVenue

_log = logging.getLogger("algotrade.venues.hyperliquid")
ZERO = Decimal(0)


@dataclass(slots=True)
class _InFlight:
    old_oid: int
    held: list[Callable[[], None]] = field(default_factory=list)


class Amendments:
    """The amendments of one bot's venue (``HyperliquidVenue``): a part of that venue, split off
    by noun, so it uses the venue's internals (its account, look-ups, emitting)."""

    def __init__(self, venue: HyperliquidVenue) -> None:
        self._venue = venue
        self._in_flight: dict[str, _InFlight] = {}
        self._replaced: dict[str, set[int]] = {}  # client order id → oids a modify replaced
        self._base: dict[str, Decimal] = {}  # client order id → filled under earlier oids

    # ------------------------------------------------------------------ from the engine
    def request(
        self,
        client_order_id: str,
        qty: Decimal | None,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
    ) -> None:
        venue = self._venue
        order = venue.order(client_order_id)
        if order is None or not order.is_open:
            self._refuse_now(client_order_id, "the order is not open")
            return
        old_oid = venue.current_oid(order)
        reason = None
        if order.status is OrderStatus.NEW or old_oid is None:
            reason = "the order is not acknowledged by the venue yet"
        elif client_order_id in self._in_flight:
            reason = "an earlier amendment of this order is still in flight"
        elif order.request.type is OrderType.MARKET:
            reason = "a market order does not rest; nothing to amend"
        if reason is not None:
            self._refuse_now(client_order_id, reason)
            return
        assert old_oid is not None
        request = order.request
        try:
            amended = replace(
                request,
                qty=request.qty if qty is None else qty,
                limit_price=request.limit_price if limit_price is None else limit_price,
                stop_price=request.stop_price if stop_price is None else stop_price,
            )
        except (TypeError, ValueError) as exc:
            self._refuse_now(client_order_id, str(exc))
            return
        if amended.qty <= order.filled_qty:
            self._refuse_now(
                client_order_id, f"qty {amended.qty} is not above the filled {order.filled_qty}"
            )
            return
        self._in_flight[client_order_id] = _InFlight(old_oid)
        venue._account.spawn(
            self._modify(order, amended), f"hl-modify:{client_order_id}", order.symbol
        )

    # ------------------------------------------------------------------ from the streams
    def hold_status(self, client_order_id: str, update: OrderUpdate) -> bool:
        """True when the update must not be applied now: it is for an oid a modify replaced
        (ignored), or an amendment is in flight (held, replayed after its reply)."""
        if update.order.oid in self._replaced.get(client_order_id, ()):
            return True
        flight = self._in_flight.get(client_order_id)
        if flight is None:
            return False
        flight.held.append(lambda: self._venue.on_venue_status(client_order_id, update))
        return True

    def hold_fill(self, client_order_id: str, fill: Fill) -> bool:
        """True when the fill is of the replacement of an order whose amendment is in flight:
        held until ``OrderAmended`` has set the order's new size."""
        flight = self._in_flight.get(client_order_id)
        if flight is None or fill.oid == flight.old_oid:
            return False
        flight.held.append(lambda: self._venue.on_venue_fill(client_order_id, fill))
        return True

    def base(self, client_order_id: str) -> Decimal:
        """What the order filled under oids a modify replaced."""
        return self._base.get(client_order_id, ZERO)

    def aligned(self, order: Order, update: OrderUpdate) -> None:
        """The venue's current view of an order (adoption after a restart, a look-up): an
        order amended before has a current oid sized below its total; the difference is
        what its earlier oids filled."""
        coid = order.client_order_id
        if coid in self._base or not order.filled_qty or order.request.reduce_only:
            return
        earlier = order.qty - update.order.orig_sz
        if earlier > 0:
            self._base[coid] = min(order.filled_qty, earlier)

    def forget(self, client_order_id: str) -> None:
        """The order is closed."""
        self._replaced.pop(client_order_id, None)
        self._base.pop(client_order_id, None)

    # ------------------------------------------------------------------ the request
    async def _modify(self, order: Order, amended: OrderRequest) -> None:
        venue = self._venue
        size = amended.qty - order.filled_qty
        spec = venue._spec_for(order.client_order_id, amended, size)
        try:
            await venue._account.modify(spec)
        except HlOrderRejected as exc:
            await self._refused(order, str(exc), look_up=exc.rule == "venue")
            return
        except (HlRequestTimeout, HlPayloadError) as exc:
            await self._unknown_outcome(order, amended, exc)
            return
        except VENUE_ERRORS as exc:  # throttled, refused or unreachable: the venue did not act
            await self._refused(order, f"venue unavailable: {exc}", look_up=False)
            return
        self._applied(order, amended, size)

    async def _unknown_outcome(self, order: Order, amended: OrderRequest, exc: Exception) -> None:
        coid = order.client_order_id
        flight = self._in_flight.get(coid)
        _log.warning("amending %s: %s; looking it up", coid, exc)
        reply = await self._venue._lookup(order)
        current = reply.order if reply is not None and reply.known else None
        old_oid = flight.old_oid if flight is not None else None
        if current is not None and current.is_open and current.order.oid != old_oid:
            self._applied(order, amended, current.order.orig_sz)
            return
        await self._refused(order, f"no answer from the venue ({exc}); not amended", False)

    def _applied(self, order: Order, amended: OrderRequest, size: Decimal) -> None:
        coid = order.client_order_id
        flight = self._in_flight.pop(coid, None)
        if flight is not None:
            self._replaced.setdefault(coid, set()).add(flight.old_oid)
        if order.is_open:
            self._base[coid] = order.filled_qty
            # The venue's truth: what has filled plus what now rests.
            event = OrderAmended(
                coid,
                order.filled_qty + size,
                amended.limit_price if amended.type is OrderType.LIMIT else None,
                amended.stop_price if amended.type is OrderType.STOP else None,
                self._venue._ts(),
            )
            self._venue._emit(order, event)
        self._replay(flight)

    async def _refused(self, order: Order, reason: str, look_up: bool) -> None:
        coid = order.client_order_id
        flight = self._in_flight.pop(coid, None)
        if order.is_open:
            rejected = OrderAmendRejected(coid, f"hyperliquid: {reason}", self._venue._ts())
            self._venue._emit(order, rejected)
        self._replay(flight)
        if look_up and order.is_open:  # a failed cancel-replace may have cancelled it
            await self._venue._recheck(order)

    def _replay(self, flight: _InFlight | None) -> None:
        for replay in flight.held if flight is not None else ():
            replay()

    def _refuse_now(self, client_order_id: str, reason: str) -> None:
        event = OrderAmendRejected(client_order_id, f"hyperliquid: {reason}", self._venue._ts())
        self._venue.emit_event(event)

"""``CcxtVenue``: one bot's execution venue on a shared ccxt venue account.

The engine calls ``submit``/``adopt``/``cancel``/``amend`` synchronously; each becomes a task
on the account's loop and its outcome comes back as core order events:

- a local instrument rule violation (tick, step, min/max qty, min value, unsupported type) →
  ``OrderRejected`` (``OrderAmendRejected``) naming the rule; nothing is sent;
- every order carries our client order id as the venue's client id (Bybit ``orderLinkId``,
  ``model.link_id_for``); placed → ``OrderAccepted`` with the venue's order id; executions
  come from the private stream (or from REST when it is late) → ``OrderFilled``; the order
  stream's end states → ``OrderCancelled``/``OrderRejected``, after the fills before them;
- a placement whose outcome is unknown (timeout, 5xx, broken connection) is looked up by
  client id (open orders, then order history) and only sent again when the venue has never
  seen it; a duplicate client id (Bybit 110072) means an earlier attempt arrived: looked up,
  never sent again. If the lookups keep failing the symbol is blocked (fail closed);
- ``adopt`` never sends: it looks the order up and aligns (accepted / amended / filled /
  cancelled; unknown to the venue → cancelled locally);
- ``cancel`` waits for the venue's final word on the order (the order stream, or a lookup),
  so executions that raced the cancel are booked first.

Events for an order can race (an execution pushed before the placement reply): only an event
that is a legal transition for the order's current state is emitted.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from algotrade.core.events import (
    MarketEvent,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
)
from algotrade.core.money import decimal_text
from algotrade.core.orders import Order, OrderStatus, OrderType, TimeInForce
from algotrade.core.ports import VenueEventSink
from algotrade.venues.ccxt.amending import Amending
from algotrade.venues.ccxt.errors import (
    VENUE_ERRORS,
    DuplicateClientId,
    OrderFinished,
    OrderUnknown,
    OutcomeUnknown,
    RateLimited,
    VenueRefused,
)
from algotrade.venues.ccxt.model import NS_PER_MS, PlaceRequest, VenueFill, VenueOrder
from algotrade.venues.ccxt.recovery import order_from_venue
from algotrade.venues.ccxt.rules import check_order
from algotrade.venues.ccxt.venue_orders import LOOKUP_ATTEMPTS

if TYPE_CHECKING:
    pass

_log = logging.getLogger("algotrade.venues.ccxt")
_TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.POST_ONLY: "PostOnly"}
CANCEL_CONFIRM_S = 3.0


class CcxtVenue(Amending):
    """One bot's orders on a shared ccxt venue account (``core.ports.ExecutionVenue``)."""

    def bind(self, sink: VenueEventSink) -> None:
        self._sink = sink

    def submit(self, order: Order) -> None:
        coid = order.client_order_id
        if coid in self._orders:
            return  # idempotent per client order id
        info = self._account.instruments_info.get(order.symbol)
        try:
            if info is None:
                raise VenueRefused(f"symbol: {order.symbol} is not listed", rule="symbol")
            check_order(order.request, info, self._account.last_price(order.symbol))
        except VenueRefused as exc:
            self._orders[coid] = order
            self._emit(order, OrderRejected(coid, str(exc), self._ts()))
            return
        self._track(order)
        self._placing[coid] = asyncio.Event()
        self._account.spawn(self._place(order), f"place:{coid}", order.symbol)

    def adopt(self, order: Order) -> None:
        if order.client_order_id in self._orders:
            return
        self._track(order)
        self._account.spawn(self._adopt(order), f"adopt:{order.client_order_id}", None)

    def cancel(self, client_order_id: str) -> None:
        order = self._orders.get(client_order_id)
        if order is not None and order.is_open:
            self._account.spawn(self._cancel(order), f"cancel:{client_order_id}", None)

    def on_market(self, event: MarketEvent) -> None:
        """Nothing to do: the venue matches."""

    # ------------------------------------------------------------------ from the account
    def on_venue_fill(self, client_order_id: str, fill: VenueFill) -> bool:
        """Book an execution; False when it must wait (an amendment in flight grows the
        order it exceeds now)."""
        order = self._orders.get(client_order_id)
        if order is not None and fill.exec_id in order.fill_ids:
            return True
        if order is None or not order.is_open:
            _log.warning(
                "execution %s for %s which is not open locally; reconciliation will check",
                fill.exec_id,
                client_order_id,
            )
            self._account.request_reconcile()
            return True
        if fill.qty > order.remaining_qty:
            if client_order_id in self._amending:
                self._account.hold(fill)
                return False
            self._account.report(
                f"execution {fill.exec_id} of {decimal_text(fill.qty)} exceeds what is left of "
                f"{client_order_id} ({decimal_text(order.remaining_qty)}); not booked",
                block_symbol=order.symbol,
            )
            return True
        if order.status is OrderStatus.NEW:
            self._emit(
                order, OrderAccepted(client_order_id, fill.order_id, fill.time_ms * NS_PER_MS)
            )
        self._emit(order, fill.to_order_filled(client_order_id))
        return True

    def on_venue_order(self, client_order_id: str, update: VenueOrder) -> None:
        order = self._orders.get(client_order_id)
        if order is None:
            return
        ts = update.updated_ms * NS_PER_MS or self._ts()
        if order.status is OrderStatus.NEW and (update.is_open or update.is_filled):
            self._emit(order, OrderAccepted(client_order_id, update.order_id, ts))
        if update.is_open:
            self._confirm_amend(order, update)
        elif update.ended_unfilled and order.is_open:
            if client_order_id in self._placing and update.is_rejected:
                return  # the placement's reply (or its lookup) rejects it, with the reason
            if order.filled_qty >= update.cum_qty:
                self._emit(order, self._ended(order, update))
            else:  # the order stream overtook the executions: book them first
                self._account.spawn(
                    self._end_after_fills(order, update), f"end:{client_order_id}", None
                )
        elif update.is_filled and order.is_open:
            self._account.spawn(
                self._settle_filled(order, update), f"fills:{client_order_id}", None
            )

    def recheck(self, client_order_id: str, *, skip_symbols: set[str]) -> None:
        """Reconciliation found this open order missing from the venue's open orders."""
        order = self._orders.get(client_order_id)
        if order is None or not order.is_open or order.symbol in skip_symbols:
            return
        if client_order_id in self._placing:
            return  # its placement is still being resolved
        self._account.spawn(self._recheck(order), f"recheck:{client_order_id}", None)

    # ------------------------------------------------------------------ placing
    def _request(self, order: Order) -> PlaceRequest:
        request = order.request
        market = request.type is OrderType.MARKET
        return PlaceRequest(
            symbol=request.symbol,
            side=request.side,
            order_type="Market" if market else "Limit",
            qty=request.qty,
            price=None if market else request.limit_price,
            tif="IOC" if market else _TIF[request.tif],
            reduce_only=request.reduce_only,
            link_id=self._account.link_id(order.client_order_id),
        )

    async def _place(self, order: Order) -> None:
        coid = order.client_order_id
        try:
            await self._send(order, self._request(order))
        finally:
            done = self._placing.pop(coid, None)
            if done is not None:
                done.set()

    async def _send(self, order: Order, request: PlaceRequest) -> None:
        coid = order.client_order_id
        try:
            order_id = await self._account.rest.place(request)
        except DuplicateClientId:
            _log.warning(
                "placing %s: client id %s exists at the venue; looking it up", coid, request.link_id
            )
            await self._resolve(order, request, resend=False)
            return
        except OutcomeUnknown as exc:
            _log.warning(
                "placing %s: %s; looking it up by client id %s", coid, exc, request.link_id
            )
            await self._resolve(order, request, resend=True)
            return
        except VenueRefused as exc:
            self._reject(order, str(exc))
            return
        except RateLimited as exc:
            self._reject(order, f"venue rate limit: {exc}")
            return
        except VENUE_ERRORS as exc:
            self._reject(order, f"venue unavailable: {exc}")
            return
        self._account.note_order_id(order_id, request.link_id)
        if order.status is OrderStatus.NEW:
            self._emit(order, OrderAccepted(coid, order_id, self._ts()))

    async def _resolve(self, order: Order, request: PlaceRequest, *, resend: bool) -> None:
        """Never send blindly: only an order the venue has provably never seen is sent again
        (with the same client id, so a copy the lookup missed is refused as a duplicate)."""
        for _ in range(LOOKUP_ATTEMPTS):
            ok, found = await self._lookup(order)
            if not ok:
                break
            if found is not None:
                await self._align(order, found)
                return
            if not resend:
                await asyncio.sleep(0.5)  # a duplicate the lookup does not show yet
                continue
            self.resends += 1
            _log.info("order %s is unknown to the venue; sending it again", request.link_id)
            try:
                order_id = await self._account.rest.place(request)
            except (OutcomeUnknown, DuplicateClientId):
                continue  # look it up again
            except VenueRefused as exc:
                self._reject(order, str(exc))
                return
            except VENUE_ERRORS as exc:
                self._reject(order, f"venue unavailable: {exc}")
                return
            self._account.note_order_id(order_id, request.link_id)
            if order.status is OrderStatus.NEW:
                self._emit(order, OrderAccepted(order.client_order_id, order_id, self._ts()))
            return
        self._account.report(
            f"order {order.client_order_id} (client id {request.link_id}) could not be resolved; "
            "trading on its symbol is blocked until reconciliation finds it",
            block_symbol=order.symbol,
        )

    # ------------------------------------------------------------------ adopting
    async def unrecorded_orders(self, prefix: str, after_seq: int) -> list[Order]:
        """Orders the venue has under this bot's next client order ids (sent just before a
        crash, never recorded): rebuilt from the venue's view, to be adopted."""
        await self._account.wait_ready()
        found: list[Order] = []
        seq = after_seq
        while True:
            coid = f"{prefix}{seq + 1}"
            link = self._account.link_id(coid)
            venue_order = await self._account.rest.find_order(self.symbol, link)
            if venue_order is None:
                return found
            seq += 1
            found.append(order_from_venue(coid, venue_order))
            _log.warning(
                "bot %s: order %s is at the venue (%s) but was never recorded; adopting it",
                self.bot_id,
                coid,
                venue_order.status,
            )

    async def _adopt(self, order: Order) -> None:
        await self._account.wait_ready()
        listed = self._account.open_at_venue(self._account.link_id(order.client_order_id))
        if listed is not None:
            await self._align(order, listed)
            return
        ok, found = await self._lookup(order)
        if not ok:
            self._account.report(
                f"adopted order {order.client_order_id} could not be looked up",
                block_symbol=order.symbol,
            )
            return
        if found is None:
            if order.is_open:
                self._emit(
                    order,
                    OrderCancelled(
                        order.client_order_id, "not found at the venue after restart", self._ts()
                    ),
                )
            return
        await self._align(order, found)

    # ------------------------------------------------------------------ cancelling
    async def _cancel(self, order: Order) -> None:
        await self._after_placement(order)
        if not order.is_open:
            return
        link = self._account.link_id(order.client_order_id)
        try:
            await self._account.rest.cancel(order.symbol, link)
        except (OrderUnknown, OrderFinished):
            pass  # filled or cancelled already: the lookup below tells which
        except VENUE_ERRORS as exc:
            _log.warning("cancel of %s failed: %s; looking it up", order.client_order_id, exc)
        # The order stream brings the final state (with what filled before); if it is late,
        # ask for it.
        deadline = asyncio.get_running_loop().time() + CANCEL_CONFIRM_S
        while order.is_open and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        if order.is_open:
            await self._recheck(order)

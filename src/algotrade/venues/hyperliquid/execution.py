"""``HyperliquidVenue``: one bot's execution venue on a shared Hyperliquid account.

The engine calls ``submit``/``adopt``/``cancel``/``amend`` synchronously; each becomes a task on the
account's loop and its outcome comes back as core order events through the bound sink:

- ``resting`` → ``OrderAccepted`` (with the venue's oid); ``filled`` → ``OrderAccepted``, the
  executions themselves arrive from the ``userFills`` stream (they carry trade id and fee), or
  from a ``userFills`` query when the stream is late; ``error`` → ``OrderRejected``.
- A local rule violation (tick, lot, $10 minimum) → ``OrderRejected`` naming the rule; nothing
  is sent.
- A request that timed out may have reached the venue: the order is looked up by its cloid
  and only resent when the venue has never seen it, so an order is never duplicated.
- ``adopt`` (restart, new engine after a config change) never sends: it looks the order up by
  cloid and aligns (accepted / filled / cancelled; unknown to the venue → cancelled locally).
- ``amend`` sends the ``modify`` action (a cancel-replace at the venue: new oid, same cloid);
  see ``amendments.py`` for how its out-of-order reports are put back in order.

Events for an order can race (a fill pushed before the placement reply): the venue only emits
an event that is a legal transition for the order's current state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from algotrade.core.events import (
    MarketEvent,
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderRejected,
)
from algotrade.core.orders import Order, OrderRequest, OrderStatus, OrderType, TimeInForce
from algotrade.core.ports import VenueEventSink
from algotrade.venues.hyperliquid.amendments import Amendments
from algotrade.venues.hyperliquid.errors import (
    VENUE_ERRORS,
    HlOrderRejected,
    HlPayloadError,
    HlRequestTimeout,
)
from algotrade.venues.hyperliquid.exchange import OrderKind, OrderSpec, cloid_for
from algotrade.venues.hyperliquid.exchange import TimeInForce as Tif
from algotrade.venues.hyperliquid.schemas import (
    NS_PER_MS,
    Fill,
    OrderStatusReply,
    OrderUpdate,
    PlacedOrder,
)
from algotrade.venues.live.order_events import deliver

if TYPE_CHECKING:
    from algotrade.venues.hyperliquid.account import HyperliquidAccount

_log = logging.getLogger("algotrade.venues.hyperliquid")
_TIF: dict[TimeInForce, Tif] = {
    TimeInForce.GTC: "Gtc",
    TimeInForce.IOC: "Ioc",
    TimeInForce.POST_ONLY: "Alo",
}
_KIND: dict[OrderType, OrderKind] = {
    OrderType.MARKET: "market",
    OrderType.LIMIT: "limit",
    OrderType.STOP: "stop",
}
FILL_SYNC_DELAY_S = 3.0
LOOKUP_ATTEMPTS = 5


class HyperliquidVenue:
    name = "hyperliquid"
    simulated = False

    def __init__(
        self,
        account: HyperliquidAccount,
        bot_id: str,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._account = account
        self.bot_id = bot_id
        self._on_error = on_error
        self._sink: VenueEventSink | None = None
        self._orders: dict[str, Order] = {}  # client order id → order (open or recent)
        self._placing: set[str] = set()  # client order ids whose placement is in flight
        self._oid_of: dict[str, int] = {}  # client order id → its current venue oid
        self._amendments = Amendments(self)
        self.resends = 0
        self.lookups = 0

    # ------------------------------------------------------------------ port
    def bind(self, sink: VenueEventSink) -> None:
        self._sink = sink

    def submit(self, order: Order) -> None:
        coid = order.client_order_id
        if coid in self._orders:
            return  # idempotent per client order id
        self._track(order)
        self._account.spawn(self._place(order), f"hl-place:{coid}", order.symbol)

    def adopt(self, order: Order) -> None:
        if order.client_order_id in self._orders:
            return
        self._track(order)
        self._account.spawn(self._adopt(order), f"hl-adopt:{order.client_order_id}", None)

    def cancel(self, client_order_id: str) -> None:
        order = self._orders.get(client_order_id)
        if order is not None and order.is_open:
            self._account.spawn(self._cancel(order), f"hl-cancel:{client_order_id}", None)

    def amend(
        self,
        client_order_id: str,
        *,
        qty: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        self._amendments.request(client_order_id, qty, limit_price, stop_price)

    def on_market(self, event: MarketEvent) -> None:
        """Nothing to do: the venue matches, and market orders are priced from its own mids
        (the account's ``allMids`` stream), not from the bot's bars."""

    # ------------------------------------------------------------------ from the account
    def on_venue_fill(self, client_order_id: str, fill: Fill) -> None:
        if self._amendments.hold_fill(client_order_id, fill):
            return
        order = self._orders.get(client_order_id)
        if order is not None and str(fill.tid) in order.fill_ids:
            return  # booked before (e.g. before a restart)
        if order is None or not order.is_open:
            _log.warning(
                "fill %s for %s which is not open locally; reconciliation will check",
                fill.tid,
                client_order_id,
            )
            return
        if fill.sz > order.remaining_qty:
            self._account.report(
                f"fill {fill.tid} of {fill.sz} exceeds what is left of {client_order_id} "
                f"({order.remaining_qty}); not booked"
            )
            return
        self._emit(order, fill.to_order_filled(client_order_id, order.symbol))

    def on_venue_status(self, client_order_id: str, update: OrderUpdate) -> None:
        order = self._orders.get(client_order_id)
        if order is None or self._amendments.hold_status(client_order_id, update):
            return
        ts = update.status_timestamp * NS_PER_MS
        if update.status == "open":
            self._oid_of[client_order_id] = update.order.oid
        if update.status == "open" and order.status is OrderStatus.NEW:
            self._emit(order, OrderAccepted(client_order_id, str(update.order.oid), ts))
        elif update.is_ended_unfilled and order.is_open:
            if update.is_rejection and client_order_id in self._placing:
                return  # the placement's reply (or its lookup) rejects it, with the reason
            # The two streams race: a cancel may overtake the fills that came before it.
            # What the venue filled is origSz - sz (plus what oids an amendment replaced
            # filled); book that first, then cancel.
            venue_filled = (
                self._amendments.base(client_order_id) + update.order.orig_sz - update.order.sz
            )
            if order.filled_qty >= venue_filled:
                self._emit(order, _ended(order, update))
            else:
                self._account.spawn(
                    self._cancel_after_fills(order, venue_filled, update),
                    f"hl-cancel-after-fills:{client_order_id}",
                    None,
                )

    def recheck(self, client_order_id: str, *, skip_symbols: set[str]) -> None:
        """Reconciliation found this open order missing from the venue's open orders: look
        it up (unless a request for its symbol is still in flight) and align."""
        order = self._orders.get(client_order_id)
        if order is None or not order.is_open or order.symbol in skip_symbols:
            return
        if order.status is OrderStatus.NEW:
            return  # its placement is still being resolved
        self._account.spawn(self._recheck(order), f"hl-recheck:{client_order_id}", None)

    async def _recheck(self, order: Order) -> None:
        reply = await self._lookup(order)
        if reply is not None and reply.known:
            await self._align_with(order, reply)

    # ------------------------------------------------------------------ placing
    async def _place(self, order: Order) -> None:
        self._placing.add(order.client_order_id)
        try:
            await self._send(order)
        finally:
            self._placing.discard(order.client_order_id)

    async def _send(self, order: Order) -> None:
        spec = self._spec(order)
        account = self._account
        try:
            placed = await account.place(spec)
        except HlOrderRejected as exc:
            self._emit(order, OrderRejected(order.client_order_id, str(exc), self._ts()))
            return
        except (HlRequestTimeout, HlPayloadError) as exc:
            # The venue may have acted (no answer, or one we cannot read): find out by cloid.
            _log.warning(
                "placing %s: %s; looking it up by cloid %s", order.client_order_id, exc, spec.cloid
            )
            await self._resolve_timeout(order, spec)
            return
        except VENUE_ERRORS as exc:  # throttled, refused or unreachable: the venue did not act
            self._emit(
                order, OrderRejected(order.client_order_id, f"venue unavailable: {exc}", self._ts())
            )
            return
        self._apply_placed(order, placed)

    def _apply_placed(self, order: Order, placed: PlacedOrder) -> None:
        coid = order.client_order_id
        kind, oid, error = placed.kind, placed.oid, placed.error
        if kind == "error":
            if order.status is OrderStatus.NEW:
                self._emit(order, OrderRejected(coid, f"venue: {error}", self._ts()))
            return
        assert oid is not None
        self._account.note_oid(oid, cloid_for(coid))
        self._oid_of[coid] = oid
        if order.status is OrderStatus.NEW:
            self._emit(order, OrderAccepted(coid, str(oid), self._ts()))
        if kind == "filled":
            # The executions come from the fills stream; if it is late, ask for them. An IOC
            # (or market) order filled only in part has its remainder cancelled by the venue.
            filled = placed.total_sz if placed.total_sz is not None else order.qty
            self._account.spawn(self._settle_filled(order, filled), f"hl-fills:{coid}", None)

    async def _resolve_timeout(self, order: Order, spec: OrderSpec) -> None:
        """Never resend blindly: only an order the venue has never seen is sent again."""
        for _ in range(LOOKUP_ATTEMPTS):
            reply = await self._lookup(order)
            if reply is None:
                break  # lookups keep failing: fail closed below
            if reply.known:
                await self._align_with(order, reply)
                return
            self.resends += 1
            _log.info("order %s is unknown to the venue; sending it again", spec.cloid)
            try:
                placed = await self._account.place(spec)
            except (HlRequestTimeout, HlPayloadError):
                continue  # look it up again
            except VENUE_ERRORS as exc:
                self._emit(
                    order,
                    OrderRejected(order.client_order_id, f"venue unavailable: {exc}", self._ts()),
                )
                return
            self._apply_placed(order, placed)
            return
        self._account.report(
            f"order {order.client_order_id} (cloid {spec.cloid}) could not be resolved after a "
            "timeout; trading on its symbol is blocked until reconciliation finds it",
            block_coin=order.symbol,
        )

    async def _lookup(self, order: Order) -> OrderStatusReply | None:
        cloid = cloid_for(order.client_order_id)
        for attempt in range(LOOKUP_ATTEMPTS):
            self.lookups += 1
            try:
                return await self._account.order_status(cloid)
            except VENUE_ERRORS as exc:
                _log.warning("looking up %s failed (%s); retrying", cloid, exc)
                await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
        return None

    async def _align_with(self, order: Order, reply: OrderStatusReply) -> None:
        assert reply.order is not None
        update = reply.order
        oid = update.order.oid
        coid = order.client_order_id
        self._account.note_oid(oid, cloid_for(coid))
        if update.is_open:
            self._oid_of[coid] = oid
        self._amendments.aligned(order, update)
        if order.status is OrderStatus.NEW and (update.is_open or update.is_filled):
            self._emit(order, OrderAccepted(coid, str(oid), update.status_timestamp * NS_PER_MS))
        if not update.is_open or update.order.sz < update.order.orig_sz:
            # Executions may have happened while we were not listening: fetch them first.
            await self._account.sync_fills(order.created_ts // NS_PER_MS)
        if update.is_ended_unfilled and order.is_open:
            self._emit(order, _ended(order, update))
        elif update.is_filled and order.is_open:
            self._account.report(
                f"order {coid} is filled at the venue but its fills were not found; "
                "trading on its symbol is blocked until reconciliation",
                block_coin=order.symbol,
            )

    async def _await_fills(self, order: Order, filled: Decimal) -> None:
        """Wait until ``filled`` of the order is booked: from the fills stream, or, if that is
        late, from a ``userFills`` query."""
        deadline = asyncio.get_running_loop().time() + FILL_SYNC_DELAY_S
        while order.filled_qty < filled and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        if order.filled_qty < filled and order.client_order_id in self._orders:
            await self._account.sync_fills(order.created_ts // NS_PER_MS)

    async def _cancel_after_fills(self, order: Order, filled: Decimal, update: OrderUpdate) -> None:
        await self._await_fills(order, filled)
        if order.is_open:
            self._emit(order, _ended(order, update))

    async def _settle_filled(self, order: Order, filled: Decimal) -> None:
        """After a ``filled`` reply: book the ``filled`` quantity and cancel what the venue
        did not fill (only IOC orders come back short)."""
        await self._await_fills(order, filled)
        request = order.request
        immediate = request.type is OrderType.MARKET or request.tif is TimeInForce.IOC
        if immediate and order.is_open and order.filled_qty >= filled:
            self._emit(
                order,
                OrderCancelled(order.client_order_id, "IOC remainder not filled", self._ts()),
            )

    # ------------------------------------------------------------------ adopting
    async def unrecorded_orders(self, prefix: str, after_seq: int) -> list[Order]:
        """Orders the venue has under this bot's next client order ids (``prefix`` +
        ``after_seq + 1``, ``+ 2``, ...): sent just before a crash, never recorded locally.
        Rebuilt from the venue's view, to be adopted (which books their fills), so their
        cloids are never reused by new orders."""
        await self._account.wait_ready()
        found: list[Order] = []
        seq = after_seq
        while True:
            coid = f"{prefix}{seq + 1}"
            reply = await self._account.order_status(cloid_for(coid))
            if not reply.known:
                return found
            assert reply.order is not None
            seq += 1
            found.append(_order_from_venue(coid, reply.order))
            _log.warning(
                "bot %s: order %s is at the venue (%s) but was never recorded; adopting it",
                self.bot_id,
                coid,
                reply.order.status,
            )

    async def _adopt(self, order: Order) -> None:
        await self._account.wait_ready()
        listed = self._account.open_at_venue(cloid_for(order.client_order_id))
        if listed is not None:  # open in the last reconciliation: no lookup needed
            update = OrderUpdate.model_validate(
                {"order": listed, "status": "open", "status_timestamp": listed.timestamp}
            )
            await self._align_with(order, OrderStatusReply(status="order", order=update))
            return
        reply = await self._lookup(order)
        if reply is None:
            self._account.report(
                f"adopted order {order.client_order_id} could not be looked up",
                block_coin=order.symbol,
            )
            return
        if not reply.known:
            if order.is_open:
                self._emit(
                    order,
                    OrderCancelled(
                        order.client_order_id, "not found at the venue after restart", self._ts()
                    ),
                )
            return
        await self._align_with(order, reply)

    # ------------------------------------------------------------------ cancelling
    async def _cancel(self, order: Order) -> None:
        coid = order.client_order_id
        try:
            result = await self._account.cancel(order.symbol, cloid_for(coid))
        except VENUE_ERRORS as exc:
            _log.warning("cancel of %s failed: %s; reconciliation will retry the lookup", coid, exc)
            return
        if result == "success":
            if order.is_open:
                self._emit(order, OrderCancelled(coid, "cancelled by request", self._ts()))
            return
        # Already filled or cancelled (or not yet known): ask the venue what became of it.
        reply = await self._lookup(order)
        if reply is not None and reply.known:
            await self._align_with(order, reply)

    # ------------------------------------------------------------------ for the amendments
    def order(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def current_oid(self, order: Order) -> int | None:
        oid = self._oid_of.get(order.client_order_id)
        if oid is None and order.venue_order_id.isdigit():
            oid = int(order.venue_order_id)
        return oid

    def emit_event(self, event: OrderEvent) -> None:
        """An event about an order this venue may not track (an amendment refused at once)."""
        order = self._orders.get(event.client_order_id)
        if order is not None:
            self._emit(order, event)
        elif self._sink is not None:
            self._sink.on_order_event(event)

    # ------------------------------------------------------------------ helpers
    def _track(self, order: Order) -> None:
        self._orders[order.client_order_id] = order
        # An adopted order may already know its oid: fills reported without a cloid reach it.
        oid = int(order.venue_order_id) if order.venue_order_id.isdigit() else None
        self._account.register(cloid_for(order.client_order_id), self, order.client_order_id, oid)

    def _spec(self, order: Order) -> OrderSpec:
        return self._spec_for(order.client_order_id, order.request, order.request.qty)

    def _spec_for(self, client_order_id: str, request: OrderRequest, size: Decimal) -> OrderSpec:
        kind = _KIND[request.type]
        return OrderSpec(
            coin=self._account.coin_of(request.symbol),
            is_buy=request.side.sign > 0,
            size=size,
            limit_px=request.limit_price,
            kind=kind,
            tif="Ioc" if request.type is OrderType.MARKET else _TIF[request.tif],
            reduce_only=request.reduce_only,
            trigger_px=request.stop_price,
            tpsl="sl" if request.type is OrderType.STOP else None,
            cloid=cloid_for(client_order_id),
        )

    def _ts(self) -> int:
        return self._account.now_ns()

    def _emit(self, order: Order, event: OrderEvent) -> None:
        deliver(self._sink, event, "hyperliquid", self.bot_id, self._on_error, _log)
        if not order.is_open:
            coid = order.client_order_id
            self._orders.pop(coid, None)
            self._oid_of.pop(coid, None)
            self._amendments.forget(coid)
            self._account.unregister(cloid_for(coid), self, order.venue_order_id)


def _ended(order: Order, update: OrderUpdate) -> OrderCancelled | OrderRejected:
    """The core event for a venue status that ended an order without (more) fills: a
    rejection of an order that never got going, else a cancellation."""
    ts = update.status_timestamp * NS_PER_MS
    reason = f"venue: {update.status}"
    if update.is_rejection and order.status is OrderStatus.NEW:
        return OrderRejected(order.client_order_id, reason, ts)
    return OrderCancelled(order.client_order_id, reason, ts)


_TIF_FROM_WIRE = {"Gtc": TimeInForce.GTC, "Ioc": TimeInForce.IOC, "Alo": TimeInForce.POST_ONLY}


def _order_from_venue(client_order_id: str, update: OrderUpdate) -> Order:
    """A core order as the venue describes it (status ``new``: adoption aligns it)."""
    wire = update.order
    if wire.is_trigger or (wire.trigger_px is not None and "Stop" in (wire.order_type or "")):
        kind, limit, stop = OrderType.STOP, None, wire.trigger_px
    else:
        kind, limit, stop = OrderType.LIMIT, wire.limit_px, None
    request = OrderRequest(
        symbol=wire.coin,
        side=wire.order_side,
        qty=wire.orig_sz,
        type=kind,
        limit_price=limit,
        stop_price=stop,
        tif=_TIF_FROM_WIRE.get(wire.tif or "", TimeInForce.GTC),
        reduce_only=wire.reduce_only,
        tag="recovered",
    )
    return Order(client_order_id, request, created_ts=wire.timestamp * NS_PER_MS)

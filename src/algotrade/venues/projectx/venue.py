"""``ProjectXVenue``: one bot's execution venue on the shared ProjectX connection.

The engine calls ``submit``/``adopt``/``cancel``/``amend`` synchronously; each becomes a task
on the connection's loop and its outcome comes back as core order events:

- ``Order/place`` answered → ``OrderAccepted`` (the gateway's order id); executions arrive as
  ``GatewayUserTrade`` events (trade id, price, fees) or, after a reconnect or when the stream
  is late, from ``Trade/search``; each trade id is booked once. ``GatewayUserOrder`` events
  move the order (cancelled, expired, rejected; a size or price changed at the venue →
  ``OrderAmended``). A refusal → ``OrderRejected`` with the gateway's message.
- Our client order id rides in ``customTag`` (``tag_for``: the id plus the order's creation
  time, so the tag stays unique per account even for a bot re-created under the same id —
  the gateway requires uniqueness across the account). A placement whose outcome is unknown
  (no reply, a 5xx, a reply we cannot read) is looked up by that tag with ``Order/search`` and
  **never sent again**: found → aligned; not there after ``lookup_attempts`` lookups →
  ``OrderRejected``; the venue cannot be asked → the contract is blocked and every
  reconciliation asks again.
- ``amend`` → ``Order/modify`` → ``OrderAmended`` / ``OrderAmendRejected``; an unknown
  outcome is looked up, not resent.
- ``adopt`` (restart, a new engine after a config change) never sends: it finds the order by
  tag and aligns (open / filled / cancelled; not at the venue → rejected).
- Local rules first (nothing is sent): whole contracts, prices on the contract's tick grid,
  market/limit/stop only, good-till-cancelled only (the gateway has no IOC or post-only).

Events for an order can race (a trade pushed before the placement reply): only legal
transitions of the order's current state are emitted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from algotrade.core.events import (
    Liquidity,
    MarketEvent,
    OrderAccepted,
    OrderAmendRejected,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    OrderSide,
)
from algotrade.core.orders import Order, OrderStatus, OrderType
from algotrade.core.ports import VenueEventSink
from algotrade.core.timeutil import datetime_to_ns
from algotrade.venues.live.order_events import deliver
from algotrade.venues.projectx.amendments import Amendments
from algotrade.venues.projectx.errors import (
    VENUE_ERRORS,
    ProjectXOrderRejected,
    ProjectXPayloadError,
    ProjectXRequestTimeout,
)
from algotrade.venues.projectx.order_rules import (
    ENDED,
    LIVE,
    TYPES,
    amend_problem,
    ended,
    not_received,
    order_from_venue,
    request_problem,
    split_tag,
    tag_for,
    venue_ts,
)
from algotrade.venues.projectx.schemas import Contract, Trade
from algotrade.venues.projectx.schemas import Order as PxOrder
from algotrade.venues.projectx.schemas import OrderSide as PxSide
from algotrade.venues.projectx.schemas import OrderStatus as PxStatus

if TYPE_CHECKING:
    from algotrade.venues.projectx.connection import ProjectXConnection

__all__ = ["ProjectXVenue", "split_tag", "tag_for"]

_log = logging.getLogger("algotrade.venues.projectx")


class ProjectXVenue:
    name = "projectx"
    simulated = False

    def __init__(
        self,
        connection: ProjectXConnection,
        bot_id: str,
        symbol: str,
        contract: Contract,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._c = self.connection = connection
        self.name = connection.name
        self.bot_id = bot_id
        self.symbol = symbol
        self.contract = contract
        self._on_error = on_error
        self._sink: VenueEventSink | None = None
        self._orders: dict[str, Order] = {}  # client order id → order (open)
        self._ids: dict[str, int] = {}  # client order id → gateway order id
        self._placing: set[str] = set()
        self._cancelling: set[str] = set()
        self._cancel_wanted: set[str] = set()
        self._late: dict[str, PxOrder] = {}  # a rejection reported while placing
        self.amendments = Amendments(self)
        self.lookups = 0

    # ------------------------------------------------------------------ port
    def bind(self, sink: VenueEventSink) -> None:
        self._sink = sink

    def submit(self, order: Order) -> None:
        coid = order.client_order_id
        if coid in self._orders:
            return  # idempotent per client order id
        self._track(order)
        problem = request_problem(self.contract, order.request)
        if problem is not None:
            self._soon(order, OrderRejected(coid, problem, self._c.now_ns()))
            return
        self._c.spawn(self._place(order), f"px-place:{coid}", self.contract.name)

    def adopt(self, order: Order) -> None:
        if order.client_order_id in self._orders:
            return
        self._track(order)
        self._c.spawn(self._adopt(order), f"px-adopt:{order.client_order_id}", None)

    def cancel(self, client_order_id: str) -> None:
        order = self._orders.get(client_order_id)
        if order is None or not order.is_open or client_order_id in self._cancelling:
            return
        order_id = self._ids.get(client_order_id)
        if order_id is None:  # placement or adoption still resolving: cancel right after
            self._cancel_wanted.add(client_order_id)
            return
        self._cancelling.add(client_order_id)
        self._c.spawn(
            self._cancel(order, order_id), f"px-cancel:{client_order_id}", self.contract.name
        )

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
            _log.info("amend of %s ignored: the order is not open here", client_order_id)
            return
        problem = amend_problem(self.contract, order, qty, limit_price, stop_price)
        order_id = self._ids.get(client_order_id)
        if problem is None and order_id is None:
            problem = "amend: the venue has not acknowledged the order yet; try again"
        if problem is not None:
            self._soon(order, OrderAmendRejected(client_order_id, problem, self._c.now_ns()))
            return
        assert order_id is not None
        self._c.spawn(
            self.amendments.send(order, order_id, qty, limit_price, stop_price),
            f"px-amend:{client_order_id}",
            self.contract.name,
        )

    def on_market(self, event: MarketEvent) -> None:
        """Nothing to do: the venue matches orders itself."""

    # ------------------------------------------------------------------ rules
    # ------------------------------------------------------------------ placing
    async def _place(self, order: Order) -> None:
        coid, tag = order.client_order_id, self.tag_of(order)
        request = order.request
        self._placing.add(coid)
        try:
            order_id = await self._c.place(
                type=TYPES[request.type],
                side=PxSide.BID if request.side is OrderSide.BUY else PxSide.ASK,
                size=int(request.qty),
                limit_price=request.limit_price if request.type is OrderType.LIMIT else None,
                stop_price=request.stop_price if request.type is OrderType.STOP else None,
                contract_id=self.contract.id,
                tag=tag,
            )
        except ProjectXOrderRejected as exc:
            if exc.order_id is not None and order.status is OrderStatus.NEW:
                # Refused, yet naming an order it created (a placement still pending, say):
                # the order's own status at the venue says what became of it.
                _log.warning("placing %s: %s; looking up order %s", coid, exc, exc.order_id)
                await self._resolve_unknown(order, tag, f"venue refused it ({exc})")
            elif order.status is OrderStatus.NEW:
                self.emit(order, OrderRejected(coid, f"venue: {exc}", self._c.now_ns()))
        except (ProjectXRequestTimeout, ProjectXPayloadError) as exc:
            _log.warning("placing %s: %s; looking it up by customTag %s", coid, exc, tag)
            await self._resolve_unknown(order, tag)
        except VENUE_ERRORS as exc:  # throttled, refused or unreachable: nothing was placed
            self.emit(order, OrderRejected(coid, f"venue unavailable: {exc}", self._c.now_ns()))
        else:
            self._acknowledge(order, order_id, tag)
        finally:
            self._placing.discard(coid)
        self._after_resolution(coid)

    def _acknowledge(self, order: Order, order_id: int, tag: str) -> None:
        self._ids[order.client_order_id] = order_id
        self._c.router.note_order_id(order_id, tag)
        if order.status is OrderStatus.NEW:
            self.emit(order, OrderAccepted(order.client_order_id, str(order_id), self._c.now_ns()))

    def _after_resolution(self, coid: str) -> None:
        late = self._late.pop(coid, None)
        if late is not None:
            self.on_venue_order(coid, late)
        if coid in self._cancel_wanted:
            self._cancel_wanted.discard(coid)
            self.cancel(coid)

    async def _resolve_unknown(
        self, order: Order, tag: str, why: str = "no reply to Order/place"
    ) -> None:
        """Never resend: the order is looked up by its tag until it shows up or the venue
        has said ``lookup_attempts`` times that it has no such order (then ``why`` it is
        not at the venue is reported)."""
        found, reachable = await self.lookup(order, tag, attempts=self._c.config.lookup_attempts)
        if found is not None:
            await self.align(order, found)
        elif order.client_order_id in self._ids:
            return  # the user hub reported it meanwhile: it is at the venue, events follow
        elif reachable:
            self._give_up(order, tag, why)
        else:
            self._c.router.unresolved(tag, (self, order.client_order_id), self.contract.name)
            self._c.blocks.report(
                f"order {order.client_order_id} (customTag {tag}): the placement's outcome is "
                f"unknown and the venue cannot be asked; {self.contract.name} is blocked until "
                "it is found"
            )

    def _give_up(self, order: Order, tag: str, why: str) -> None:
        self._c.router.given_up(tag)
        if order.is_open:
            reason = f"{why}, and no order with customTag {tag} is at the venue; not sent again"
            self.emit(order, not_received(order, reason, self._c.now_ns()))

    def resolve_again(self, client_order_id: str) -> None:
        """Reconciliation asks once more about a placement of unknown outcome."""
        order = self._orders.get(client_order_id)
        if order is not None:
            self._c.spawn(self._resolve_again(order), f"px-resolve:{client_order_id}", None)

    async def _resolve_again(self, order: Order) -> None:
        tag = self.tag_of(order)
        found, reachable = await self.lookup(order, tag, attempts=1)
        if not reachable:
            return  # still blocked; the next reconciliation asks again
        self._c.router.resolved(tag)
        if found is not None:
            await self.align(order, found)
        else:
            self._give_up(order, tag, "the placement's outcome was unknown")

    async def lookup(self, order: Order, tag: str, *, attempts: int) -> tuple[PxOrder | None, bool]:
        """The venue's order with ``tag`` (or ``None``) and whether any lookup got an answer."""
        reachable = False
        for attempt in range(attempts):
            self.lookups += 1
            try:
                found = await self._c.find_order(tag, order.created_ts)
            except VENUE_ERRORS as exc:
                _log.warning("looking up %s failed (%s)", tag, exc)
            else:
                reachable = True
                if found is not None:
                    self._ids[order.client_order_id] = found.id
                    return found, True
            if attempt + 1 < attempts:
                await asyncio.sleep(min(0.2 * 2**attempt, 2.0))
        return None, reachable

    async def align(self, order: Order, found: PxOrder) -> None:
        """Bring the local order in line with the venue's view of it (from a lookup)."""
        coid = order.client_order_id
        self._ids[coid] = found.id
        if order.status is OrderStatus.NEW and found.status is not PxStatus.REJECTED:
            self.emit(order, OrderAccepted(coid, str(found.id), venue_ts(found)))
        if found.fill_volume > order.filled_qty:
            await self._c.sync_trades(order.created_ts)  # executions we have not booked
        self._apply_status(order, found, synced=True, as_of=None)

    # ------------------------------------------------------------------ adopting
    async def _adopt(self, order: Order) -> None:
        await self._c.wait_ready()
        tag = self.tag_of(order)
        listed = self._c.router.open_at_venue.get(tag)
        if listed is not None:  # open in the last reconciliation: no lookup needed
            self.on_venue_order(order.client_order_id, listed)
        else:
            found, reachable = await self.lookup(order, tag, attempts=2)
            if found is not None:
                await self.align(order, found)
            elif reachable:
                self._give_up(order, tag, "adopted after a restart")
            else:
                self._c.router.unresolved(tag, (self, order.client_order_id), self.contract.name)
        self._after_resolution(order.client_order_id)

    async def unrecorded_orders(self, prefix: str, after_seq: int) -> list[Order]:
        """Orders at the venue under this bot's next client order ids (``prefix`` +
        ``after_seq + 1``, ``+ 2``, …) placed within ``recovery_lookback_s``: sent just before
        a crash, never recorded. Rebuilt from the venue's view, to be adopted (which books
        their trades), so their ids are never used again."""
        await self._c.wait_ready()
        since = self._c.now_ns() - int(self._c.config.recovery_lookback_s * 1e9)
        by_coid: dict[str, tuple[PxOrder, int]] = {}
        for px in await self._c.search_orders(since):
            parsed = split_tag(px.custom_tag or "")
            if parsed is not None and parsed[0].startswith(prefix):
                by_coid.setdefault(parsed[0], (px, parsed[1]))
        found: list[Order] = []
        seq = after_seq
        while (coid := f"{prefix}{seq + 1}") in by_coid:
            px, created = by_coid[coid]
            seq += 1
            found.append(order_from_venue(self.symbol, coid, px, created))
            _log.warning(
                "bot %s: order %s is at the venue (%s) but was never recorded; adopting it",
                self.bot_id,
                coid,
                px.status.label,
            )
        return found

    # ------------------------------------------------------------------ from the connection
    def on_venue_order(self, client_order_id: str, px: PxOrder, as_of: float | None = None) -> None:
        """An order event of the user hub, or (``as_of``: when it was read) a listed order of
        a reconciliation."""
        order = self._orders.get(client_order_id)
        if order is None:
            return
        self._ids[client_order_id] = px.id
        if px.status is PxStatus.REJECTED and client_order_id in self._placing:
            self._late[client_order_id] = px  # the placement's reply carries the reason
            return
        reached = px.status in (*LIVE, PxStatus.FILLED) or px.fill_volume > 0
        if order.status is OrderStatus.NEW and reached:
            self.emit(order, OrderAccepted(client_order_id, str(px.id), venue_ts(px)))
        self._apply_status(order, px, synced=False, as_of=as_of)

    def on_venue_trade(self, client_order_id: str, trade: Trade) -> None:
        order = self._orders.get(client_order_id)
        trade_id = str(trade.id)
        if order is None or trade_id in order.fill_ids:
            return  # booked before (e.g. before a restart)
        side = OrderSide.BUY if trade.side is PxSide.BID else OrderSide.SELL
        qty = Decimal(trade.size)
        if not order.is_open or side is not order.side or qty > order.remaining_qty:
            self._c.blocks.report(
                f"trade {trade_id} ({side} {qty} @ {trade.price}) does not fit order "
                f"{client_order_id} ({order.status}, {order.remaining_qty} left); not booked",
                block=self.contract.name,
            )
            return
        liquidity = Liquidity.MAKER if order.request.type is OrderType.LIMIT else Liquidity.TAKER
        fill = OrderFilled(
            client_order_id,
            str(trade.order_id),
            trade_id,
            order.symbol,
            side,
            qty,
            trade.price,
            trade.fees,
            liquidity,
            datetime_to_ns(trade.creation_timestamp),
        )
        self.emit(order, fill)

    def recheck(self, client_order_id: str, *, skip: set[str]) -> bool:
        """Reconciliation found this open order missing from the venue's open orders: look it
        up (unless its outcome is being resolved) and align. True when a lookup starts."""
        order = self._orders.get(client_order_id)
        busy = client_order_id in self._placing or client_order_id in self._cancelling
        if order is None or not order.is_open or busy or order.status is OrderStatus.NEW:
            return False
        if self.contract.name in skip:
            return False
        self._c.spawn(self._recheck(order), f"px-recheck:{client_order_id}", None)
        return True

    async def _recheck(self, order: Order) -> None:
        found, _ = await self.lookup(order, self.tag_of(order), attempts=1)
        if found is not None:
            await self.align(order, found)

    # ------------------------------------------------------------------ status
    def _apply_status(
        self, order: Order, px: PxOrder, *, synced: bool, as_of: float | None
    ) -> None:
        if not order.is_open:
            return
        status = px.status
        if status in LIVE:
            self.amendments.follow(order, px, as_of)
            return
        target = Decimal(px.size if status is PxStatus.FILLED else px.fill_volume)
        if order.filled_qty >= target:
            if status in ENDED:
                self.emit(order, ended(order, px))
            return
        if not synced:  # the trades may still be on their way: wait, then search for them
            self._c.spawn(self._settle(order, px), f"px-settle:{order.client_order_id}", None)
            return
        self._c.blocks.report(
            f"order {order.client_order_id} is {status.label} at the venue with "
            f"{target} filled but only {order.filled_qty} is booked: its trades were not found",
            block=self.contract.name,
        )

    async def _settle(self, order: Order, px: PxOrder) -> None:
        target = Decimal(px.size if px.status is PxStatus.FILLED else px.fill_volume)
        await self._wait(lambda: order.filled_qty >= target or not order.is_open)
        if order.is_open and order.filled_qty < target:
            await self._c.sync_trades(order.created_ts)
        self._apply_status(order, px, synced=True, as_of=None)

    # ------------------------------------------------------------------ cancelling
    async def _cancel(self, order: Order, order_id: int) -> None:
        coid = order.client_order_id
        try:
            outcome = await self._send_cancel(order_id)
            if outcome == "ok":  # the hub's event books the fills first, then cancels
                await self._wait(lambda: not order.is_open)
            if order.is_open:
                found, _ = await self.lookup(order, self.tag_of(order), attempts=1)
                if found is not None and found.status in LIVE and outcome != "ok":
                    if await self._send_cancel(order_id) == "ok":  # a cancel is safe to repeat
                        await self._wait(lambda: not order.is_open)
                    found, _ = await self.lookup(order, self.tag_of(order), attempts=1)
                if found is not None and order.is_open:
                    await self.align(order, found)
        finally:
            self._cancelling.discard(coid)

    async def _send_cancel(self, order_id: int) -> str:
        try:
            await self._c.cancel(order_id)
        except ProjectXOrderRejected as exc:
            _log.info("cancel of order %s refused (%s): looking it up", order_id, exc)
            return "refused"
        except VENUE_ERRORS as exc:
            _log.warning("cancel of order %s: %s; looking it up", order_id, exc)
            return "unknown"
        return "ok"

    # ------------------------------------------------------------------ helpers
    def tag_of(self, order: Order) -> str:
        return tag_for(order.client_order_id, order.created_ts)

    def _track(self, order: Order) -> None:
        coid = order.client_order_id
        self._orders[coid] = order
        order_id = int(order.venue_order_id) if order.venue_order_id.isdigit() else None
        if order_id is not None:
            self._ids[coid] = order_id
        self._c.router.register(self.tag_of(order), self, coid, order_id)

    async def _wait(self, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self._c.config.fill_wait_s
        while not done() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    def _soon(self, order: Order, event: OrderEvent) -> None:
        """Report on the next loop turn: never inside the engine's own call."""
        asyncio.get_running_loop().call_soon(self.emit, order, event)

    def emit(self, order: Order, event: OrderEvent) -> None:
        deliver(self._sink, event, "projectx", self.bot_id, self._on_error, _log)
        if not order.is_open:
            coid = order.client_order_id
            self._orders.pop(coid, None)
            self._ids.pop(coid, None)
            self.amendments.forget(coid)
            self._cancel_wanted.discard(coid)
            self._c.router.unregister(self.tag_of(order), self)

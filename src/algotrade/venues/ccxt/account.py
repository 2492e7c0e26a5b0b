"""``CcxtAccount``: the one connection to a ccxt venue account, shared by every bot on it.

It owns the exchange session (REST and both streams), the candle hub, and the routing of what
the venue reports to the bot venue that owns each order (by client id — Bybit ``orderLinkId``
— or by the venue's order id once known). Executions are de-duplicated by their id across the
stream, REST queries and restarts.

Reconciliation runs on start, after every reconnect of the private stream, periodically and
on demand: it fetches the venue's positions, open orders and executions since the newest one
booked, routes missed executions, aligns orders and compares positions. Executions no bot has
claimed yet are held for ``PENDING_CLAIM_S`` (a restarting bot adopts its orders a moment
after the first reconciliation); after that they are foreign. A position that still disagrees
raises an alert and blocks every bot trading that symbol until a later reconciliation finds
agreement (fail closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from algotrade.core.instruments import Instrument
from algotrade.core.money import decimal_text
from algotrade.venues.ccxt.candles import CandleHub
from algotrade.venues.ccxt.credentials import ApiCredentials, missing_credentials_message
from algotrade.venues.ccxt.errors import VENUE_ERRORS, CcxtVenueError
from algotrade.venues.ccxt.exchanges import ExchangeSpec
from algotrade.venues.ccxt.model import (
    Balance,
    InstrumentInfo,
    VenueFill,
    VenueOrder,
    VenuePosition,
    link_id_for,
)
from algotrade.venues.ccxt.reconcile import PositionSnapshot, align_orders, compare_positions
from algotrade.venues.ccxt.rules import to_instrument
from algotrade.venues.ccxt.session import ExchangeSession, Stream
from algotrade.venues.live.alerts import AccountAlerts
from algotrade.venues.live.reconciliation import (
    RESUME_WINDOW_MS,
    PendingFill,
    ReconcileReport,
    past_grace,
)
from algotrade.venues.live.resume import OlderFills, StoredOrder, resume_from_ms
from algotrade.venues.live.tasks import TaskSet, reconcile_loop

if TYPE_CHECKING:
    from algotrade.venues.ccxt.execution import CcxtVenue
    from algotrade.venues.registry import VenueOwner

_log = logging.getLogger("algotrade.venues.ccxt")
PENDING_CLAIM_S = 15.0
FILL_OVERLAP_MS = 2_000  # re-ask a little before the newest execution seen; ids de-duplicate
SEEN_HORIZON_MS = 6 * 3_600_000
_IGNORED_EXEC_TYPES = frozenset({"Funding"})  # no position change


class RoutedVenue(Protocol):
    """A bot venue the account routes what the venue reports to."""

    def on_venue_fill(self, client_order_id: str, fill: VenueFill) -> bool: ...

    def on_venue_order(self, client_order_id: str, update: VenueOrder) -> None: ...

    def recheck(self, client_order_id: str, *, skip_symbols: set[str]) -> None: ...


class CcxtAccount:
    def __init__(
        self,
        venue_name: str,
        spec: ExchangeSpec,
        config: Any,
        credentials: ApiCredentials | None,
        session: ExchangeSession,
        owner: VenueOwner | None = None,
        *,
        since_ms: int | None = None,
        seen_trade_ids: Iterable[str] = (),
        open_orders: Sequence[StoredOrder] = (),
    ) -> None:
        self.venue_name = venue_name
        self.spec = spec
        self.config = config
        self.credentials = credentials
        self.session = session
        self.rest = session.rest
        self.owner = owner
        self.link_prefix: str = getattr(config, "order_link_prefix", "")
        self.candles = CandleHub(session.public, session.rest, spec.extra["interval_ms"])
        self.private: Stream | None = None
        self.instruments_info: dict[str, InstrumentInfo] = {}
        self.positions: dict[str, VenuePosition] = {}
        self.balance: Balance | None = None
        self._routes: dict[str, tuple[RoutedVenue, str]] = {}  # link id → (venue, coid)
        self._order_ids: dict[str, str] = {}  # venue order id → link id
        self._seen: dict[str, int] = dict.fromkeys(seen_trade_ids, since_ms or 0)
        self._pending: dict[str, PendingFill[VenueFill]] = {}
        # Executions booked while a reconciliation runs: in the books, maybe not in its
        # snapshot yet, however they came (its query or the stream).
        self._booked_while_reconciling: list[VenueFill] | None = None
        self._since_ms = since_ms if since_ms is not None else time.time_ns() // 1_000_000
        # An execution older than the floor (where the booked trade ids given begin) is booked
        # or not as the store says if ours (live.resume: a stored open order's, or a link id
        # with a bot's prefix), else it was booked before this run or is not ours.
        resumed = since_ms is not None
        self._floor_ms = self._since_ms - (RESUME_WINDOW_MS if resumed else FILL_OVERLAP_MS)
        prefixes = [f"{self.link_prefix}{bot_id}-" for bot_id in owner.bot_ids()] if owner else []
        self._older = OlderFills(
            owner, open_orders, lambda o: self.link_id(o.client_order_id), prefixes
        )
        # The first reconciliation's start: the floor, or before the oldest open order.
        self._ask_from_ms: int | None = resume_from_ms(self._floor_ms, open_orders)
        self._tasks = TaskSet(self.venue_name, _log)
        self._in_flight: Counter[str] = Counter()
        self._ready = asyncio.Event()
        self._reconcile_lock = asyncio.Lock()
        self._reconcile_wanted = asyncio.Event()
        self._alerts = AccountAlerts(venue_name, _log)
        self._blocked = self._alerts.blocked
        self._reported = self._alerts.reported
        self._unclaimed_orders: dict[str, float] = {}
        self._open_at_venue: dict[str, VenueOrder] = {}
        self.alerts = self._alerts.items
        self.last_report: ReconcileReport | None = None
        self.reconciles = 0
        self.reconcile_failures = 0
        self._started = False

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        infos = await self.rest.instruments()
        self.instruments_info = {info.symbol: info for info in infos}
        if self.credentials is not None:
            private = self.session.private(self)
            private.on_reconnect(self._after_reconnect)
            private.on_disconnect(self._on_disconnect)
            self.private = private
            await private.start()
            await self.reconcile("start")
            self._track(asyncio.get_running_loop().create_task(self._reconcile_loop()))
        self._ready.set()

    async def stop(self, timeout: float = 5.0) -> None:
        await self._tasks.cancel(timeout)
        await self.candles.stop(timeout)
        if self.private is not None:
            await self.private.stop(timeout)
        await self.rest.close()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    @property
    def connected(self) -> bool:
        if self.private is not None:
            return self.private.connected
        return self.session.public.connected

    # ------------------------------------------------------------------ for bots
    def instruments(self, symbol: str) -> list[Instrument]:
        info = self.instruments_info.get(symbol)
        if info is None:
            raise ValueError(
                f"symbol: {self.spec.title} has no {getattr(self.config, 'category', '')} "
                f"contract '{symbol}'"
            )
        return [to_instrument(info, self.venue_name)]

    def venue(self, bot_id: str, symbol: str, on_error: Any = None) -> CcxtVenue:
        from algotrade.venues.ccxt.execution import CcxtVenue  # noqa: PLC0415

        if self.credentials is None:
            raise CcxtVenueError(
                missing_credentials_message(self.spec.title, self.spec.credential_env)
            )
        return CcxtVenue(self, bot_id, symbol, on_error)

    def link_id(self, client_order_id: str) -> str:
        return link_id_for(client_order_id, self.link_prefix)

    def last_price(self, symbol: str) -> Decimal | None:
        entry = self.candles.last_close.get(symbol)
        if entry is not None:
            return entry[0]
        position = self.positions.get(symbol)
        return position.mark_price if position is not None else None

    def spawn(self, coro: Coroutine[Any, Any, None], name: str, symbol: str | None) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        if symbol is not None:
            self._in_flight[symbol] += 1
            task.add_done_callback(lambda _t: self._in_flight.subtract([symbol]))
        self._track(task)

    def register(
        self, link_id: str, venue: RoutedVenue, client_order_id: str, order_id: str = ""
    ) -> None:
        """Route what the venue reports for ``link_id`` (and ``order_id``) to ``venue``;
        executions that came before the registration are offered again."""
        self._routes[link_id] = (venue, client_order_id)
        if order_id:
            self._order_ids[order_id] = link_id
        self._reoffer_pending()

    def unregister(self, link_id: str, venue: RoutedVenue, order_id: str = "") -> None:
        route = self._routes.get(link_id)
        if route is not None and route[0] is venue:
            del self._routes[link_id]
            self._order_ids.pop(order_id, None)

    def note_order_id(self, order_id: str, link_id: str) -> None:
        known = self._order_ids.get(order_id) == link_id
        self._order_ids[order_id] = link_id
        if not known:
            self._reoffer_pending()

    @property
    def blocked(self) -> Mapping[str, str]:
        return self._blocked

    @property
    def pending_count(self) -> int:
        """Executions no bot has claimed (yet)."""
        return len(self._pending)

    def open_at_venue(self, link_id: str) -> VenueOrder | None:
        return self._open_at_venue.get(link_id)

    def report(self, message: str, *, block_symbol: str | None = None) -> None:
        self._alerts.report(self.owner, message, block_symbol)

    async def sync_fills_of(self, symbol: str, order_id: str, since_ms: int) -> int:
        """Ask for the executions of one order (placed at or after ``since_ms``) and route the
        ones not seen yet."""
        return self._route_fills(await self.rest.fills_of_order(symbol, order_id, since_ms))

    async def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        info = self.instruments_info.get(symbol)
        if info is not None and leverage > info.max_leverage:
            raise ValueError(
                f"leverage: {symbol} allows at most {decimal_text(info.max_leverage)} on "
                f"{self.spec.title}, got {decimal_text(leverage)}"
            )
        await self.rest.set_leverage(symbol, leverage)

    # ------------------------------------------------------------------ private stream
    def on_orders(self, orders: Sequence[VenueOrder]) -> None:
        for order in orders:
            link = order.link_id or self._order_ids.get(order.order_id, "")
            route = self._routes.get(link) if link else None
            if route is not None:
                self.note_order_id(order.order_id, link)
                route[0].on_venue_order(route[1], order)

    def on_fills(self, fills: Sequence[VenueFill]) -> None:
        self._route_fills(fills)

    def on_positions(self, positions: Sequence[VenuePosition]) -> None:
        for position in positions:
            if position.size:
                self.positions[position.symbol] = position
            else:
                self.positions.pop(position.symbol, None)

    def on_balance(self, balance: Balance) -> None:
        self.balance = balance

    def _route_fills(self, fills: Iterable[VenueFill]) -> int:
        routed = 0
        for fill in sorted(fills, key=lambda f: (f.time_ms, f.exec_id)):
            if fill.exec_id in self._seen:
                continue
            if fill.exec_type != "Trade":
                if fill.exec_type not in _IGNORED_EXEC_TYPES:
                    self._seen[fill.exec_id] = fill.time_ms
                    self.report(
                        f"{fill.exec_type} execution {fill.exec_id} on {fill.symbol} "
                        f"({fill.side.value} {decimal_text(fill.qty)} @ {decimal_text(fill.price)})"
                    )
                    self.request_reconcile()
                continue
            route = self._route_of(fill)
            if route is None:
                older = fill.time_ms < self._floor_ms and fill.exec_id not in self._older.unbooked
                if fill.exec_id in self._pending or older:
                    continue  # waiting already, or booked before this run (or not ours)
                self._since_ms = max(self._since_ms, fill.time_ms)
                self._pending[fill.exec_id] = PendingFill(fill, time.monotonic())
                continue
            if not route[0].on_venue_fill(route[1], fill):
                continue  # held back (an amendment in flight): offered again later
            self._pending.pop(fill.exec_id, None)
            self._older.unbooked.discard(fill.exec_id)  # once forgotten as seen, it stays booked
            self._since_ms = max(self._since_ms, fill.time_ms)
            self._seen[fill.exec_id] = fill.time_ms
            if self._booked_while_reconciling is not None:
                self._booked_while_reconciling.append(fill)
            routed += 1
        return routed

    def _route_of(self, fill: VenueFill) -> tuple[RoutedVenue, str] | None:
        route = self._routes.get(fill.link_id) if fill.link_id else None
        if route is None:
            link = self._order_ids.get(fill.order_id)
            route = self._routes.get(link) if link else None
        return route

    def hold(self, fill: VenueFill) -> None:
        """A routed execution its order cannot book yet (it exceeds the order's size while an
        amendment is in flight): kept with the unclaimed ones and offered again."""
        self._pending.setdefault(fill.exec_id, PendingFill(fill, time.monotonic()))

    def _reoffer_pending(self) -> None:
        if any(self._route_of(p.fill) is not None for p in self._pending.values()):
            asyncio.get_running_loop().call_soon(self._claim_pending)

    def _claim_pending(self) -> None:
        if self._route_fills([p.fill for p in self._pending.values()]):
            self.request_reconcile()

    def reoffer(self) -> None:
        """Offer the waiting executions again (an amendment was applied)."""
        self._reoffer_pending()

    # ------------------------------------------------------------------ reconciliation
    def request_reconcile(self) -> None:
        self._reconcile_wanted.set()

    def _on_disconnect(self, _at_ms: int) -> None:
        if self.owner is not None:
            self.owner.connection_changed(False, f"{self.spec.title} private stream disconnected")

    async def _after_reconnect(self, _gap_started: int, _now: int) -> None:
        try:
            await self.reconcile("reconnect")
        finally:
            if self.owner is not None:
                self.owner.connection_changed(True, f"{self.spec.title} private stream reconnected")

    async def _reconcile_loop(self) -> None:
        await reconcile_loop(
            self._reconcile_wanted,
            self.reconcile,
            getattr(self.config, "reconcile_interval_s", 60.0) or None,
            label=self.venue_name,
            log=_log,
        )

    async def reconcile(self, reason: str) -> ReconcileReport:
        async with self._reconcile_lock:
            report = ReconcileReport(reason, time.time_ns())
            booked: list[VenueFill] = []
            self._booked_while_reconciling = booked
            try:
                try:
                    snapshot = PositionSnapshot(*await self.rest.positions())
                    venue_orders = await self.rest.open_orders()
                    start = self._since_ms - FILL_OVERLAP_MS
                    fills = await self.rest.fills_since(min(start, self._ask_from_ms or start))
                except VENUE_ERRORS as exc:
                    self.reconcile_failures += 1
                    _log.warning("reconciliation (%s) could not fetch the account: %s", reason, exc)
                    raise
                ids = ((f.exec_id, f.link_id, f.order_id, f.time_ms) for f in fills)
                self._seen.update(await self._older.booked(ids, self._floor_ms, self._seen))
                with contextlib.suppress(*VENUE_ERRORS):
                    self.balance = await self.rest.balance() or self.balance
                self.positions = {p.symbol: p for p in snapshot.positions if p.size}
                report.fills_routed = self._route_fills(fills)
                self._align_orders(venue_orders, report)
                self._compare_positions(snapshot, booked, report)
                self._ask_from_ms = None
            finally:
                self._booked_while_reconciling = None
            self.reconciles += 1
            self.last_report = report
            self._forget_old_fills()
            return report

    def _align_orders(self, venue_orders: list[VenueOrder], report: ReconcileReport) -> None:
        self._open_at_venue = {o.link_id: o for o in venue_orders if o.link_id}
        alignment = align_orders(venue_orders, self._routes.keys())
        for order in alignment.owned:
            venue, coid = self._routes[order.link_id]
            self.note_order_id(order.order_id, order.link_id)
            venue.on_venue_order(coid, order)
            report.orders_adopted += 1
        in_flight = {s for s, n in self._in_flight.items() if n > 0}
        for link in alignment.missing:
            venue, coid = self._routes[link]
            venue.recheck(coid, skip_symbols=in_flight)
        listed = [o.order_id for o in alignment.foreign]
        overdue = past_grace(self._unclaimed_orders, listed, PENDING_CLAIM_S, time.monotonic())
        for order in alignment.foreign:
            if order.order_id not in overdue:
                continue
            report.foreign_orders.append(f"{order.symbol} order {order.order_id}")
            key = f"order:{order.order_id}"
            if key not in self._reported:
                self._reported.add(key)
                self.report(
                    f"open order {order.order_id} on {order.symbol} ({order.side.value} "
                    f"{decimal_text(order.qty)} @ {decimal_text(order.price or Decimal(0))}, "
                    f"client id {order.link_id or 'none'}) is not known to any bot; left untouched"
                )

    def _compare_positions(
        self, snapshot: PositionSnapshot, booked: list[VenueFill], report: ReconcileReport
    ) -> None:
        if self.owner is None:
            return
        now = time.monotonic()
        unclaimed: list[VenueFill] = []
        for exec_id, pending in list(self._pending.items()):
            if now - pending.seen_at < PENDING_CLAIM_S or self._route_of(pending.fill):
                unclaimed.append(pending.fill)
            elif f"fill:{exec_id}" not in self._reported:
                self._reported.add(f"fill:{exec_id}")
                self.report(
                    f"execution {exec_id} on {pending.fill.symbol} (order "
                    f"{pending.fill.order_id}) belongs to no bot on this daemon"
                )
        # Symbols with a request in flight, or an execution the snapshot may or may not hold,
        # are left as they are this round (neither blocked nor unblocked).
        unsure = {s for s, n in self._in_flight.items() if n > 0}
        unsure |= snapshot.undecided([*unclaimed, *booked])
        mismatches = compare_positions(
            self.owner.local_positions(),
            snapshot,
            unclaimed,
            booked,
            skip=unsure,
            title=self.spec.title,
        )
        self._alerts.apply_mismatches(
            self.owner, [(m.symbol, m.message) for m in mismatches], unsure, report.mismatches
        )

    def _forget_old_fills(self) -> None:
        horizon = self._since_ms - SEEN_HORIZON_MS
        if horizon <= self._floor_ms:
            return
        self._floor_ms = horizon
        self._seen = {e: ms for e, ms in self._seen.items() if ms >= horizon}

    # ------------------------------------------------------------------ status
    def snapshot(self) -> dict[str, Any]:
        from algotrade.venues.ccxt.snapshot import account_snapshot  # noqa: PLC0415

        return account_snapshot(self)

    # ------------------------------------------------------------------ internals
    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)

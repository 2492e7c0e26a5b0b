"""``HyperliquidAccount``: the one connection to a Hyperliquid account shared by every bot.

It owns the REST transport (rate limited), the info and exchange clients, the WebSocket (market
data for the candle hub, ``orderUpdates``/``userFills``/``userEvents`` for the account) and the
routing of what the venue reports to the bot venue that owns each order (by cloid, or by oid
once known). Fills are de-duplicated by trade id across the stream, queries and restarts.

Reconciliation runs on start, after every reconnect, periodically and on demand: it fetches the
venue's positions, open orders and fills since the last one seen, routes missed fills, aligns
orders, and compares positions. Fills no bot has claimed yet are held for
``PENDING_CLAIM_S`` (a restarting bot adopts its orders a moment after the first
reconciliation); after that they are foreign. A position that still disagrees raises an alert
and blocks every bot trading that coin until a later reconciliation finds agreement (fail
closed). The owner (the daemon) supplies local positions and carries out the blocking.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from algotrade.core.instruments import Instrument
from algotrade.core.money import decimal_text
from algotrade.venues.hyperliquid.account_status import account_status
from algotrade.venues.hyperliquid.config import HlCredentials, HyperliquidConfig
from algotrade.venues.hyperliquid.data import HyperliquidCandleHub
from algotrade.venues.hyperliquid.errors import VENUE_ERRORS, HlPayloadError, HyperliquidError
from algotrade.venues.hyperliquid.exchange import ExchangeClient, OrderSpec, cloid_for
from algotrade.venues.hyperliquid.execution import HyperliquidVenue
from algotrade.venues.hyperliquid.http import HlHttp
from algotrade.venues.hyperliquid.info import InfoClient
from algotrade.venues.hyperliquid.reconcile import (
    align_orders,
    compare_positions,
    undecided_coins,
    venue_less_unclaimed,
    with_known_cloids,
)
from algotrade.venues.hyperliquid.rules import HlAsset, to_instrument
from algotrade.venues.hyperliquid.schemas import (
    AllMids,
    Fill,
    OpenOrder,
    OrderStatusReply,
    OrderUpdate,
    PlacedOrder,
    UserFills,
    parse,
)
from algotrade.venues.hyperliquid.ws import HlWebSocket
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
    from algotrade.venues.registry import VenueOwner

_log = logging.getLogger("algotrade.venues.hyperliquid")
PENDING_CLAIM_S = 15.0
FILL_OVERLAP_MS = 2_000  # re-ask a little before the last fill seen; trade ids de-duplicate
MID_FRESH_S = 5.0
SEEN_HORIZON_MS = 6 * 3_600_000


class HyperliquidAccount:
    def __init__(
        self,
        config: HyperliquidConfig,
        credentials: HlCredentials | None,
        owner: VenueOwner | None = None,
        *,
        since_ms: int | None = None,
        seen_trade_ids: Iterable[str] = (),
        open_orders: Sequence[StoredOrder] = (),
        http: HlHttp | None = None,
    ) -> None:
        self.config = config
        self.credentials = credentials
        self.owner = owner
        self.http = http or HlHttp(config)
        self.info = InfoClient(self.http)
        self.ws = HlWebSocket(config.websocket_url, config)
        self.candles = HyperliquidCandleHub(self.ws, self.info)
        self.exchange: ExchangeClient | None = None
        self.assets: dict[str, HlAsset] = {}
        self._routes: dict[str, tuple[HyperliquidVenue, str]] = {}  # cloid → (venue, coid)
        self._oids: dict[int, str] = {}  # venue oid → cloid
        # Trade ids booked (→ fill time, ms), kept for SEEN_HORIZON_MS behind the newest.
        self._seen_tids: dict[str, int] = dict.fromkeys(seen_trade_ids, since_ms or 0)
        self._pending: dict[str, PendingFill[Fill]] = {}  # trade id → fill no bot has claimed yet
        # Fills booked while a reconciliation runs: those newer than its snapshot are in the
        # books but not in the snapshot, however they came (its query or the streams).
        self._booked_while_reconciling: list[Fill] | None = None
        self._since_ms = since_ms if since_ms is not None else int(time.time() * 1000)
        # A fill older than the floor (where the booked trade ids given begin) is booked or not
        # as the store says if ours, else booked before this run or not ours (live.resume).
        window = RESUME_WINDOW_MS if since_ms is not None else FILL_OVERLAP_MS
        self._floor_ms = self._since_ms - window
        self._ask_from_ms: int | None = resume_from_ms(self._floor_ms, open_orders)
        self._older = OlderFills(owner, open_orders, lambda o: cloid_for(o.client_order_id))
        self._tasks = TaskSet("hyperliquid", _log)
        self._in_flight: Counter[str] = Counter()
        self._mids: dict[str, tuple[Decimal, float]] = {}
        self._ready = asyncio.Event()
        self._reconcile_lock = asyncio.Lock()
        self._reconcile_wanted = asyncio.Event()
        self._alerts = AccountAlerts("hyperliquid", _log)
        self._blocked = self._alerts.blocked
        self._reported = self._alerts.reported
        self._unclaimed_orders: dict[int, float] = {}  # oid → when first seen unclaimed
        # The open orders of the last reconciliation by cloid: adopting one of them needs no
        # lookup (the streams, subscribed before that snapshot, report what happened since).
        self._open_at_venue: dict[str, OpenOrder] = {}
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
        await self.http.start()
        self.assets = await self.info.assets()
        if self.credentials is not None:
            self.exchange = ExchangeClient(self.http, self.credentials, self.config, self.assets)
        await self.ws.subscribe({"type": "allMids"}, self._on_mids)
        if self.credentials is not None:
            user = self.credentials.account_address
            await self.ws.subscribe({"type": "orderUpdates", "user": user}, self._on_order_updates)
            await self.ws.subscribe({"type": "userFills", "user": user}, self._on_user_fills)
            await self.ws.subscribe({"type": "userEvents", "user": user}, self._on_user_events)
        self.ws.on_reconnect(self._after_reconnect)
        self.ws.on_disconnect(self._on_disconnect)
        await self.ws.start()
        if self.credentials is not None:
            await self.reconcile("start")
            self._track(asyncio.get_running_loop().create_task(self._reconcile_loop()))
        self._ready.set()

    async def stop(self, timeout: float = 5.0) -> None:
        await self._tasks.cancel(timeout)
        await self.candles.stop()
        await self.ws.stop()
        await self.http.close()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    # ------------------------------------------------------------------ for bots
    def instruments(self) -> list[Instrument]:
        return [to_instrument(asset) for asset in self.assets.values()]

    def coin_of(self, symbol: str) -> str:
        return symbol

    def venue(self, bot_id: str, on_error: Any = None) -> HyperliquidVenue:
        if self.exchange is None:
            raise HyperliquidError(
                "trading on Hyperliquid needs credentials: set ALGOTRADE_HYPERLIQUID_ACCOUNT_"
                "ADDRESS and ALGOTRADE_HYPERLIQUID_PRIVATE_KEY or a secrets file"
            )
        return HyperliquidVenue(self, bot_id, on_error)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str, coin: str | None) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        if coin is not None:
            self._in_flight[coin] += 1
            task.add_done_callback(lambda _t: self._in_flight.subtract([coin]))
        self._track(task)

    def register(
        self,
        cloid: str,
        venue: HyperliquidVenue,
        client_order_id: str,
        oid: int | None = None,
    ) -> None:
        """Route what the venue reports for ``cloid`` (and ``oid``, when the order already has
        one) to ``venue``. Fills that arrived before the order was registered are offered
        to it again: after a restart they often come first."""
        self._routes[cloid] = (venue, client_order_id)
        if oid is not None:
            self._oids[oid] = cloid
        self._reoffer_pending()

    def unregister(self, cloid: str, venue: HyperliquidVenue, oid: str = "") -> None:
        route = self._routes.get(cloid)
        if route is not None and route[0] is venue:
            del self._routes[cloid]
            if oid.isdigit():
                self._oids.pop(int(oid), None)

    def note_oid(self, oid: int, cloid: str) -> None:
        """The venue's oid of the order ``cloid``: fills that name only the oid (no cloid)
        route to it from now on, and the ones already waiting are offered again."""
        known = self._oids.get(oid) == cloid
        self._oids[oid] = cloid
        if not known:
            self._reoffer_pending()

    @property
    def blocked(self) -> Mapping[str, str]:
        """Coin → why its bots are blocked (until a reconciliation finds agreement)."""
        return self._blocked

    def now_ns(self) -> int:
        return time.time_ns()

    def report(self, message: str, *, block_coin: str | None = None) -> None:
        self._alerts.report(self.owner, message, block_coin)

    # ------------------------------------------------------------------ requests
    async def place(self, spec: OrderSpec) -> PlacedOrder:
        assert self.exchange is not None
        mid = self._fresh_mid(spec.coin) if spec.kind != "limit" else None
        placed = await self.exchange.place_orders([spec], mid=mid)
        return placed[0]

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        assert self.exchange is not None
        await self.exchange.update_leverage(self.coin_of(symbol), leverage)

    async def cancel(self, symbol: str, cloid: str) -> str:
        assert self.exchange is not None
        return await self.exchange.cancel_by_cloid(self.coin_of(symbol), cloid)

    async def modify(self, spec: OrderSpec) -> None:
        """Replace the resting order ``spec.cloid`` by ``spec`` (see ``ExchangeClient.modify``)."""
        assert self.exchange is not None
        mid = self._fresh_mid(spec.coin) if spec.kind != "limit" else None
        await self.exchange.modify(spec.cloid, spec, mid=mid)

    def open_at_venue(self, cloid: str) -> OpenOrder | None:
        return self._open_at_venue.get(cloid)

    async def order_status(self, cloid: str) -> OrderStatusReply:
        assert self.credentials is not None
        return await self.info.order_status(self.credentials.account_address, cloid)

    async def sync_fills(self, since_ms: int) -> int:
        """Ask for fills since ``since_ms`` and route the ones not seen yet."""
        assert self.credentials is not None
        fills = await self.info.user_fills_since(
            self.credentials.account_address, since_ms - FILL_OVERLAP_MS
        )
        return self._route_fills(fills)

    def _fresh_mid(self, coin: str) -> Decimal | None:
        entry = self._mids.get(coin)
        if entry is None or time.monotonic() - entry[1] > MID_FRESH_S:
            return None  # the exchange client asks for allMids
        return entry[0]

    # ------------------------------------------------------------------ stream handlers
    def _on_mids(self, data: Any) -> None:
        mids = parse(AllMids, data, "allMids")
        now = time.monotonic()
        for coin, px in mids.mids.items():
            self._mids[coin] = (px, now)

    def _on_user_fills(self, data: Any) -> None:
        message = parse(UserFills, data, "userFills")
        self._route_fills(message.fills)

    def _on_order_updates(self, data: Any) -> None:
        for update in parse(list[OrderUpdate], data, "orderUpdates"):
            cloid = (update.order.cloid or "").lower() or self._oids.get(update.order.oid)
            route = self._routes.get(cloid) if cloid else None
            if route is not None:
                self.note_oid(update.order.oid, cloid or "")
                route[0].on_venue_status(route[1], update)

    def _on_user_events(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise HlPayloadError(f"userEvents: expected an object, got {type(data).__name__}")
        if "fills" in data:
            self._route_fills(parse(list[Fill], data["fills"], "userEvents.fills"))
        if "liquidation" in data:
            self.report(f"liquidation event on the account: {str(data['liquidation'])[:200]}")
            self.request_reconcile()
        if "nonUserCancel" in data:
            for cancel in data["nonUserCancel"]:
                _log.warning(
                    "venue cancelled order %s on %s", cancel.get("oid"), cancel.get("coin")
                )
            self.request_reconcile()
        if "funding" in data:
            _log.info("funding: %s", str(data["funding"])[:200])

    def _route_fills(self, fills: Iterable[Fill]) -> int:
        routed = 0
        for fill in sorted(fills, key=lambda f: (f.time, f.tid)):
            tid = str(fill.tid)
            if tid in self._seen_tids:
                continue
            route = self._route_of(fill)
            if route is None:
                if tid in self._pending:
                    continue  # still waiting (since it was first seen)
                if fill.time < self._floor_ms and tid not in self._older.unbooked:
                    continue  # booked before this run, or not ours
                self._since_ms = max(self._since_ms, fill.time)
                self._pending[tid] = PendingFill(fill, time.monotonic())
                continue
            # A waiting fill whose order is now known is claimed here, whichever way it came
            # back (re-fetch, snapshot, registration). An open order's fills are delivered
            # whatever their age: the order knows which executions it booked before a
            # restart (its fill ids) and ignores those.
            self._pending.pop(tid, None)
            self._older.unbooked.discard(tid)  # once forgotten as seen, it stays booked
            self._since_ms = max(self._since_ms, fill.time)
            self._seen_tids[tid] = fill.time
            if self._booked_while_reconciling is not None:
                self._booked_while_reconciling.append(fill)
            route[0].on_venue_fill(route[1], fill)
            routed += 1
        return routed

    def _route_of(self, fill: Fill) -> tuple[HyperliquidVenue, str] | None:
        """The bot order a fill belongs to: by its cloid, or by its oid when the venue left
        the cloid out (it may, e.g. for orders placed just before a crash)."""
        cloid = (fill.cloid or "").lower()
        route = self._routes.get(cloid) if cloid else None
        if route is None:
            by_oid = self._oids.get(fill.oid)
            route = self._routes.get(by_oid) if by_oid else None
        return route

    def _reoffer_pending(self) -> None:
        """Offer the waiting fills again once a new order or oid is known. Deferred to the
        next loop turn: registration happens inside the engine's own calls (submit, adopt),
        which must not be re-entered with a fill."""
        if any(self._route_of(p.fill) is not None for p in self._pending.values()):
            asyncio.get_running_loop().call_soon(self._claim_pending)

    def _claim_pending(self) -> None:
        if self._route_fills([p.fill for p in self._pending.values()]):
            self.request_reconcile()  # the claimed fills no longer offset the venue position

    # ------------------------------------------------------------------ reconciliation
    def request_reconcile(self) -> None:
        self._reconcile_wanted.set()

    def _on_disconnect(self, *_args: Any) -> None:
        if self.owner is not None:
            self.owner.connection_changed(False, "Hyperliquid WebSocket disconnected")

    async def _after_reconnect(self, *_args: Any) -> None:
        if self.credentials is not None:
            await self.reconcile("reconnect")
        if self.owner is not None:
            self.owner.connection_changed(True, "Hyperliquid WebSocket reconnected")

    async def _reconcile_loop(self) -> None:
        await reconcile_loop(
            self._reconcile_wanted,
            self.reconcile,
            self.config.reconcile_interval_s or None,
            label="hyperliquid",
            log=_log,
        )

    async def reconcile(self, reason: str) -> ReconcileReport:
        assert self.credentials is not None
        user = self.credentials.account_address
        async with self._reconcile_lock:
            report = ReconcileReport(reason, time.time_ns())
            booked: list[Fill] = []
            self._booked_while_reconciling = booked
            try:
                try:
                    state = await self.info.clearinghouse_state(user)
                    venue_orders = await self.info.open_orders(user)
                    since = self._since_ms - FILL_OVERLAP_MS
                    since = min(since, self._ask_from_ms or since)
                    fills = await self.info.user_fills_since(user, since)
                except VENUE_ERRORS as exc:
                    self.reconcile_failures += 1
                    _log.warning(
                        "reconciliation (%s) could not fetch account state: %s", reason, exc
                    )
                    raise
                ids = ((str(f.tid), (f.cloid or "").lower(), str(f.oid), f.time) for f in fills)
                in_store = await self._older.booked(ids, self._floor_ms, self._seen_tids)
                self._seen_tids.update(in_store)
                report.fills_routed = self._route_fills(fills)
                self._align_orders(venue_orders, report)
                self._compare_positions(state.positions(), state.time, booked, report)
                self._ask_from_ms = None  # later rounds ask from the newest fill seen
            finally:
                self._booked_while_reconciling = None
            self.reconciles += 1
            self.last_report = report
            self._forget_old_fills()
            return report

    def _align_orders(self, venue_orders: list[OpenOrder], report: ReconcileReport) -> None:
        venue_orders = with_known_cloids(venue_orders, self._oids)
        self._open_at_venue = {o.cloid.lower(): o for o in venue_orders if o.cloid}
        alignment = align_orders(venue_orders, self._routes.keys())
        for order in alignment.owned:
            cloid = (order.cloid or "").lower()
            venue, coid = self._routes[cloid]
            self.note_oid(order.oid, cloid)
            venue.on_venue_status(
                coid,
                OrderUpdate.model_validate(
                    {"order": order, "status": "open", "status_timestamp": order.timestamp}
                ),
            )
            report.orders_adopted += 1
        in_flight = {coin for coin, n in self._in_flight.items() if n > 0}
        for cloid in alignment.missing_cloids:
            venue, coid = self._routes[cloid]
            venue.recheck(coid, skip_symbols=in_flight)
        # A restarting bot adopts its orders a moment after the first reconciliation:
        # an order is foreign only once it has stayed unclaimed for a while.
        listed = [order.oid for order in alignment.foreign]
        overdue = past_grace(self._unclaimed_orders, listed, PENDING_CLAIM_S, time.monotonic())
        for order in alignment.foreign:
            if order.oid not in overdue:
                continue
            key = f"order:{order.oid}"
            report.foreign_orders.append(f"{order.coin} oid {order.oid}")
            if key not in self._reported:
                self._reported.add(key)
                self.report(
                    f"open order oid {order.oid} on {order.coin} ({order.order_side.value} "
                    f"{decimal_text(order.sz)} @ {decimal_text(order.limit_px)}, cloid "
                    f"{order.cloid or 'none'}) is not known to any bot; left untouched"
                )

    def _compare_positions(
        self,
        venue: dict[str, Decimal],
        snapshot_ms: int,
        booked: list[Fill],
        report: ReconcileReport,
    ) -> None:
        if self.owner is None:
            return
        now = time.monotonic()
        unclaimed: list[Fill] = []
        for tid, pending in list(self._pending.items()):
            if now - pending.seen_at < PENDING_CLAIM_S:
                unclaimed.append(pending.fill)
            elif f"fill:{tid}" not in self._reported:
                self._reported.add(f"fill:{tid}")
                self.report(
                    f"fill {tid} on {pending.fill.coin} (oid {pending.fill.oid}) belongs to no "
                    "bot on this daemon"
                )
        # The snapshot less what it holds of fills no bot has claimed yet, compared with the
        # bots' books less the fills booked since the snapshot (in them, not yet in it).
        expected = venue_less_unclaimed(venue, unclaimed, snapshot_ms)
        after = [f for f in booked if f.time > snapshot_ms]  # booked during this round
        # Coins with a request in flight, or a fill of the snapshot's millisecond, wait a round.
        unsure = {coin for coin, n in self._in_flight.items() if n > 0}
        unsure |= undecided_coins([*unclaimed, *booked], snapshot_ms)
        mismatches = compare_positions(self.owner.local_positions(), expected, after, skip=unsure)
        self._alerts.apply_mismatches(
            self.owner, [(m.coin, m.message) for m in mismatches], unsure, report.mismatches
        )

    def _forget_old_fills(self) -> None:
        """Bound memory over months of running: trade ids older than the horizon are
        dropped, and fills older than it are ignored from now on (they were booked)."""
        horizon = self._since_ms - SEEN_HORIZON_MS
        if horizon <= self._floor_ms:
            return
        self._floor_ms = horizon
        self._seen_tids = {t: ms for t, ms in self._seen_tids.items() if ms >= horizon}

    # ------------------------------------------------------------------ status
    @property
    def pending_fill_count(self) -> int:
        """Fills no bot has claimed yet."""
        return len(self._pending)

    def snapshot(self) -> dict[str, Any]:
        return account_status(self)

    # ------------------------------------------------------------------ internals
    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)

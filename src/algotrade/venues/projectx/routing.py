"""Which bot an order event or a trade of the ProjectX account belongs to.

Orders are routed by ``customTag`` (our client order id, ``order_rules.tag_for``); trades
carry only the gateway's order id, so the router learns order id → tag from placement
replies, order events and searches. Trades are booked once per trade id across the hub, the
REST searches and restarts (the ids booked lately come from the daemon's store). A trade of
an order no bot has claimed yet waits (a restarting bot adopts its orders a moment after the
first reconciliation); reconciliation decides when it is foreign.

After a restart, whether a trade older than the ids the store gave was booked is the store's
to say, by trade id, if the trade is ours (``live.resume``): of an order the store holds open
(by order id or tag), or with a bot's prefix in its tag (an order sent just before a crash and
never recorded). The first reconciliation asks from before the oldest stored open order.

The router also remembers placements whose outcome is unknown (their contract stays held
until a reconciliation finds out) and placements given up as never received (should one show
up after all, it is reported).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from algotrade.core.timeutil import datetime_to_ns
from algotrade.venues.live.reconciliation import RESUME_WINDOW_MS
from algotrade.venues.live.resume import OlderFills, StoredOrder, resume_from_ms
from algotrade.venues.projectx.blocks import Blocks
from algotrade.venues.projectx.order_rules import NS_PER_MS, tag_for
from algotrade.venues.projectx.schemas import Order, Trade

if TYPE_CHECKING:
    from algotrade.venues.projectx.venue import ProjectXVenue
    from algotrade.venues.registry import VenueOwner

__all__ = ["OrderRouter", "Route"]

Route = tuple["ProjectXVenue", str]  # (bot venue, client order id)
TRADE_OVERLAP_NS = 5_000_000_000  # searches start this far behind the newest trade seen
SEEN_HORIZON_NS = 6 * 3600 * 1_000_000_000


@dataclass(slots=True)
class _Pending:
    trade: Trade
    seen_at: float


class OrderRouter:
    def __init__(
        self,
        blocks: Blocks,
        request_reconcile: Callable[[], None],
        *,
        since_ns: int | None,
        seen_trade_ids: Iterable[str],
        owner: VenueOwner | None = None,
        open_orders: Sequence[StoredOrder] = (),
    ) -> None:
        self._blocks = blocks
        self._request_reconcile = request_reconcile
        self.account_id: int | None = None
        self._routes: dict[str, Route] = {}  # customTag → route
        self._tags: dict[int, str] = {}  # gateway order id → customTag
        # Trade ids booked (→ trade time, ns), kept for SEEN_HORIZON_NS behind the newest.
        self._seen: dict[int, int] = {
            int(t): since_ns or 0 for t in seen_trade_ids if str(t).isdigit()
        }
        self._pending: dict[int, _Pending] = {}  # trade id → trade of no known order yet
        self.since_ns = since_ns if since_ns is not None else time.time_ns()
        # A trade older than the floor (after a restart: where the booked trade ids given
        # begin) is booked or not as the store says if ours, else it was booked before this
        # run or is not ours. Whole milliseconds, as live.resume decides in those.
        window_ns = RESUME_WINDOW_MS * NS_PER_MS if since_ns is not None else TRADE_OVERLAP_NS
        self._floor_ms = (self.since_ns - window_ns) // NS_PER_MS
        prefixes = [f"{bot_id}-" for bot_id in owner.bot_ids()] if owner is not None else []
        self._older = OlderFills(owner, open_orders, _tag_of, prefixes)
        # Where the first reconciliation asks from: the floor, or before the oldest open order.
        self._resume_from_ns: int | None = resume_from_ms(self._floor_ms, open_orders) * NS_PER_MS
        self._searched: set[int] = set()  # order ids an Order/search was asked about
        self._unresolved: dict[str, Route] = {}  # tag → placement of unknown outcome
        self._ghosts: set[str] = set()
        self.open_at_venue: dict[str, Order] = {}  # tag → open order (last reconciliation)

    # ------------------------------------------------------------------ orders
    def register(self, tag: str, venue: ProjectXVenue, coid: str, order_id: int | None) -> None:
        self._routes[tag] = (venue, coid)
        if order_id is not None:
            self.note_order_id(order_id, tag)

    def unregister(self, tag: str, venue: ProjectXVenue) -> None:
        route = self._routes.get(tag)
        if route is not None and route[0] is venue:
            del self._routes[tag]
        self.resolved(tag)

    def routes(self) -> dict[str, Route]:
        return dict(self._routes)

    def note_order_id(self, order_id: int, tag: str) -> None:
        """Learn which order id carries ``tag``; its waiting trades are offered again on the
        next loop turn (never inside the engine's own call)."""
        if self._tags.get(order_id) == tag:
            return
        self._tags[order_id] = tag
        if any(p.trade.order_id == order_id for p in self._pending.values()):
            asyncio.get_running_loop().call_soon(self._claim_pending)

    def on_order(self, order: Order) -> None:
        """A ``GatewayUserOrder`` event: to the bot venue whose tag it carries."""
        if order.account_id != self.account_id:
            return
        tag = order.custom_tag or self._tags.get(order.id)
        if not tag:
            return  # not ours (a person's order): reconciliation reports it if it stays
        self.note_order_id(order.id, tag)
        route = self._routes.get(tag)
        if route is not None:
            route[0].on_venue_order(route[1], order)
        elif tag in self._ghosts and self._blocks.reported_once(f"ghost:{tag}"):
            self._blocks.report(
                f"order {order.id} with customTag {tag} reached the venue after it was given up "
                "as never received; reconciling"
            )
            self._request_reconcile()

    def unknown_order_ids(self, trades: Iterable[Trade]) -> set[int]:
        """Order ids of ``trades`` whose tag is not known and was never searched for."""
        return {
            t.order_id
            for t in trades
            if t.order_id not in self._tags and t.order_id not in self._searched
        }

    def searched(self, order_ids: Iterable[int]) -> None:
        """An ``Order/search`` answered for these ids (ours or not): not asked again."""
        self._searched.update(order_ids)

    # ------------------------------------------------------------------ outcomes unknown
    def unresolved(self, tag: str, route: Route, contract: str) -> None:
        """A placement whose outcome could not be found out: its contract stays held and
        every reconciliation asks again."""
        self._unresolved[tag] = route
        self._blocks.hold(
            f"unresolved:{tag}", contract, f"order {route[1]} (customTag {tag}): outcome unknown"
        )

    def resolved(self, tag: str) -> None:
        if self._unresolved.pop(tag, None) is not None:
            self._blocks.release(f"unresolved:{tag}")

    def unresolved_placements(self) -> list[Route]:
        return list(self._unresolved.values())

    def given_up(self, tag: str) -> None:
        """A placement declared never received: should it show up after all, say so."""
        self._ghosts.add(tag)

    # ------------------------------------------------------------------ trades
    def search_from_ns(self) -> int:
        """Where a reconciliation asks for trades from: a little behind the newest one seen,
        and until one has read them after a restart, from before the oldest stored open order."""
        start = self.since_ns - TRADE_OVERLAP_NS
        return start if self._resume_from_ns is None else min(start, self._resume_from_ns)

    def resumed(self) -> None:
        """A reconciliation has read the trades from ``search_from_ns``: later ones ask from
        the newest trade seen."""
        self._resume_from_ns = None

    async def decide_older(self, trades: Iterable[Trade]) -> None:
        """Ask the store about the trades older than the floor that are ours and not booked in
        this run (``live.resume``, once each): those it booked are taken as seen, the others
        are offered to their bots like any missed trade. Call before ``route_trades``."""
        fills = [
            (str(t.id), self._tags.get(t.order_id, ""), str(t.order_id), _ms(t))
            for t in trades
            if t.account_id == self.account_id and t.id not in self._seen and not t.voided
        ]
        booked = await self._older.booked(fills, self._floor_ms, ())
        self._seen.update({int(tid): ms * NS_PER_MS for tid, ms in booked.items()})

    def route_trades(self, trades: Iterable[Trade]) -> int:
        """Deliver trades not booked yet to the bot venue of their order; the rest wait."""
        routed = 0
        for trade in sorted(trades, key=lambda t: (t.creation_timestamp, t.id)):
            if trade.account_id != self.account_id or trade.id in self._seen:
                continue
            if trade.voided:
                if self._blocks.reported_once(f"voided:{trade.id}"):
                    self._blocks.report(f"trade {trade.id} (order {trade.order_id}) was voided")
                    self._request_reconcile()
                continue
            ts = datetime_to_ns(trade.creation_timestamp)
            tag = self._tags.get(trade.order_id)
            route = self._routes.get(tag) if tag else None
            self.since_ns = max(self.since_ns, ts)
            if route is None:
                older = (
                    ts // NS_PER_MS < self._floor_ms and str(trade.id) not in self._older.unbooked
                )
                if trade.id in self._pending or older:
                    continue  # waiting already, or booked before this run (or not ours)
                self._pending[trade.id] = _Pending(trade, time.monotonic())
                continue
            self._pending.pop(trade.id, None)
            self._older.unbooked.discard(str(trade.id))  # once forgotten as seen, it stays booked
            self._seen[trade.id] = ts
            route[0].on_venue_trade(route[1], trade)
            routed += 1
        return routed

    def pending_trades(self) -> list[tuple[Trade, float]]:
        """Trades of no known order and when they were first seen (monotonic)."""
        return [(p.trade, p.seen_at) for p in self._pending.values()]

    def _claim_pending(self) -> None:
        if self.route_trades([p.trade for p in self._pending.values()]):
            self._request_reconcile()  # the claimed trades no longer offset the venue position

    def forget_old(self) -> None:
        """Bound memory over months: trade ids far behind the newest are dropped, and trades
        that old are ignored from now on (they were booked)."""
        horizon = self.since_ns - SEEN_HORIZON_NS
        if horizon // NS_PER_MS <= self._floor_ms:
            return
        self._floor_ms = horizon // NS_PER_MS
        self._seen = {t: ns for t, ns in self._seen.items() if ns >= horizon}
        self._searched.clear()


def _tag_of(order: StoredOrder) -> str:
    return tag_for(order.client_order_id, order.created_ns)


def _ms(trade: Trade) -> int:
    return datetime_to_ns(trade.creation_timestamp) // NS_PER_MS

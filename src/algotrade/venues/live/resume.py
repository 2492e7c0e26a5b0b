"""After a restart: how far back a live account asks its venue for fills, and which of the
older fills it finds its bots still have to book.

The daemon gives a connecting account the trade ids booked within ``RESUME_WINDOW_MS`` of the
newest booked fill (those it knows by heart: "the floor" is where they begin) and the orders
the store holds open. Any of those orders may have filled while nothing was recorded (a
``kill -9`` between the venue's fill and the store's commit), however long ago: the first
reconciliation asks from the oldest one's creation. A fill older than the floor is then one
its bot has still to book only if it belongs to one of our orders and the store has not booked
its trade id (``VenueOwner.booked_trade_ids``); every other one was booked before, or is not
ours. Time alone never decides that a fill was booked.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from algotrade.venues.live.reconciliation import RESUME_WINDOW_MS

if TYPE_CHECKING:
    from algotrade.venues.registry import VenueOwner

__all__ = ["OlderFills", "StoredOrder", "resume_from_ms"]


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """An order the store holds open (``created_ns``: when the bot made it)."""

    client_order_id: str
    venue_order_id: str
    created_ns: int


def resume_from_ms(floor_ms: int, open_orders: Iterable[StoredOrder]) -> int:
    """Where the first reconciliation asks for fills from: the floor, or a minute before the
    oldest open order's creation if earlier (a margin: that time is the bot's clock, or its
    bar's, not the venue's). Each venue pages its fill history within its own limits."""
    created = [order.created_ns // 1_000_000 - RESUME_WINDOW_MS for order in open_orders]
    return max(0, min([floor_ms, *created]))


class OlderFills:
    """Decides the fills older than the floor: ``unbooked`` holds the trade ids of our orders'
    fills the store has not booked (to be offered to their bots like any missed fill).

    ``venue_client_id``: the venue's client id of one of our stored orders (made of its client
    order id, and on ProjectX of its creation time too);
    ``bot_prefixes``: the venue client ids of the bots' own orders start with one of these
    (none for a venue whose client ids are hashes: only the stored open orders tell there)."""

    def __init__(
        self,
        owner: VenueOwner | None,
        open_orders: Iterable[StoredOrder],
        venue_client_id: Callable[[StoredOrder], str],
        bot_prefixes: Iterable[str] = (),
    ) -> None:
        self._owner = owner
        orders = list(open_orders)
        self._client_ids = {venue_client_id(o) for o in orders}
        self._order_ids = {o.venue_order_id for o in orders if o.venue_order_id}
        self._prefixes = tuple(bot_prefixes)
        self._decided: set[str] = set()
        self.unbooked: set[str] = set()

    def ours(self, client_id: str, order_id: str) -> bool:
        return (
            client_id in self._client_ids
            or order_id in self._order_ids
            or (bool(self._prefixes) and client_id.startswith(self._prefixes))
        )

    async def booked(
        self, fills: Iterable[tuple[str, str, str, int]], floor_ms: int, seen: Container[str]
    ) -> dict[str, int]:
        """``fills``: (trade id, venue client id, venue order id, time in ms). Of those older
        than ``floor_ms`` and not ``seen`` (booked in this run), the ones of our orders are
        looked up in the store, once each: those it booked are returned (trade id → time, for
        the caller to take as seen), the others are added to ``unbooked``."""
        older = {
            tid: ms
            for tid, client_id, order_id, ms in fills
            if ms < floor_ms and tid not in seen and tid not in self._decided
            if self.ours(client_id, order_id)
        }
        if not older or self._owner is None:
            return {}
        booked = await self._owner.booked_trade_ids(list(older))
        self._decided.update(older)
        self.unbooked.update(tid for tid in older if tid not in booked)
        return {tid: ms for tid, ms in older.items() if tid in booked}

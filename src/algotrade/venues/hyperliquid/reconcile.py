"""Reconciliation: what local state and the venue disagree about (pure functions, no I/O).

The account adapter fetches the venue's side (``clearinghouseState``, open orders, fills since
the last one seen), routes the missed fills to their bots first, and then asks these functions
what still disagrees. Positions are compared as of the venue snapshot's time: fills the venue
reports after that time are already in the local books but not yet in the snapshot, so they
are taken back out before comparing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from algotrade.core.money import decimal_text
from algotrade.venues.hyperliquid.schemas import Fill, OpenOrder, side_from_wire
from algotrade.venues.live.positions import position_differences


@dataclass(frozen=True, slots=True)
class PositionMismatch:
    coin: str
    local: Decimal
    venue: Decimal

    @property
    def message(self) -> str:
        return (
            f"position mismatch on {self.coin}: the bots hold {decimal_text(self.local)}, "
            f"Hyperliquid reports {decimal_text(self.venue)}"
        )


def compare_positions(
    local: Mapping[str, Decimal],
    venue: Mapping[str, Decimal],
    fills_after_snapshot: Iterable[Fill] = (),
    *,
    skip: Iterable[str] = (),
) -> list[PositionMismatch]:
    """Coins whose summed local position differs from the venue's signed size.

    ``fills_after_snapshot`` are fills newer than the venue snapshot that local state already
    includes; ``skip`` names coins with requests in flight (their outcome is not known yet)."""
    after = ((f.coin, f.sz * side_from_wire(f.side).sign) for f in fills_after_snapshot)
    return [
        PositionMismatch(coin, mine, theirs)
        for coin, mine, theirs in position_differences(local, venue, after, skip=skip)
    ]


def venue_less_unclaimed(
    venue: Mapping[str, Decimal], unclaimed: Iterable[Fill], snapshot_ms: int
) -> dict[str, Decimal]:
    """The venue's positions less the fills no bot has booked yet (``unclaimed``), each taken
    off only if the snapshot holds it: a fill newer than ``snapshot_ms`` is in neither the
    snapshot nor any bot's books (taking it off anyway reported a false mismatch whenever a
    resting order filled while a reconciliation was under way, e.g. just after a restart).
    A fill of the snapshot's own millisecond may be in it or not: its coin is not compared
    this round (``undecided_coins``)."""
    expected = dict(venue)
    for fill in unclaimed:
        if fill.time < snapshot_ms:
            signed = fill.sz * side_from_wire(fill.side).sign
            expected[fill.coin] = expected.get(fill.coin, Decimal(0)) - signed
    return expected


def undecided_coins(fills: Iterable[Fill], snapshot_ms: int) -> set[str]:
    """Coins of ``fills`` stamped the snapshot's own millisecond: the snapshot (as of its
    ``time``, in ms) may or may not hold them, as a fill can follow the read within that
    millisecond; nothing finer tells, so those coins wait for the next round."""
    return {fill.coin for fill in fills if fill.time == snapshot_ms}


@dataclass(frozen=True, slots=True)
class OrderAlignment:
    """Open orders at the venue split by whether a bot owns them, and local open orders the
    venue no longer lists (to be looked up one by one)."""

    owned: list[OpenOrder]
    foreign: list[OpenOrder]
    missing_cloids: list[str]


def with_known_cloids(
    venue_orders: Iterable[OpenOrder], oids: Mapping[int, str]
) -> list[OpenOrder]:
    """The docs' frontendOpenOrders example carries no cloid: an order listed without one is
    ours when we know its oid (``oids``: oid → cloid, from placements, updates, lookups)."""
    return [
        order.model_copy(update={"cloid": oids[order.oid]})
        if not order.cloid and order.oid in oids
        else order
        for order in venue_orders
    ]


def align_orders(
    venue_orders: Iterable[OpenOrder], local_open_cloids: Collection[str]
) -> OrderAlignment:
    """``local_open_cloids``: the cloids of the orders open locally (the routes)."""
    owned: list[OpenOrder] = []
    foreign: list[OpenOrder] = []
    listed: set[str] = set()
    for order in venue_orders:
        cloid = (order.cloid or "").lower()
        if cloid and cloid in local_open_cloids:
            owned.append(order)
            listed.add(cloid)
        else:
            foreign.append(order)
    missing = [c for c in local_open_cloids if c not in listed]
    return OrderAlignment(owned, foreign, missing)

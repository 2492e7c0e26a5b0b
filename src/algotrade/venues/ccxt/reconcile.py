"""Reconciliation: what local state and the venue disagree about (pure functions, no I/O).

The account fetches the venue's side (positions, open orders, executions since the last one
seen), routes the missed executions to their bots first, then asks these functions what still
disagrees. Positions are compared as of the venue's snapshot: executions booked locally that
the snapshot does not hold yet are taken back out of the local books, and executions no bot has
claimed yet are taken off the snapshot only if it holds them. Whether it holds one is told by
Bybit's cross sequence (``seq``, "used to associate each fill and each position update"); by
time only for a symbol the snapshot does not list, and not at all for an execution stamped the
snapshot's own millisecond (that symbol is left out of the round).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from algotrade.core.money import ZERO, decimal_text
from algotrade.venues.ccxt.model import VenueFill, VenueOrder, VenuePosition
from algotrade.venues.live.positions import position_differences

__all__ = [
    "OrderAlignment",
    "PositionMismatch",
    "PositionSnapshot",
    "align_orders",
    "compare_positions",
]


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """The venue's positions as one reply gave them (``at_ms``: the reply's time)."""

    at_ms: int
    positions: Sequence[VenuePosition]

    @property
    def sizes(self) -> dict[str, Decimal]:
        return {p.symbol: p.size for p in self.positions if p.size}

    def holds(self, fill: VenueFill) -> bool | None:
        """Whether the snapshot's position holds ``fill``: by sequence when the symbol is
        listed with one, else by time; None when it cannot tell (no sequence to compare, and
        the execution is stamped the snapshot's millisecond: the reply's time is not when the
        position was read, so either may be first)."""
        listed = next((p for p in self.positions if p.symbol == fill.symbol), None)
        if listed is not None and listed.seq is not None and fill.seq is not None:
            return fill.seq <= listed.seq
        if fill.time_ms == self.at_ms:
            return None
        return fill.time_ms < self.at_ms

    def undecided(self, fills: Iterable[VenueFill]) -> set[str]:
        """Symbols of ``fills`` the snapshot may or may not hold (``holds`` is None)."""
        return {fill.symbol for fill in fills if self.holds(fill) is None}


@dataclass(frozen=True, slots=True)
class PositionMismatch:
    symbol: str
    local: Decimal
    venue: Decimal
    title: str = "the venue"

    @property
    def message(self) -> str:
        return (
            f"position mismatch on {self.symbol}: the bots hold {decimal_text(self.local)}, "
            f"{self.title} reports {decimal_text(self.venue)}"
        )


def compare_positions(
    local: Mapping[str, Decimal],
    snapshot: PositionSnapshot,
    unclaimed: Iterable[VenueFill] = (),
    booked: Iterable[VenueFill] = (),
    *,
    skip: Iterable[str] = (),
    title: str = "the venue",
) -> list[PositionMismatch]:
    """Symbols whose summed local position differs from the venue's signed size.

    ``unclaimed``: executions no bot has booked yet (taken off the snapshot if it holds them);
    ``booked``: executions booked locally while the snapshot was being taken and compared
    (taken back out of the local books unless the snapshot holds them); ``skip``: symbols
    with requests in flight (outcome not known). Symbols of executions the snapshot may or
    may not hold are skipped too (``PositionSnapshot.undecided``)."""
    waiting, in_books = list(unclaimed), list(booked)
    expected = snapshot.sizes
    for fill in waiting:
        if snapshot.holds(fill):
            expected[fill.symbol] = expected.get(fill.symbol, ZERO) - fill.signed_qty
    after = [(f.symbol, f.signed_qty) for f in in_books if snapshot.holds(f) is False]
    unsure = snapshot.undecided([*waiting, *in_books])
    return [
        PositionMismatch(symbol, mine, theirs, title)
        for symbol, mine, theirs in position_differences(
            local, expected, after, skip={*skip, *unsure}
        )
    ]


@dataclass(frozen=True, slots=True)
class OrderAlignment:
    """Open orders at the venue split by whether a bot owns them, and local open orders the
    venue no longer lists (to be looked up one by one)."""

    owned: list[VenueOrder]
    foreign: list[VenueOrder]
    missing: list[str]  # client ids (link ids)


def align_orders(
    venue_orders: Iterable[VenueOrder], local_link_ids: Collection[str]
) -> OrderAlignment:
    owned: list[VenueOrder] = []
    foreign: list[VenueOrder] = []
    listed: set[str] = set()
    for order in venue_orders:
        if order.link_id and order.link_id in local_link_ids:
            owned.append(order)
            listed.add(order.link_id)
        else:
            foreign.append(order)
    return OrderAlignment(owned, foreign, [i for i in local_link_ids if i not in listed])

"""Reconciliation: what local state and the venue disagree about (pure functions, no I/O).

The account fetches the venue's side (positions, open orders, executions since the last one
seen), routes the missed executions to their bots first, then asks these functions what still
disagrees. Positions are compared as of the venue snapshot's time: executions newer than it
are already in the local books but not in the snapshot, so they are taken back out first.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from algotrade.core.money import decimal_text
from algotrade.venues.ccxt.model import VenueFill, VenueOrder
from algotrade.venues.live.positions import position_differences

__all__ = ["OrderAlignment", "PositionMismatch", "align_orders", "compare_positions"]


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
    venue: Mapping[str, Decimal],
    fills_after_snapshot: Iterable[VenueFill] = (),
    *,
    skip: Iterable[str] = (),
    title: str = "the venue",
) -> list[PositionMismatch]:
    """Symbols whose summed local position differs from the venue's signed size.

    ``fills_after_snapshot``: executions newer than the venue snapshot that local state
    already includes; ``skip``: symbols with requests in flight (outcome not known yet)."""
    after = ((fill.symbol, fill.signed_qty) for fill in fills_after_snapshot)
    return [
        PositionMismatch(symbol, mine, theirs, title)
        for symbol, mine, theirs in position_differences(local, venue, after, skip=skip)
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

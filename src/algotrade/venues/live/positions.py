"""Comparing the bots' summed positions with the venue's (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from algotrade.core.money import ZERO

__all__ = ["position_differences"]


def position_differences(
    local: Mapping[str, Decimal],
    venue: Mapping[str, Decimal],
    booked_after_snapshot: Iterable[tuple[str, Decimal]] = (),
    *,
    skip: Iterable[str] = (),
) -> list[tuple[str, Decimal, Decimal]]:
    """``(key, local, venue)`` for every key (sorted) whose local position, less the signed
    quantities booked after the venue's snapshot (already local, not yet in the snapshot),
    differs from the venue's. ``skip``: keys with requests in flight (outcome not known)."""
    adjusted = dict(local)
    for key, signed_qty in booked_after_snapshot:
        adjusted[key] = adjusted.get(key, ZERO) - signed_qty
    skipped = set(skip)
    out = []
    for key in sorted(set(adjusted) | set(venue)):
        if key in skipped:
            continue
        theirs = venue.get(key, ZERO)
        if adjusted.get(key, ZERO) != theirs:
            out.append((key, local.get(key, ZERO), theirs))
    return out

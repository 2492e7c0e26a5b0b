"""What one reconciliation run of a live venue account found, and the fills it holds back."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from algotrade.core.timeutil import ns_to_iso

__all__ = ["RESUME_WINDOW_MS", "PendingFill", "ReconcileReport", "past_grace"]

#: A restarted account is told the trade ids of the fills booked within this window before the
#: newest one (``VenueOwner.latest_fills``). A fill made just before a crash but never recorded
#: can be older than fills booked after it (by other bots, in the next run), by any amount: an
#: older fill of one of our orders is booked or not as the store says (``live.resume``).
RESUME_WINDOW_MS = 60_000

F = TypeVar("F")
K = TypeVar("K", bound=Hashable)


@dataclass(slots=True)
class PendingFill(Generic[F]):
    """A fill no bot has claimed yet, and when it was first seen (``time.monotonic``)."""

    fill: F
    seen_at: float


@dataclass(slots=True)
class ReconcileReport:
    reason: str
    at_ns: int
    fills_routed: int = 0
    orders_adopted: int = 0
    foreign_orders: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as the account snapshot shows it (``last_reconcile``)."""
        return {
            "reason": self.reason,
            "at": ns_to_iso(self.at_ns),
            "fills_routed": self.fills_routed,
            "orders_adopted": self.orders_adopted,
            "foreign_orders": self.foreign_orders,
            "mismatches": self.mismatches,
        }


def past_grace(first_seen: dict[K, float], listed: Iterable[K], grace: float, now: float) -> set[K]:
    """The ``listed`` keys first seen (``first_seen``, updated) ``grace`` seconds or more
    before ``now``; keys no longer listed are forgotten."""
    keys = list(listed)
    current = set(keys)
    for key in list(first_seen):
        if key not in current:
            del first_seen[key]
    return {key for key in keys if now - first_seen.setdefault(key, now) >= grace}

"""What is cached over every bot's status: the ``GET /api/bots`` body and the counts by state.

A listing is read far more often than a bot changes while it is idle, and rebuilding it for a
thousand bots costs a millisecond. Every change of any bot's status (state, market data,
committed activity, config, a bot added or removed) bumps one counter; a cached listing is
served while the counter still has the value it was built at, and rebuilt on the first read
after a change (each bot's own serialised status is cached too, so only changed bots are
serialised again).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from algotrade.daemon.bot_handle import HostedBot


class StatusChanges:
    """A counter of status changes shared by all actors of one service.

    A plain attribute (``count += 1``), not a method: it is bumped on every bar of every
    running bot, where a call would cost more than the increment."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


class StatusBoard:
    """Listings over ``actors`` cached until ``changes`` moves."""

    __slots__ = ("_actors", "_by_state", "_listing", "changes")

    def __init__(self, actors: Mapping[str, HostedBot], changes: StatusChanges) -> None:
        self._actors = actors
        self.changes = changes
        self._listing: tuple[int, bytes] | None = None
        self._by_state: tuple[int, dict[str, int]] | None = None

    def changed(self) -> None:
        """A bot was added or removed (an actor's own changes bump the counter itself)."""
        self.changes.count += 1

    def listing_json(self) -> bytes:
        """Every bot's status as one JSON array, in registry order."""
        count = self.changes.count
        cached = self._listing
        if cached is None or cached[0] != count:
            body = b"[" + b",".join(actor.status_json() for actor in self._actors.values()) + b"]"
            cached = self._listing = (count, body)
        return cached[1]

    def by_state(self) -> dict[str, int]:
        """Number of bots in each state (states without bots are left out)."""
        count = self.changes.count
        cached = self._by_state
        if cached is None or cached[0] != count:
            states = Counter(actor.state for actor in self._actors.values())
            cached = self._by_state = (count, {state.value: n for state, n in states.items()})
        return dict(cached[1])

"""The daemon's store as a restarted live venue account asks it (``registry.VenueOwner``):
the newest booked fill with the trade ids booked within a minute of it (``latest``), the
orders it holds open (``stored``) and every trade id it booked (``booked``); the trade ids an
account asked about are kept in ``asked``. The test owners of each venue mix it in."""

from __future__ import annotations

from collections.abc import Sequence

from algotrade.venues.live.resume import StoredOrder


class StoreAnswers:
    def __init__(
        self,
        latest: tuple[int, list[str]] = (0, []),
        stored: Sequence[StoredOrder] = (),
        booked: Sequence[str] = (),
    ) -> None:
        self.latest = latest
        self.stored = list(stored)
        self.booked = {*latest[1], *booked}
        self.asked: list[str] = []

    async def latest_fills(self) -> tuple[int, list[str]]:
        return self.latest

    async def stored_open_orders(self) -> list[StoredOrder]:
        return list(self.stored)

    async def booked_trade_ids(self, trade_ids: Sequence[str]) -> set[str]:
        self.asked.extend(trade_ids)
        return self.booked & set(trade_ids)

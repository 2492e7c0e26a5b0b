"""Historical candles for ``algotrade fetch-data --venue <ccxt venue>`` (closed ones only)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from algotrade.venues.ccxt.model import Candle
from algotrade.venues.ccxt.session import ExchangeRest

__all__ = ["CandleHistory", "open_history"]

PAGE = 1000


class CandleHistory:
    def __init__(
        self, rest: ExchangeRest, names: Mapping[str, str], lengths: Mapping[str, int]
    ) -> None:
        self._rest = rest
        self._names = names  # fetch-data interval → venue interval
        self._lengths = lengths  # fetch-data interval → ms

    async def symbols(self) -> list[str]:
        return sorted(i.symbol for i in await self._rest.instruments())

    async def candles(
        self, symbol: str, interval: str, start_ms: int, end_ms: int
    ) -> AsyncIterator[Sequence[Candle]]:
        """Pages of closed candles opening in ``[start_ms, end_ms)``, oldest first: one
        request per ``PAGE`` intervals, walking forward."""
        venue_interval = self._names[interval]
        length = self._lengths[interval]
        cursor = start_ms
        while cursor < end_ms:
            upper = min(cursor + PAGE * length - 1, end_ms - 1)
            page = await self._rest.candles(symbol, venue_interval, cursor, upper, PAGE)
            now_ms = time.time_ns() // 1_000_000
            closed = [
                c for c in page if cursor <= c.open_ms < end_ms and c.open_ms + length <= now_ms
            ]
            if closed:
                yield closed
            if upper >= now_ms:
                return  # nothing closed beyond now
            cursor = upper + 1


@asynccontextmanager
async def open_history(driver: Any, config: Any, spec: Any) -> AsyncIterator[CandleHistory]:
    session = await driver.open_session(config, None)
    try:
        yield CandleHistory(session.rest, spec.extra["history_names"], spec.history_intervals)
    finally:
        await session.rest.close()

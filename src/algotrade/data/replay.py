"""``ReplayFeed``: replays stored bars as a live, asynchronous feed.

``speed`` is how many times faster than real time the bars arrive (bar spacing / speed);
``speed=0`` replays as fast as possible, yielding to the event loop every ``yield_every`` bars
so other bots and the API stay responsive.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from algotrade.core.events import MarketEvent
from algotrade.core.timeutil import NS_PER_SECOND
from algotrade.data.bars import BarData


class ReplayFeed:
    def __init__(self, data: BarData, *, speed: float = 0.0, yield_every: int = 1024) -> None:
        if speed < 0:
            raise ValueError(f"replay speed must be >= 0, got {speed}")
        self.data = data
        self.speed = speed
        self.yield_every = max(1, yield_every)

    async def stream(self) -> AsyncIterator[MarketEvent]:
        previous_ts: int | None = None
        sent = 0
        for chunk in self.data.iter_chunks(4096):
            for bar in chunk:
                if self.speed > 0 and previous_ts is not None and bar.ts > previous_ts:
                    await asyncio.sleep((bar.ts - previous_ts) / NS_PER_SECOND / self.speed)
                elif sent % self.yield_every == 0:
                    await asyncio.sleep(0)
                previous_ts = bar.ts
                sent += 1
                yield bar

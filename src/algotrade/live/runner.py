"""``LiveRunner``: an async feed drives the same ``Engine`` a backtest uses.

The engine is synchronous; this runner owns the only ``await`` in the path (waiting for the
next market event), so strategy and risk code run identically in a backtest loop and here.
"""

from __future__ import annotations

import asyncio
import logging

from algotrade.core.engine import Engine
from algotrade.core.events import Bar
from algotrade.core.ports import LiveFeed

_log = logging.getLogger("algotrade.live")


class LiveRunner:
    def __init__(self, engine: Engine, feed: LiveFeed) -> None:
        self.engine = engine
        self.feed = feed
        self.events_seen = 0
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Consume the feed until it ends or ``stop()`` is called."""
        engine = self.engine
        engine.start()
        try:
            async for event in self.feed.stream():
                if self._stopping.is_set():
                    break
                if type(event) is Bar:
                    engine.on_bar(event)
                else:
                    engine.on_market(event)
                self.events_seen += 1
        finally:
            engine.stop()

    def stop(self) -> None:
        self._stopping.set()

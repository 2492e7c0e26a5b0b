"""Watched symbols: series recorded with no bot (``[recording] watch``).

Each watched (venue, symbol, interval) is subscribed through the venue's shared connection,
like a bot's feed, and its closed bars go only to the recorder. A venue that cannot be
reached yet is retried with a growing delay; a symbol the venue does not list is reported
(logged, and in the recorder's status) and not retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from algotrade.core.events import Bar
from algotrade.daemon.supervisor import Backoff, Spawn
from algotrade.venues.registry import look_up_symbol

if TYPE_CHECKING:
    from algotrade.daemon.recorder import BarRecorder
    from algotrade.daemon.recorder_settings import WatchSpec
    from algotrade.daemon.venues import VenueHub
    from algotrade.venues.registry import BotFeedHandle

__all__ = ["WatchFeeds"]

_log = logging.getLogger("algotrade.daemon.recorder")


def _ignore(_bar: Bar) -> None:
    """A watched series has no bot: the recorder's tap is its only listener."""


class WatchFeeds:
    def __init__(
        self,
        specs: Sequence[WatchSpec],
        venues: VenueHub,
        recorder: BarRecorder,
        spawn: Spawn,
        *,
        retry: tuple[float, float] = (1.0, 60.0),
    ) -> None:
        self._specs = list(specs)
        self._venues = venues
        self._recorder = recorder
        self._spawn = spawn
        self._retry = retry
        self._tasks: list[asyncio.Task[None]] = []
        self._feeds: list[BotFeedHandle] = []

    def start(self) -> None:
        """Subscribe every watched series (in the background: start-up does not wait)."""
        for spec in self._specs:
            self._recorder.watching[_label(spec)] = "starting"
            self._tasks.append(self._spawn(self._watch(spec), name=f"watch:{_label(spec)}"))

    async def _watch(self, spec: WatchSpec) -> None:
        label = _label(spec)
        backoff = Backoff(*self._retry)
        while True:
            try:
                connection = await self._venues.connection(spec.feed)
                await look_up_symbol(connection, spec.symbol)
                connection.instruments(spec.symbol)  # ValueError("symbol: …") when not listed
                handler = self._recorder.tap(spec.feed, spec.symbol, spec.interval, _ignore)
                feed = connection.bot_feed(spec, handler)
                await feed.start(0)
            except ValueError as exc:
                reason = " ".join(str(exc).split())
                self._recorder.watching[label] = f"not recorded: {reason}"
                _log.error("recording.watch %s: not recorded: %s", label, reason)
                return
            except Exception as exc:
                delay = backoff.failed()
                self._recorder.watching[label] = f"retrying: {type(exc).__name__}: {exc}"
                _log.warning(
                    "recording.watch %s: cannot subscribe (%s: %s); retrying in %.0f s",
                    label,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            self._feeds.append(feed)
            self._recorder.watching[label] = "recording"
            _log.info("recording.watch %s: subscribed", label)
            return

    def stop(self) -> None:
        """Stop subscribing and unsubscribe every watched series (before the venues stop)."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        for feed in self._feeds:
            feed.stop()
        self._feeds.clear()


def _label(spec: WatchSpec) -> str:
    return f"{spec.feed}:{spec.symbol}:{spec.interval}"

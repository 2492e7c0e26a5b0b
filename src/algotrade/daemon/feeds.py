"""Market data for one bot: the shared sim stream, a replay of a file, or a live venue's feed."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import Field, StrictBool, field_validator

from algotrade.core.events import Bar
from algotrade.daemon.bot_config import BotConfig, FeedKind
from algotrade.daemon.feed_options import FeedOptions
from algotrade.daemon.sim_feed import Pace, SimFeedHub, SimOptions, no_pace
from algotrade.daemon.supervisor import TaskSupervisor
from algotrade.venues.registry import get_venue

if TYPE_CHECKING:
    from algotrade.daemon.recorder import BarRecorder
    from algotrade.daemon.venues import VenueHub
    from algotrade.data.bars import BarData

_log = logging.getLogger("algotrade.daemon.feeds")
BarHandler = Callable[[Bar], None]
FeedErrorHandler = Callable[[str, BaseException], None]  # bot id, what ended its feed
FeedFinishedHandler = Callable[[str, str], None]  # bot id, what the feed delivered


class BotFeed(Protocol):
    async def start(self, warmup: int) -> list[Bar]:
        """Begin delivering bars; returns up to ``warmup`` earlier bars for indicators."""

    def stop(self) -> None: ...


def validate_feed_options(config: BotConfig) -> None:
    """Raise ``ValueError`` naming the option when a bot's feed options are unusable."""
    if config.feed is FeedKind.SIM:
        SimOptions.parse(config.feed_options)
    elif config.feed is FeedKind.REPLAY:
        ReplayOptions.parse(config.feed_options)
    else:
        get_venue(config.feed).validate_feed(config)


class SimBotFeed:
    def __init__(self, hub: SimFeedHub, config: BotConfig, handler: BarHandler) -> None:
        self._hub = hub
        self._config = config
        self._handler = handler

    async def start(self, warmup: int) -> list[Bar]:
        options = SimOptions.parse(self._config.feed_options)
        return self._hub.subscribe(
            self._config.bot_id, self._config.symbol, options, self._handler, warmup
        )

    def stop(self) -> None:
        self._hub.unsubscribe(self._config.bot_id)


class ReplayOptions(FeedOptions):
    """``feed_options`` of a replay bot."""

    path: Path = Field(description="the data file (CSV or Parquet)")
    speed: float = Field(default=1.0, ge=0, description="× real time; 0 = as fast as possible")
    loop: StrictBool = False

    @field_validator("path", "speed", mode="before")
    @classmethod
    def _no_bools_or_empty(cls, value: Any) -> Any:
        if isinstance(value, bool) or value == "":
            raise ValueError("expected a value")
        return value


class ReplayBotFeed:
    """Replays a CSV/Parquet file's bars for ``config.symbol`` at ``speed``.

    The replay runs as a supervised task: if it fails (the file changed under it, a bad
    row), the failure is logged with the bot's id, kept in ``error``, and passed to
    ``on_error`` — the bot would otherwise wait for bars that never come."""

    def __init__(
        self,
        config: BotConfig,
        handler: BarHandler,
        supervisor: TaskSupervisor | None = None,
        on_error: FeedErrorHandler | None = None,
        pace: Pace = no_pace,
        on_finished: FeedFinishedHandler | None = None,
    ) -> None:
        self._config = config
        self._handler = handler
        self._pace = pace  # awaited before each bar: the replay never outruns the store
        self._supervisor = supervisor or TaskSupervisor()
        self._on_error = on_error
        self._on_finished = on_finished
        self._task: asyncio.Task[None] | None = None
        self.finished = False
        self.error: str | None = None

    async def start(self, warmup: int) -> list[Bar]:
        # Imported here: polars is only needed by replay bots, and the daemon starts faster.
        from algotrade.data.bars import BarData  # noqa: PLC0415
        from algotrade.data.loader import load_bars  # noqa: PLC0415

        options = ReplayOptions.parse(self._config.feed_options)
        source = f"{self._config.symbol}={options.path}"
        data = await asyncio.to_thread(load_bars, [source])  # file I/O off the event loop
        history = list(itertools.islice(iter(data), warmup))
        live = BarData.from_validated(data.frame.slice(len(history)))
        self.error = None
        self._task = self._supervisor.spawn(
            self._replay(live, options),
            name=f"replay:{self._config.bot_id}",
            on_failure=self._failed,
            bot_id=self._config.bot_id,
        )
        return history

    def _failed(self, _task: asyncio.Task[None], error: BaseException) -> None:
        self.error = f"replay feed failed: {type(error).__name__}: {error}"
        if self._on_error is not None:
            self._on_error(self._config.bot_id, error)

    async def _replay(self, data: BarData, options: ReplayOptions) -> None:
        from algotrade.data.replay import ReplayFeed  # noqa: PLC0415

        while True:
            async for event in ReplayFeed(data, speed=options.speed).stream():
                assert isinstance(event, Bar)
                await self._pace()
                self._handler(event)
            if not options.loop:
                break
        self.finished = True
        bot_id = self._config.bot_id
        message = f"replay of {options.path} finished: all {len(data):,} bars delivered"
        _log.info("%s for bot %s", message, bot_id, extra={"bot_id": bot_id})
        if self._on_finished is not None:
            self._on_finished(bot_id, f"{message}; no more bars will come (stop the bot)")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None


class VenueBotFeed:
    """Closed bars from a live venue's feed, through the venue's shared connection (started
    when the first bot on it starts). With a ``recorder``, every bar it delivers — and the
    warm-up bars it fetched — is also recorded into the catalog."""

    def __init__(
        self,
        venues: VenueHub,
        config: BotConfig,
        handler: BarHandler,
        recorder: BarRecorder | None = None,
    ) -> None:
        self._venues = venues
        self._config = config
        self._handler = handler
        self._recorder = recorder
        self._stop: Callable[[], None] | None = None

    async def start(self, warmup: int) -> list[Bar]:
        config = self._config
        connection = await self._venues.connection(config.feed)
        handler = self._handler
        if self._recorder is not None:
            handler = self._recorder.tap(config.feed, config.symbol, config.interval, handler)
        feed = connection.bot_feed(config, handler)
        history = await feed.start(warmup)
        self._stop = feed.stop
        if self._recorder is not None:
            self._recorder.record(config.feed, config.symbol, config.interval, history)
        return history

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None


def feed_factory(
    hub: SimFeedHub,
    venues: VenueHub | None = None,
    *,
    supervisor: TaskSupervisor | None = None,
    on_feed_error: FeedErrorHandler | None = None,
    recorder: BarRecorder | None = None,
    on_feed_finished: FeedFinishedHandler | None = None,
) -> Callable[[BotConfig, BarHandler], BotFeed]:
    """Makes each bot's feed. Replay tasks run under ``supervisor`` (default: the sim hub's,
    so one supervisor given to the hub covers both); ``on_feed_error(bot_id, error)`` hears
    of a replay that failed (default: the failure is only logged), ``on_feed_finished(bot_id,
    message)`` of one that delivered its whole file. Live venue feeds record
    their bars with ``recorder`` (sim and replay bars are not market history)."""
    tasks = supervisor or hub.supervisor

    def make(config: BotConfig, handler: BarHandler) -> BotFeed:
        if config.feed is FeedKind.SIM:
            return SimBotFeed(hub, config, handler)
        if config.feed is FeedKind.REPLAY:
            return ReplayBotFeed(
                config, handler, tasks, on_feed_error, hub.pace, on_finished=on_feed_finished
            )
        if venues is None:
            raise RuntimeError("this daemon has no live venue connections")
        return VenueBotFeed(venues, config, handler, recorder)

    return make

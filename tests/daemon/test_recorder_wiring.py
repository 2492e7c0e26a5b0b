"""Where recorded bars come from: live venue feeds of bots and watched symbols (fakes of the
venue connection), and the ``[recording]`` settings section."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import pytest

from algotrade.core.errors import ConfigError
from algotrade.core.events import Bar
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.feeds import SimBotFeed, VenueBotFeed, feed_factory
from algotrade.daemon.recorder import BarRecorder
from algotrade.daemon.recorder_settings import WatchSpec
from algotrade.daemon.recorder_watch import WatchFeeds
from algotrade.daemon.settings import load_settings
from algotrade.daemon.sim_feed import SimFeedHub
from algotrade.daemon.supervisor import TaskSupervisor
from algotrade.data.catalog import Catalog

MINUTE = 60_000_000_000
T0 = 1_717_200_000 * 1_000_000_000


def bar(i: int, symbol: str = "BTC") -> Bar:
    return Bar(symbol, T0 + i * MINUTE, 100.0, 101.0, 99.0, 100.5, 1.0)


class FakeFeed:
    def __init__(self, spec: Any, handler: Any, history: list[Bar]) -> None:
        self.spec = spec
        self.handler = handler
        self.history = history
        self.started = self.stopped = False

    async def start(self, warmup: int) -> list[Bar]:
        self.started = True
        return self.history[-warmup:] if warmup else []

    def stop(self) -> None:
        self.stopped = True


class FakeConnection:
    def __init__(self, history: list[Bar], symbols: set[str]) -> None:
        self.history = history
        self.symbols = symbols
        self.feeds: list[FakeFeed] = []

    def instruments(self, symbol: str) -> list[Any]:
        if symbol not in self.symbols:
            raise ValueError(f"symbol: the venue has no '{symbol}'")
        return []

    def bot_feed(self, spec: Any, handler: Any) -> FakeFeed:
        feed = FakeFeed(spec, handler, self.history)
        self.feeds.append(feed)
        return feed


class FakeHub:
    """``VenueHub.connection``: fails ``failures`` times first (a venue not reachable yet)."""

    def __init__(self, connection: FakeConnection, failures: int = 0) -> None:
        self._connection = connection
        self.failures = failures
        self.calls = 0

    async def connection(self, name: str) -> FakeConnection:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise ConnectionError(f"{name} unreachable")
        return self._connection


def live_config(**changes: Any) -> BotConfig:
    return BotConfig.model_validate(
        {
            "bot_id": "b1",
            "symbol": "BTC",
            "strategy": "ma_crossover",
            "feed": "hyperliquid",
            "interval": "1m",
            **changes,
        }
    )


async def test_a_live_bot_feed_records_its_warm_up_and_every_bar(tmp_path: Path) -> None:
    recorder = BarRecorder(lambda: Catalog(tmp_path))
    connection = FakeConnection([bar(i) for i in range(5)], {"BTC"})
    seen: list[Bar] = []
    feed = VenueBotFeed(cast(Any, FakeHub(connection)), live_config(), seen.append, recorder)
    history = await feed.start(warmup=3)
    assert history == [bar(2), bar(3), bar(4)]
    connection.feeds[0].handler(bar(5))
    assert seen == [bar(5)]
    assert recorder.flush() == 4
    frame = Catalog(tmp_path).scan("hyperliquid", ["BTC"], "1m").collect()
    assert frame["ts"].to_list() == [bar(i).ts for i in range(2, 6)]


async def test_sim_bars_are_not_market_history(tmp_path: Path) -> None:
    recorder = BarRecorder(lambda: Catalog(tmp_path))
    supervisor = TaskSupervisor()
    make = feed_factory(SimFeedHub(supervisor), None, recorder=recorder)
    sim = BotConfig.model_validate(
        {
            "bot_id": "s",
            "symbol": "SIM-BTC",
            "strategy": "ma_crossover",
            "feed_options": {"tick_seconds": 0.001},
        }
    )
    seen: list[Bar] = []
    feed = make(sim, seen.append)
    assert isinstance(feed, SimBotFeed)
    await feed.start(warmup=5)

    async def three_bars() -> None:
        while len(seen) < 3:
            await asyncio.sleep(0.001)

    await asyncio.wait_for(three_bars(), timeout=10)
    feed.stop()
    await supervisor.shutdown(timeout=5)
    assert recorder.status()["buffered_rows"] == 0
    assert recorder.flush() == 0
    assert list(tmp_path.iterdir()) == []  # nothing written to the catalog


async def test_watched_symbols_are_subscribed_without_a_bot_and_retried(tmp_path: Path) -> None:
    recorder = BarRecorder(lambda: Catalog(tmp_path))
    connection = FakeConnection([bar(0)], {"BTC", "ETH"})
    hub = FakeHub(connection, failures=2)
    supervisor = TaskSupervisor()
    specs = [WatchSpec("hyperliquid", s, "1m") for s in ("BTC", "ETH", "NOPE")]
    watch = WatchFeeds(specs, cast(Any, hub), recorder, supervisor.spawn, retry=(0.0, 0.0))
    watch.start()
    for _ in range(100):
        if not supervisor.running:
            break
        await asyncio.sleep(0)
    assert supervisor.running == []
    watching = recorder.status()["watching"]
    assert watching["hyperliquid:BTC:1m"] == "recording"
    assert watching["hyperliquid:ETH:1m"] == "recording"
    assert watching["hyperliquid:NOPE:1m"].startswith("not recorded: symbol:")
    assert hub.calls == 3 + 2  # two failed connects were retried
    assert [f.spec.bot_id for f in connection.feeds] == [
        "recording:hyperliquid:BTC:1m",
        "recording:hyperliquid:ETH:1m",
    ]
    for feed in connection.feeds:
        feed.handler(bar(1, feed.spec.symbol))
    assert recorder.flush() == 2
    watch.stop()
    assert all(f.stopped for f in connection.feeds)


# ---------------------------------------------------------------------------- settings
def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "daemon.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_recording_defaults() -> None:
    recording = load_settings(None, {}, {}).recording
    assert recording.enabled is True
    assert recording.flush_seconds == 2.0
    assert recording.intervals == ["1m"]
    assert recording.watch == {}


def test_watch_lists_series_to_record(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        '[recording]\nflush_seconds = 0.5\nintervals = ["1m", "1h"]\n'
        'watch = { hyperliquid = ["BTC", "ETH"] }\n',
    )
    recording = load_settings(config, {}, {}).recording
    assert [repr(s) for s in recording.watch_specs()] == [
        "WatchSpec(hyperliquid:BTC:1m)",
        "WatchSpec(hyperliquid:BTC:1h)",
        "WatchSpec(hyperliquid:ETH:1m)",
        "WatchSpec(hyperliquid:ETH:1h)",
    ]
    env = {"ALGOTRADE__RECORDING__ENABLED": "false"}
    assert load_settings(config, env, {}).recording.enabled is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("flush_seconds = 0", "recording.flush_seconds: Input should be greater than or equal"),
        ("flush_seconds = 600", "recording.flush_seconds: Input should be less than or equal"),
        ("flushseconds = 2", "unknown setting 'recording.flushseconds'"),
        ('intervals = ["1x"]', "interval '1x': expected a number and s, m, h or d"),
        ("intervals = []", "expected at least one interval"),
        ('watch = { nope = ["BTC"] }', "recording.watch.nope: unknown venue (known:"),
        ('watch = { hyperliquid = [" BTC"] }', "symbol ' BTC': expected a printable name"),
    ],
)
def test_bad_recording_settings_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    config = write(tmp_path, f"[recording]\n{text}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config, {}, {})
    assert expected in str(info.value)
    assert str(info.value).startswith(str(config))


def test_a_watched_interval_the_venue_does_not_serve_is_refused(tmp_path: Path) -> None:
    config = write(tmp_path, '[recording]\nintervals = ["7m"]\nwatch = { hyperliquid = ["BTC"] }\n')
    with pytest.raises(ConfigError, match=r"recording\.watch\.hyperliquid: interval: .*'7m'"):
        load_settings(config, {}, {})

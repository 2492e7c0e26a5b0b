"""Acceptance, end to end: a real daemon process records the closed bars of a fake live venue
(the fake Hyperliquid server) into the catalog, survives ``kill -9`` with only unflushed bars
missing, and keeps recording after a restart without storing a bar twice. Watched symbols
are recorded with no bot at all.

The test reads the catalog from its own process while the daemon writes it: appends are
atomic renames, and compaction (which removes files) only runs at shutdown here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from algotrade.data.catalog import Catalog, SeriesKey
from algotrade.data.catalog.layout import partition_files, period_dirs, series_dir
from testkit.daemon_process import DaemonProcess, wait_until
from testkit.fake_hyperliquid import FakeHyperliquid
from testkit.live_daemon_session import MINUTE_MS, LiveDaemonSession

pytestmark = pytest.mark.slow

SCRIPTED = Path(__file__).parents[1] / "testkit" / "strategies" / "scripted.py"
MS = 1_000_000


@pytest.fixture
def venue() -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid() as fake:
        yield fake


def session(venue: FakeHyperliquid, tmp_path: Path, recording: str) -> LiveDaemonSession:
    """A daemon on the fake venue with market data only (no credentials) and ``recording``."""
    urls = f'api_url = "{venue.base_url}"\nws_url = "{venue.ws_url}"\nping_interval_s = 5\n'
    live = LiveDaemonSession(tmp_path, "venues.hyperliquid", urls, {})
    live.config.write_text(live.config.read_text() + f"\n[recording]\n{recording}")
    return live


def recording_bot(bot_id: str) -> dict[str, Any]:
    """A paper bot on the venue's live bars that warms up on the last 200 of them."""
    return {
        "bot_id": bot_id,
        "symbol": "BTC",
        "strategy": str(SCRIPTED),
        "params": {"steps": []},
        "interval": "1m",
        "feed": "hyperliquid",
        "venue": "paper",
        "warmup_periods": 200,
        "auto_resume": True,
    }


class Candles:
    """Candles of one coin on the fake venue, one minute apart, each closed by the next."""

    def __init__(self, venue: FakeHyperliquid, coin: str, start_ms: int) -> None:
        self.venue = venue
        self.coin = coin
        self.next_ms = start_ms

    def publish(self, count: int) -> None:
        for _ in range(count):
            px = 60_000 + (self.next_ms // MINUTE_MS) % 1000
            self.venue.publish_candle(self.coin, "1m", self.next_ms, px, px + 5, px - 5, px + 1, 2)
            self.next_ms += MINUTE_MS

    def expected(self) -> pl.DataFrame:
        """Every candle the venue holds, as the catalog stores bars."""
        with self.venue.state.lock:
            stored = dict(self.venue.state.candles.get((self.coin, "1m"), {}))
        rows = [
            (t * MS, *(float(c[k]) for k in ("o", "h", "l", "c", "v")))
            for t, c in sorted(stored.items())
        ]
        return pl.DataFrame(
            rows, schema=["ts", "open", "high", "low", "close", "volume"], orient="row"
        )


def stored(data_dir: Path, coin: str) -> pl.DataFrame:
    scan = Catalog.for_data_dir(data_dir).scan("hyperliquid", [coin], "1m")
    return scan.collect().drop("symbol")


def has_bars(data_dir: Path, coin: str, ts_ns: set[int]) -> bool:
    return ts_ns <= set(stored(data_dir, coin)["ts"].to_list())


def recording(d: DaemonProcess) -> dict[str, Any]:
    status: dict[str, Any] = d.ok("GET", "/api/health")["recording"]
    return status


def check_intact(data_dir: Path, coin: str, expected: pl.DataFrame) -> pl.DataFrame:
    """Every file readable, no bar twice, every bar the venue's, the manifest agreeing."""
    catalog = Catalog.for_data_dir(data_dir)
    key = SeriesKey("hyperliquid", coin, "1m")
    for folder in period_dirs(series_dir(catalog.root, key)):
        for path in partition_files(folder):
            pl.read_parquet(path)
    frame = stored(data_dir, coin)
    assert frame["ts"].is_unique().all()
    assert frame.join(expected, on="ts", how="anti").height == 0  # nothing invented
    assert frame.equals(expected.join(frame.select("ts"), on="ts", how="semi"))  # exact values
    coverage = catalog.coverage(key)
    assert coverage is not None
    assert (coverage.rows, coverage.first_ns, coverage.last_ns) == (
        frame.height,
        frame["ts"][0],
        frame["ts"][-1],
    )
    return frame


def test_recording_survives_kill_9_and_continues_without_duplicates(
    venue: FakeHyperliquid, tmp_path: Path
) -> None:
    now_min = int(time.time() * 1000) // MINUTE_MS * MINUTE_MS
    # 50 candles of history (the bots' warm-up), then live ones: all inside the warm-up window.
    venue.generate_candles("BTC", "1m", now_min - 150 * MINUTE_MS, 50, start_price=60_000)
    candles = Candles(venue, "BTC", now_min - 100 * MINUTE_MS)
    live = session(venue, tmp_path, "flush_seconds = 0.2\n")
    data_dir = tmp_path / "data"

    d = live.daemon().start()
    try:
        for bot_id in ("rec-a", "rec-b"):  # two bots on one series: each bar stored once
            d.ok("POST", "/api/bots", json=recording_bot(bot_id))
            d.ok("PUT", f"/api/bots/{bot_id}/start")
        history = set(candles.expected()["ts"].to_list())
        wait_until(lambda: has_bars(data_dir, "BTC", history), 20, "the warm-up bars recorded")
        candles.publish(11)  # closes 10 of them
        closed = set(candles.expected()["ts"].to_list()[:-1])
        wait_until(lambda: has_bars(data_dir, "BTC", closed), 20, "the first live bars recorded")
        status = recording(d)
        assert status["duplicate_deliveries"] > 0
        assert status["last_error"] is None
        candles.publish(5)  # received within the last flush interval, maybe not flushed
        flushed = recording(d)["rows_recorded"]
    finally:
        d.kill()  # kill -9: no chance to flush

    after_kill = check_intact(data_dir, "BTC", candles.expected())
    assert after_kill.height >= flushed >= len(closed)
    assert closed <= set(after_kill["ts"].to_list())

    d = live.daemon().start()  # the bots resume; their warm-up re-delivers what the kill lost
    try:
        candles.publish(10)
        expected = candles.expected()
        # The newest candle is closed by the venue's quiet-candle rule (its time is past).
        wait_until(
            lambda: stored(data_dir, "BTC").height == expected.height, 30, "every bar recorded"
        )
        status = recording(d)
        assert status["last_error"] is None
        code, _, stderr = d.terminate()
        assert code == 0, stderr
    finally:
        d.kill()

    final = check_intact(data_dir, "BTC", expected)
    assert final.equals(expected)  # every bar, each once, the venue's values
    folder = period_dirs(series_dir(data_dir / "catalog", SeriesKey("hyperliquid", "BTC", "1m")))
    assert all([p.name for p in partition_files(f)] == ["data.parquet"] for f in folder)


def test_watched_symbols_are_recorded_with_no_bot_and_flushed_by_sigterm(
    venue: FakeHyperliquid, tmp_path: Path
) -> None:
    now_min = int(time.time() * 1000) // MINUTE_MS * MINUTE_MS
    candles = Candles(venue, "ETH", now_min - 30 * MINUTE_MS)
    # No flush within the test: only the shutdown writes the bars.
    live = session(venue, tmp_path, 'flush_seconds = 60\nwatch = { hyperliquid = ["ETH"] }\n')
    data_dir = tmp_path / "data"
    d = live.daemon().start()
    try:
        wait_until(
            lambda: recording(d)["watching"] == {"hyperliquid:ETH:1m": "recording"},
            20,
            "the watched series subscribed",
        )
        assert d.ok("GET", "/api/bots") == []
        candles.publish(6)
        expected = candles.expected()
        wait_until(lambda: recording(d)["buffered_rows"] == 6, 20, "the watched bars buffered")
        assert stored(data_dir, "ETH").height == 0
        code, _, stderr = d.terminate()
        assert code == 0, stderr
    finally:
        d.kill()
    assert check_intact(data_dir, "ETH", expected).equals(expected)

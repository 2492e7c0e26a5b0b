"""``data.download`` against the fake Hyperliquid: resume after an interruption equals an
uninterrupted download, reruns ask for nothing, many symbols at once within one weight
budget, never the still-open candle, errors per symbol and before any download."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from aiolimiter import AsyncLimiter
from download_harness import (
    HOUR_MS,
    MIN_MS,
    NS_PER_MS,
    Recorder,
    content,
    frames_equal,
    request,
    run,
)

from algotrade.core.errors import InputError
from algotrade.data.catalog import AppendResult, Catalog, SeriesKey
from algotrade.data.download import (
    download_to_catalog,
    fetch_symbol,
)
from algotrade.data.download_plan import SymbolPlan, merge_close, present_ranges, subtract
from testkit.fake_hyperliquid import FakeHyperliquid
from testkit.fake_hyperliquid.wire import BadRequest

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
COINS = ("BTC", "ETH", "SOL")
BARS = 12_000  # 1m bars per coin: pages of 5,000, 5,000 and 2,000
NOW = T0 + BARS * MIN_MS + 30_000  # half-way through the bar opening at T0 + BARS minutes


@dataclass
class Call:
    at: float  # time.monotonic() when the fake handled it
    coin: str
    start: int
    opens: list[int]


@dataclass
class SnapshotLog:
    """Every candleSnapshot the fake answered, and the coins or call numbers it refuses."""

    calls: list[Call] = field(default_factory=list)
    refuse_coins: set[str] = field(default_factory=set)
    refuse_after: int | None = None  # refuse every call once this many were answered

    def install(self, fake: FakeHyperliquid) -> None:
        original = fake.state.candle_snapshot

        def snapshot(coin: str, interval: str, start: int, end: int, limit: int = 5000) -> Any:
            if coin in self.refuse_coins:
                raise BadRequest(f"injected: no candles for {coin}")
            if self.refuse_after is not None and len(self.calls) >= self.refuse_after:
                raise BadRequest("injected: the venue stopped answering")
            out = original(coin, interval, start, end, limit)
            self.calls.append(Call(time.monotonic(), coin, start, [int(c["t"]) for c in out]))
            return out

        fake.state.candle_snapshot = snapshot


@pytest.fixture
def fake() -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid() as venue:
        # Pages of 5000 (more than the docs' 500 per reply): the paging arithmetic below
        # counts them; tests/venues/hyperliquid/test_hl_info.py covers the docs' cap.
        venue.set_candle_reply_cap(5000)
        yield venue


@pytest.fixture
def log(fake: FakeHyperliquid) -> SnapshotLog:
    recorded = SnapshotLog()
    recorded.install(fake)
    return recorded


@pytest.fixture
def candles(fake: FakeHyperliquid) -> dict[str, list[dict[str, Any]]]:
    """BARS closed 1m candles per coin from T0, then the open one and one not yet begun."""
    return {
        coin: fake.generate_candles(coin, "1m", T0, BARS + 2, seed=i)
        for i, coin in enumerate(COINS)
    }


def expected_frame(candles: dict[str, list[dict[str, Any]]], bars: int = BARS) -> pl.DataFrame:
    """What the catalog should hold, built from the fake's own candles."""
    rows = [
        {
            "symbol": coin,
            "ts": int(c["t"]) * NS_PER_MS,
            **{
                name: float(Decimal(c[key]))
                for name, key in (("open", "o"), ("high", "h"), ("low", "l"), ("close", "c"))
            },
            "volume": float(Decimal(c["v"])),
        }
        for coin in sorted(candles)
        for c in candles[coin][:bars]
    ]
    return pl.DataFrame(rows).sort("symbol", "ts")


def clock() -> int:
    return NOW


# ---------------------------------------------------------------------------- resume
def test_interrupted_download_resumed_equals_an_uninterrupted_one(
    fake: FakeHyperliquid,
    log: SnapshotLog,
    candles: dict[str, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    job = request("hyperliquid", COINS, "1m", T0, url=fake.base_url)
    whole = run(job, tmp_path / "whole", clock=clock)
    assert [r.error for r in whole] == [None, None, None]
    assert [r.added for r in whole] == [BARS] * 3
    assert len(log.calls) == 9  # 3 pages per coin
    frame, coverage = content(tmp_path / "whole", "hyperliquid", COINS, "1m")
    assert frames_equal(frame, expected_frame(candles))
    assert [c[1:] for c in coverage] == [
        (T0 * NS_PER_MS, (T0 + (BARS - 1) * MIN_MS) * NS_PER_MS, BARS, ())
    ] * 3

    log.calls.clear()
    log.refuse_after = 4  # the venue breaks after four pages
    broken = run(job, tmp_path / "resumed", clock=clock)
    assert all(r.error is not None for r in broken)
    assert all("injected: the venue stopped answering" in str(r.error) for r in broken)
    partial, _ = content(tmp_path / "resumed", "hyperliquid", COINS, "1m")
    assert partial.height == sum(r.added for r in broken) == 4 * 5000  # kept, page by page

    log.calls.clear()
    log.refuse_after = None
    resumed = run(job, tmp_path / "resumed", clock=clock)
    assert [r.error for r in resumed] == [None, None, None]
    assert sum(r.added for r in resumed) == 3 * BARS - 4 * 5000
    assert sum(r.skipped for r in resumed) == 0  # nothing stored was fetched again
    stored_before = dict(partial.group_by("symbol").agg(pl.col("ts").max()).iter_rows())
    for call in log.calls:  # each coin continued after its last stored bar
        last = stored_before.get(call.coin)
        assert call.start == T0 if last is None else call.start > last // NS_PER_MS
    assert content(tmp_path / "resumed", "hyperliquid", COINS, "1m")[1] == coverage
    assert frames_equal(content(tmp_path / "resumed", "hyperliquid", COINS, "1m")[0], frame)

    log.calls.clear()
    again = run(job, tmp_path / "resumed", clock=clock)
    assert [(r.added, r.span_ms) for r in again] == [(0, 0)] * 3
    assert log.calls == []  # a complete download asks the venue nothing


def test_cancelled_download_keeps_its_pages_and_resumes(
    fake: FakeHyperliquid,
    log: SnapshotLog,
    candles: dict[str, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    job = request("hyperliquid", COINS, "1m", T0, url=fake.base_url, concurrency=2)

    async def interrupted() -> None:
        task = asyncio.current_task()
        assert task is not None

        def interrupt(pages: int) -> None:
            if pages == 3:
                task.cancel()

        observer = Recorder(on_page=interrupt)
        catalog = Catalog.for_data_dir(tmp_path)
        await download_to_catalog(job, catalog, tmp_path / "downloads", observer, clock=clock)

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(interrupted())  # as Ctrl-C does
    stored, _ = content(tmp_path, "hyperliquid", COINS, "1m")
    assert 3 * 5000 <= stored.height < 3 * BARS
    run(job, tmp_path, clock=clock)
    frame, coverage = content(tmp_path, "hyperliquid", COINS, "1m")
    assert frames_equal(frame, expected_frame(candles))
    assert all(c[3:] == (BARS, ()) for c in coverage)


# ---------------------------------------------------------------------------- what is stored
def test_the_open_candle_is_never_stored(
    fake: FakeHyperliquid, log: SnapshotLog, candles: dict[str, Any], tmp_path: Path
) -> None:
    open_ms = T0 + BARS * MIN_MS  # opened 30 s before NOW
    assert candles["BTC"][BARS]["t"] == open_ms  # the venue has it
    job = request("hyperliquid", ["BTC"], "1m", T0, url=fake.base_url)
    reports = run(job, tmp_path, clock=clock)
    coverage = Catalog.for_data_dir(tmp_path).coverage(SeriesKey("hyperliquid", "BTC", "1m"))
    assert coverage is not None
    assert coverage.last_ns == (open_ms - MIN_MS) * NS_PER_MS
    assert reports[0].added == BARS

    # A minute later it has closed: the rerun stores exactly that bar.
    later = run(
        request("hyperliquid", ["BTC"], "1m", T0, url=fake.base_url),
        tmp_path,
        clock=lambda: NOW + MIN_MS,
    )
    assert later[0].added == 1
    assert Catalog.for_data_dir(tmp_path).last_ts(SeriesKey("hyperliquid", "BTC", "1m")) == (
        open_ms * NS_PER_MS
    )


def test_ranges_the_venue_has_no_bars_in_are_asked_for_once(
    fake: FakeHyperliquid, log: SnapshotLog, tmp_path: Path
) -> None:
    bars = fake.generate_candles("ETH", "1h", T0, 48)
    del bars
    with fake.state.lock:  # a day of venue downtime in the middle
        series = fake.state.candles[("ETH", "1h")]
        for hour in range(10, 20):
            del series[T0 + hour * HOUR_MS]
    now = T0 + 40 * 24 * HOUR_MS  # weeks later: every range has settled
    job = request("hyperliquid", ["ETH"], "1h", T0 - 30 * 24 * HOUR_MS, url=fake.base_url)
    first = run(job, tmp_path, clock=lambda: now)
    assert first[0].added == 38
    assert first[0].gaps_left == 10
    assert log.calls
    ledger = json.loads((tmp_path / "downloads/venue=hyperliquid/interval=1h.json").read_text())
    assert [T0 * NS_PER_MS - 30 * 24 * HOUR_MS * NS_PER_MS, T0 * NS_PER_MS] in ledger["empty_ns"][
        "ETH"
    ]

    log.calls.clear()
    second = run(job, tmp_path, clock=lambda: now)
    assert second[0].added == 0
    # Neither the month before the first bar nor the gap again; only the last day, where a
    # venue may still publish a late bar, is asked for again.
    assert [call.start for call in log.calls] == [now - 24 * HOUR_MS]
    assert second[0].gaps_left == 10


def test_a_gap_in_the_catalog_is_filled(
    fake: FakeHyperliquid, log: SnapshotLog, tmp_path: Path
) -> None:
    fake.generate_candles("SOL", "1h", T0, 100)
    now = T0 + 100 * HOUR_MS
    job = request("hyperliquid", ["SOL"], "1h", T0, url=fake.base_url)
    run(job, tmp_path, clock=lambda: now)
    whole, coverage = content(tmp_path, "hyperliquid", ["SOL"], "1h")
    # The same bars with a hole: e.g. a recorder that was down for a while.
    holed = tmp_path / "holed"
    key = SeriesKey("hyperliquid", "SOL", "1h")
    frame = whole.drop("symbol")
    Catalog.for_data_dir(holed).append(
        key, frame.filter(pl.col("ts") < (T0 + 30 * HOUR_MS) * NS_PER_MS)
    )
    Catalog.for_data_dir(holed).append(
        key, frame.filter(pl.col("ts") >= (T0 + 60 * HOUR_MS) * NS_PER_MS)
    )
    assert Catalog.for_data_dir(holed).coverage(key).gaps  # type: ignore[union-attr]
    log.calls.clear()
    filled = run(job, holed, clock=lambda: now)
    assert filled[0].added == 30
    assert filled[0].gaps_left == 0
    assert len(log.calls) == 1
    assert content(holed, "hyperliquid", ["SOL"], "1h")[1] == coverage
    assert frames_equal(content(holed, "hyperliquid", ["SOL"], "1h")[0], whole)


# ---------------------------------------------------------------------------- many at once
def test_symbols_download_concurrently_within_one_weight_budget(
    fake: FakeHyperliquid, log: SnapshotLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real budget is 1,200 weight a minute; the same limiter, scaled to 600 a second with
    # a bucket of 120, shows the same rule in a second instead of minutes.
    capacity, period = 120, 0.2
    monkeypatch.setattr(
        "algotrade.venues.hyperliquid.http.AsyncLimiter",
        lambda rate, seconds: AsyncLimiter(capacity, period),
    )
    coins = ["BTC", "ETH", "SOL"]
    for i, coin in enumerate(coins):
        fake.generate_candles(coin, "1m", T0, 6000, seed=i)  # two pages each
    now = T0 + 6000 * MIN_MS
    observer = Recorder()
    reports = run(
        request("hyperliquid", coins, "1m", T0, url=fake.base_url, concurrency=3),
        tmp_path,
        observer,
        clock=lambda: now,
    )
    assert [r.added for r in reports] == [6000] * 3
    assert observer.most_in_flight == 3
    calls = sorted(log.calls, key=lambda c: c.at)
    # candleSnapshot weighs 20, charged before the request, plus 1 per 60 candles charged
    # after the reply, before the same coin's next request.
    base = 20
    items = [len(c.opens) // 60 for c in calls]
    following = [
        next((k for k in range(m + 1, len(calls)) if calls[k].coin == calls[m].coin), None)
        for m in range(len(calls))
    ]
    assert base * len(calls) + sum(items) > 2 * capacity  # the budget was the limit
    rate = capacity / period
    slack_s = 0.05  # loopback and scheduling jitter between the client and the fake
    for i in range(len(calls)):
        for j in range(i, len(calls)):
            # Weight the client must have charged between (about) calls i and j.
            charged = base * (j - i + 1) + sum(
                items[m] for m in range(i, j + 1) if (following[m] or len(calls)) <= j
            )
            span = calls[j].at - calls[i].at
            assert charged <= capacity + rate * (span + slack_s), (i, j, charged, span)


# ---------------------------------------------------------------------------- errors
def test_a_refused_symbol_fails_alone(
    fake: FakeHyperliquid, log: SnapshotLog, tmp_path: Path
) -> None:
    for i, coin in enumerate(COINS):
        fake.generate_candles(coin, "1h", T0, 50, seed=i)
    log.refuse_coins = {"ETH"}
    reports = run(
        request("hyperliquid", COINS, "1h", T0, url=fake.base_url),
        tmp_path,
        clock=lambda: T0 + 50 * HOUR_MS,
    )
    by_symbol = {r.symbol: r for r in reports}
    assert by_symbol["ETH"].error is not None
    assert "no candles for ETH" in str(by_symbol["ETH"].error)
    assert [(r.symbol, r.error is None, r.added) for r in reports if r.symbol != "ETH"] == [
        ("BTC", True, 50),
        ("SOL", True, 50),
    ]


@pytest.mark.parametrize(
    ("venue", "symbols", "interval", "needle"),
    [
        ("binance", ["BTC"], "1h", "--venue: unknown venue 'binance'"),
        ("hyperliquid", ["BTC", "DOGE"], "1h", "--symbols: 'DOGE' is not a coin on hyperliquid"),
        ("hyperliquid", ["BTX"], "1h", "did you mean BTC"),
        ("hyperliquid", ["BTC"], "7m", "--interval: '7m' is not an interval of hyperliquid"),
        ("bybit", ["BTCUSDT"], "1w", "--interval: '1w' is not an interval of bybit history"),
    ],
)
def test_bad_input_fails_before_any_download(
    fake: FakeHyperliquid,
    log: SnapshotLog,
    tmp_path: Path,
    venue: str,
    symbols: list[str],
    interval: str,
    needle: str,
) -> None:
    fake.generate_candles("BTC", "1h", T0, 10)
    with pytest.raises(InputError) as raised:
        run(request(venue, symbols, interval, T0, url=fake.base_url), tmp_path, clock=clock)
    assert needle in str(raised.value)
    assert log.calls == []
    assert not (tmp_path / "catalog").exists()


@dataclass(frozen=True)
class Candle:
    open_ms: int
    open: float = 1.0
    high: float = 2.0
    low: float = 0.5
    close: float = 1.5
    volume: float = 3.0


class OnePageSource:
    """A history source serving one page, whatever the window (a venue ignoring endTime)."""

    def __init__(self, opens: list[int]) -> None:
        self.opens = opens

    async def symbols(self) -> list[str]:
        return ["X"]

    async def candles(
        self, symbol: str, interval: str, start_ms: int, end_ms: int
    ) -> AsyncIterator[list[Candle]]:
        yield [Candle(t) for t in self.opens]


class ListSink:
    def __init__(self) -> None:
        self.frames: list[pl.DataFrame] = []

    def plan(self, symbol: str, start_ms: int, end_ms: int, now_ms: int) -> SymbolPlan:
        return SymbolPlan(symbol, ((start_ms, end_ms),))

    def append(self, symbol: str, frame: pl.DataFrame) -> AppendResult:
        self.frames.append(frame)
        return AppendResult(frame.height, 0, 0)

    def window_done(self, symbol: str, window: tuple[int, int], now_ms: int) -> None:
        pass

    def finish(self, symbol: str) -> None:
        pass


async def test_a_page_holding_the_open_candle_is_cut_before_it() -> None:
    now = T0 + 3 * MIN_MS + 1
    source = OnePageSource([T0 - MIN_MS, T0, T0 + MIN_MS, T0 + 2 * MIN_MS, T0 + 3 * MIN_MS])
    sink = ListSink()
    plan = SymbolPlan("X", ((T0, T0 + 10 * MIN_MS),))  # asks past now on purpose
    report = await fetch_symbol(source, sink, plan, "1m", MIN_MS, now, Recorder())
    stored = pl.concat(sink.frames)["ts"].to_list()
    assert stored == [t * NS_PER_MS for t in (T0, T0 + MIN_MS, T0 + 2 * MIN_MS)]
    assert report.added == 3
    assert report.last_open_ms == T0 + 2 * MIN_MS


# ---------------------------------------------------------------------------- planning
def test_range_arithmetic() -> None:
    assert subtract([(0, 100)], [(10, 20), (15, 30), (90, 200)]) == [(0, 10), (30, 90)]
    assert subtract([(0, 10)], []) == [(0, 10)]
    assert subtract([(5, 5)], []) == []
    assert merge_close([(0, 10), (12, 20), (40, 50)], 5) == [(0, 20), (40, 50)]
    assert present_ranges(None) == []

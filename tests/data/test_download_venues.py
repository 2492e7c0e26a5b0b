"""``data.download`` against the fake Bybit and the fake ProjectX gateway: an interrupted
download resumed equals an uninterrupted one, reruns add nothing, and Bybit's requests of many
symbols at once stay within the shared per-IP limit."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from download_harness import MIN_MS, NS_PER_MS, Recorder, content, frames_equal, request, run
from starlette.requests import Request
from starlette.responses import Response

from algotrade.data.catalog import Catalog
from algotrade.data.download import download_to_catalog
from algotrade.venues.ccxt.ratelimit import RateLimiter
from algotrade.venues.projectx.config import ENV_API_KEY, ENV_USERNAME
from testkit.fake_bybit import FakeBybit
from testkit.fake_projectx import BarUnit, FakeProjectX

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
BYBIT = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
KLINES = 2500  # 1m klines per symbol: pages of 1,000, 1,000 and 500


class LoggedBybit(FakeBybit):
    """The fake Bybit with a log of every REST request: (monotonic time, path, query)."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[float, str, dict[str, str]]] = []

    async def _http(self, path: str, request: Request) -> Response:
        self.log.append((time.monotonic(), path, dict(request.query_params)))
        return await super()._http(path, request)


def kline_rows(start_ms: int, count: int, seed: int) -> list[tuple[int, str, str, str, str, str]]:
    rng = random.Random(seed)
    cent = Decimal("0.01")
    price = Decimal(1000 + seed)
    rows = []
    for i in range(count):
        close = (price * Decimal(1 + rng.uniform(-0.002, 0.002))).quantize(cent)
        high = max(price, close) + Decimal(rng.randint(0, 50)) * cent
        low = min(price, close) - Decimal(rng.randint(0, 50)) * cent
        volume = Decimal(rng.randint(1, 900)) / 100
        rows.append(
            (start_ms + i * MIN_MS, str(price), str(high), str(low), str(close), str(volume))
        )
        price = close
    return rows


@pytest.fixture
def bybit() -> Iterator[tuple[LoggedBybit, dict[str, list[Any]]]]:
    with LoggedBybit() as fake:
        rows = {}
        for seed, symbol in enumerate(BYBIT):
            rows[symbol] = kline_rows(T0, KLINES, seed)
            fake.add_klines(symbol, "1", rows[symbol])
        yield fake, rows


def expected(rows: dict[str, list[Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "symbol": symbol,
                "ts": t * NS_PER_MS,
                "open": float(o),
                "high": float(h),
                "low": float(lo),
                "close": float(c),
                "volume": float(v),
            }
            for symbol in sorted(rows)
            for t, o, h, lo, c, v in rows[symbol]
        ]
    ).sort("symbol", "ts")


def kline_starts(fake: LoggedBybit) -> list[tuple[str, int]]:
    return [(q["symbol"], int(q["start"])) for _, path, q in fake.log if path == "/v5/market/kline"]


def test_bybit_download_cancelled_and_resumed_equals_an_uninterrupted_one(
    bybit: tuple[LoggedBybit, dict[str, list[Any]]], tmp_path: Path
) -> None:
    fake, rows = bybit
    end = T0 + KLINES * MIN_MS
    job = request("bybit", BYBIT, "1m", T0, end, url=fake.base_url, concurrency=3)
    whole = run(job, tmp_path / "whole")
    assert [(r.error, r.added) for r in whole] == [(None, KLINES)] * 3
    frame, coverage = content(tmp_path / "whole", "bybit", BYBIT, "1m")
    assert frames_equal(frame, expected(rows))
    assert len(kline_starts(fake)) == 9

    async def interrupted() -> None:
        task = asyncio.current_task()
        assert task is not None

        def interrupt(pages: int) -> None:
            if pages == 4:
                task.cancel()  # what Ctrl-C does to asyncio.run's task

        data_dir = tmp_path / "resumed"
        await download_to_catalog(
            job, Catalog.for_data_dir(data_dir), data_dir / "downloads", Recorder(on_page=interrupt)
        )

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(interrupted())
    partial, _ = content(tmp_path / "resumed", "bybit", BYBIT, "1m")
    assert 4000 <= partial.height < 3 * KLINES
    last = dict(partial.group_by("symbol").agg(pl.col("ts").max()).iter_rows())

    fake.log.clear()
    resumed = run(job, tmp_path / "resumed")
    assert all(r.error is None for r in resumed)
    assert sum(r.skipped for r in resumed) == 0
    firsts: dict[str, int] = {}
    for symbol, start in kline_starts(fake):
        firsts.setdefault(symbol, start)
    assert firsts == {  # each symbol continued right after its last stored bar
        symbol: T0 if symbol not in last else last[symbol] // NS_PER_MS + MIN_MS for symbol in BYBIT
    }
    assert content(tmp_path / "resumed", "bybit", BYBIT, "1m")[1] == coverage
    assert frames_equal(content(tmp_path / "resumed", "bybit", BYBIT, "1m")[0], frame)

    fake.log.clear()
    again = run(job, tmp_path / "resumed")
    assert [r.added for r in again] == [0, 0, 0]
    assert kline_starts(fake) == []


def test_bybit_symbols_at_once_stay_within_the_ip_limit(
    bybit: tuple[LoggedBybit, dict[str, list[Any]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Bybit allows 600 requests per 5 s per IP; the venue's own limiter, with a limit of 4
    # and its clock running 10 times faster (a 0.5 s window), shows the rule in two seconds.
    fake, _ = bybit
    limit, speed = 4, 10.0

    def scaled(per_second: dict[str, int], ip_per_5s: int) -> RateLimiter:
        return RateLimiter(
            per_second,
            limit,
            clock=lambda: time.monotonic() * speed,
            sleep=lambda seconds: asyncio.sleep(seconds / speed),
        )

    monkeypatch.setattr("algotrade.venues.ccxt.bybit.rest.RateLimiter", scaled)
    observer = Recorder()
    end = T0 + KLINES * MIN_MS
    reports = run(
        request("bybit", BYBIT, "1m", T0, end, url=fake.base_url, concurrency=3), tmp_path, observer
    )
    assert [r.added for r in reports] == [KLINES] * 3
    assert observer.most_in_flight == 3
    times = [t for t, _, _ in fake.log]
    assert len(times) > 2 * limit  # the limit, not the data, set the pace
    window_s = 5.0 / speed
    # Loopback and scheduling jitter between the client's grant and the fake's arrival time:
    # on a loaded machine a first request (a new connection) arrived 51 ms late (a CI flake
    # with 0.05 s of slack). An unlimited client sends the 5 requests within milliseconds.
    slack_s = 0.15
    for i in range(len(times) - limit):
        # any limit + 1 consecutive requests span more than the window
        assert times[i + limit] - times[i] >= window_s - slack_s, (i, times[i : i + limit + 1])


# ---------------------------------------------------------------------------- ProjectX
PROJECTX = {"EPZ25": "CON.F.US.EP.Z25", "ENQZ25": "CON.F.US.ENQ.Z25"}
BARS_PATH = "/api/History/retrieveBars"


@pytest.fixture
def projectx(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeProjectX, dict[str, Any]]]:
    monkeypatch.setenv(ENV_USERNAME, "trader")
    monkeypatch.setenv(ENV_API_KEY, "key-123")
    with FakeProjectX() as fake:
        fake.add_user("trader", "key-123")
        bars = {
            name: fake.generate_bars(cid, BarUnit.MINUTE, 1, T0 / 1000, 600, seed=i)
            for i, (name, cid) in enumerate(PROJECTX.items())
        }
        yield fake, bars


def bar_requests(fake: FakeProjectX) -> list[tuple[str, int]]:
    return [
        (body["contractId"], status)
        for path, body, status in fake.requests
        if path.lower() == BARS_PATH.lower()
    ]


def test_projectx_download_failed_for_a_symbol_then_resumed_equals_an_uninterrupted_one(
    projectx: tuple[FakeProjectX, dict[str, Any]], tmp_path: Path
) -> None:
    fake, bars = projectx
    job = request("projectx", list(PROJECTX), "1m", T0, T0 + 600 * MIN_MS, url=fake.base_url)
    whole = run(job, tmp_path / "whole")
    assert [(r.error, r.added) for r in whole] == [(None, 600)] * 2
    frame, coverage = content(tmp_path / "whole", "projectx", list(PROJECTX), "1m")
    first = frame.filter(pl.col("symbol") == "EPZ25").row(0, named=True)
    assert first["close"] == float(bars["EPZ25"][0]["c"])
    assert frame.height == 1200

    fake.fail_next(1, 400, BARS_PATH)  # the gateway refuses the first symbol's request
    broken = run(job, tmp_path / "resumed")
    failed = [r for r in broken if r.error is not None]
    assert len(failed) == 1
    assert "HTTP 400" in str(failed[0].error)
    assert sum(r.added for r in broken) == 600

    fake.requests.clear()
    resumed = run(job, tmp_path / "resumed")
    assert all(r.error is None for r in resumed)
    assert [r.added for r in resumed if r.symbol == failed[0].symbol] == [600]
    assert [r.span_ms for r in resumed if r.symbol != failed[0].symbol] == [0]  # up to date
    assert bar_requests(fake) == [(PROJECTX[failed[0].symbol], 200)]
    assert content(tmp_path / "resumed", "projectx", list(PROJECTX), "1m")[1] == coverage
    assert frames_equal(content(tmp_path / "resumed", "projectx", list(PROJECTX), "1m")[0], frame)

    fake.requests.clear()
    assert [r.added for r in run(job, tmp_path / "resumed")] == [0, 0]
    assert bar_requests(fake) == []
    assert all(status != 429 for _, _, status in fake.requests)


def test_projectx_all_symbols_lists_each_contract_once_by_name(
    projectx: tuple[FakeProjectX, dict[str, Any]], tmp_path: Path
) -> None:
    fake, _ = projectx
    job = request("projectx", None, "1m", T0, T0 + 10 * MIN_MS, url=fake.base_url)
    reports = run(job, tmp_path / "all")
    symbols = [r.symbol for r in reports]
    assert len(symbols) == len(set(symbols))  # a contract id was listed beside its name
    assert set(PROJECTX) <= set(symbols)
    assert not set(PROJECTX.values()) & set(symbols)

"""Series of the catalog and the warm tier as backtest datasets (``catalog:…`` / ``warm:…``):
names, listings, and jobs run on them in-process and in the daemon's worker pool."""

from __future__ import annotations

import asyncio
import json
import pickle
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from algotrade.backtest.job import JobSpec, run_job
from algotrade.core.errors import ConfigError
from algotrade.daemon.backtest_datasets import (
    SeriesDataset,
    SeriesLoader,
    catalog_datasets,
    list_datasets,
    parse_series_dataset,
    series_dataset_problem,
    series_runner,
    warm_datasets,
)
from algotrade.daemon.backtest_jobs import BacktestJobs, JobState
from algotrade.data.catalog import Catalog, SeriesKey

HOUR_NS = 3_600_000_000_000
START_NS = 1_704_067_200_000_000_000  # 2024-01-01T00:00Z
BTC = SeriesKey("hyperliquid", "BTC", "1h")
SWAP = SeriesKey("bybit", "BTC/USDT:USDT", "1h")
PARAMS = {"fast": 3, "slow": 8}


def _bars(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    return pl.DataFrame(
        {
            "ts": START_NS + np.arange(n, dtype=np.int64) * HOUR_NS,
            "open": open_,
            "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999,
            "close": close,
            "volume": rng.random(n) * 1e3,
        }
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    catalog = Catalog.for_data_dir(tmp_path)
    catalog.append(BTC, _bars(300, 1))
    catalog.append(SWAP, _bars(200, 2))
    (tmp_path / "datasets").mkdir()
    return tmp_path


@pytest.fixture
def warm_url(market_pg_url: str, data_dir: Path) -> str:
    """The warm tier holding a copy of ``data_dir``'s catalog."""
    from algotrade.data.warm import WarmStore

    WarmStore(market_pg_url).sync_from(Catalog.for_data_dir(data_dir))
    return market_pg_url


@pytest.mark.parametrize(
    ("name", "parsed"),
    [
        ("BTC-1m.csv", None),
        ("data.parquet", None),
        ("other:thing", None),
        ("catalog:hyperliquid:BTC:1h", SeriesDataset("catalog", "hyperliquid", "BTC", "1h")),
        ("warm:bybit:BTC/USDT:USDT:15m", SeriesDataset("warm", "bybit", "BTC/USDT:USDT", "15m")),
    ],
)
def test_parse_series_dataset(name: str, parsed: SeriesDataset | None) -> None:
    assert parse_series_dataset(name) == parsed
    if parsed is not None:
        assert parsed.name == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("catalog:hyperliquid:BTC", "catalog:VENUE:SYMBOL:INTERVAL"),
        ("warm::BTC:1h", "warm:VENUE:SYMBOL:INTERVAL"),
        ("catalog:hyperliquid:BTC:1week", "interval"),
        ("catalog:hyperliquid: BTC:1h", "symbol"),
        ("catalog:hl:" + "X" * 130 + ":1h", "at most 128"),
    ],
)
def test_malformed_series_names_say_what_is_expected(name: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_series_dataset(name)


def test_catalog_series_are_listed_from_the_manifests(data_dir: Path) -> None:
    listed = catalog_datasets(data_dir / "catalog")
    assert [(d["name"], d["rows"], d["first"], d["last"]) for d in listed] == [
        ("catalog:bybit:BTC/USDT:USDT:1h", 200, "2024-01-01T00:00:00Z", "2024-01-09T07:00:00Z"),
        ("catalog:hyperliquid:BTC:1h", 300, "2024-01-01T00:00:00Z", "2024-01-13T11:00:00Z"),
    ]
    assert str(data_dir) not in json.dumps(listed)
    assert catalog_datasets(data_dir / "nothing") == []
    assert list_datasets(data_dir / "datasets") == []  # files are listed apart, as before


def _write_file(data_dir: Path, name: str) -> None:
    """The catalog's hyperliquid BTC bars as a bar file in the datasets folder."""
    bars = Catalog.for_data_dir(data_dir).scan("hyperliquid", ["BTC"], "1h").collect()
    timestamp = pl.from_epoch("ts", time_unit="ns").dt.replace_time_zone("UTC")
    bars.select(
        timestamp.alias("timestamp"), "open", "high", "low", "close", "volume"
    ).write_parquet(data_dir / "datasets" / name)


def _run(spec: JobSpec, data_dir: Path, out: Path, url: str | None = None) -> dict[str, object]:
    loader = SeriesLoader(str(data_dir / "catalog"), url)
    return run_job(spec, str(data_dir / "datasets"), str(out), loader=loader)


def test_a_catalog_series_backtests_like_the_same_bars_in_a_file(
    data_dir: Path, tmp_path: Path
) -> None:
    _write_file(data_dir, "BTC-1h.parquet")
    window = {"start_ns": START_NS + 10 * HOUR_NS, "end_ns": START_NS + 250 * HOUR_NS}
    from_series = _run(
        JobSpec("ma_crossover", PARAMS, dataset="catalog:hyperliquid:BTC:1h", **window),
        data_dir,
        tmp_path / "a",
    )
    from_file = _run(
        JobSpec("ma_crossover", PARAMS, dataset="BTC-1h.parquet", symbol="BTC", **window),
        data_dir,
        tmp_path / "b",
    )
    assert from_series["ok"] is True, from_series
    assert from_series["bars"] == 240
    assert from_series["symbols"] == ["BTC"]
    assert from_series["metrics"] == from_file["metrics"]
    assert (tmp_path / "a" / "report.html").is_file()


@pytest.mark.postgres
def test_a_warm_series_gives_the_same_result_as_the_catalog(
    data_dir: Path, warm_url: str, tmp_path: Path
) -> None:
    cold = _run(
        JobSpec("ma_crossover", PARAMS, dataset=f"catalog:{SWAP}"), data_dir, tmp_path / "c"
    )
    warm = _run(
        JobSpec("ma_crossover", PARAMS, dataset=f"warm:{SWAP}"), data_dir, tmp_path / "w", warm_url
    )
    assert warm["ok"] is True, warm
    assert (warm["bars"], warm["symbols"]) == (200, ["BTC/USDT:USDT"])
    assert warm["metrics"] == cold["metrics"]


@pytest.mark.postgres
def test_warm_series_are_listed_and_checked(data_dir: Path, warm_url: str) -> None:
    names = [d["name"] for d in warm_datasets(warm_url)]
    assert names == ["warm:bybit:BTC/USDT:USDT:1h", "warm:hyperliquid:BTC:1h"]
    assert [d["rows"] for d in warm_datasets(warm_url)] == [200, 300]
    root = data_dir / "catalog"
    warm_btc = SeriesDataset("warm", "hyperliquid", "BTC", "1h")
    assert series_dataset_problem(warm_btc, root, warm_url) is None
    missing = SeriesDataset("warm", "hyperliquid", "ETH", "1h")
    assert series_dataset_problem(missing, root, warm_url) == (
        "the warm tier has no series hyperliquid:ETH:1h (see GET /api/datasets)"
    )


def test_series_problems_without_a_warm_tier(data_dir: Path) -> None:
    root = data_dir / "catalog"
    assert (
        series_dataset_problem(SeriesDataset("catalog", "hyperliquid", "BTC", "1h"), root, None)
        is None
    )
    assert (
        series_dataset_problem(SeriesDataset("catalog", "hyperliquid", "ETH", "1h"), root, None)
        == "the catalog has no series hyperliquid:ETH:1h (see GET /api/datasets)"
    )
    assert series_dataset_problem(
        SeriesDataset("warm", "hyperliquid", "BTC", "1h"), root, None
    ) == ("this daemon has no warm tier (market_data.url is not set)")


def test_an_unreachable_warm_tier_names_the_setting(data_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"^market_data.url: cannot connect to PostgreSQL at "):
        warm_datasets("postgresql://u:pw@127.0.0.1:1/market")


@pytest.mark.parametrize(
    ("dataset", "url", "error"),
    [
        (
            "warm:hyperliquid:BTC:1h",
            None,
            "dataset warm:hyperliquid:BTC:1h: this daemon has no warm tier "
            "(market_data.url is not set)",
        ),
        (
            "warm:hyperliquid:BTC:1h",
            "postgresql://u:hunter2@127.0.0.1:1/market",
            "market_data.url: cannot connect to PostgreSQL at 127.0.0.1:1/market: ",
        ),
        (
            "catalog:hyperliquid:ETH:1h",
            None,
            "the catalog: no 1h bars of hyperliquid:ETH in the requested range",
        ),
    ],
)
def test_failures_are_one_line_without_paths_or_passwords(
    data_dir: Path, tmp_path: Path, dataset: str, url: str | None, error: str
) -> None:
    result = _run(JobSpec("ma_crossover", PARAMS, dataset=dataset), data_dir, tmp_path / "x", url)
    assert result["ok"] is False
    message = str(result["error"])
    assert message.startswith(error)
    assert "\n" not in message
    assert str(data_dir) not in message
    assert "hunter2" not in message


def test_a_symbol_other_than_the_series_is_refused(data_dir: Path, tmp_path: Path) -> None:
    spec = JobSpec("ma_crossover", PARAMS, dataset="catalog:hyperliquid:BTC:1h", symbol="ETH")
    result = _run(spec, data_dir, tmp_path / "x")
    assert result["error"] == (
        "dataset catalog:hyperliquid:BTC:1h is BTC; symbol ETH was asked for"
    )


def test_a_window_without_bars_is_an_error(data_dir: Path, tmp_path: Path) -> None:
    _write_file(data_dir, "BTC.parquet")
    spec = JobSpec("ma_crossover", PARAMS, dataset="BTC.parquet", start_ns=0, end_ns=START_NS)
    result = _run(spec, data_dir, tmp_path / "x")
    assert result["error"] == "dataset BTC.parquet has no bars in the requested start..end range"


def test_the_runner_pickles_for_the_worker_process(data_dir: Path) -> None:
    runner = series_runner(data_dir, "postgresql://u:pw@h/d")
    copy = pickle.loads(pickle.dumps(runner))
    assert copy.keywords["loader"] == SeriesLoader(
        str(data_dir / "catalog"), "postgresql://u:pw@h/d"
    )


def test_the_daemons_pool_runs_a_catalog_series_job(data_dir: Path) -> None:
    """The real path: BacktestJobs with the series runner, a spawned worker process."""

    async def scenario() -> dict[str, object]:
        jobs = BacktestJobs(
            data_dir / "backtests", data_dir / "datasets", runner=series_runner(data_dir)
        )
        try:
            job = await jobs.submit(
                JobSpec("ma_crossover", PARAMS, dataset="catalog:hyperliquid:BTC:1h")
            )
            deadline = time.monotonic() + 120
            while job.state in (JobState.QUEUED, JobState.RUNNING):
                assert time.monotonic() < deadline, "the job did not finish"
                await asyncio.sleep(0.05)
            return job.to_json()
        finally:
            await jobs.shutdown()

    job = asyncio.run(scenario())
    assert job["state"] == "done", job["error"]
    assert (job["bars"], job["symbols"]) == (300, ["BTC"])
    assert (data_dir / "backtests" / str(job["job_id"]) / "report.html").is_file()

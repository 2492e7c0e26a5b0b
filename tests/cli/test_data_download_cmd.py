"""``algotrade data download`` through the real entry point against the fake Hyperliquid:
progress and summary, reruns, a failing symbol, bad input, and a process killed with SIGKILL
mid-download that the same command then finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse

from algotrade.data.catalog import Catalog, SeriesKey
from cli.conftest import RunMain
from testkit.daemon_process import wait_until
from testkit.fake_hyperliquid import FakeHyperliquid
from testkit.fake_hyperliquid.wire import BadRequest

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
HOUR_MS = 3_600_000
MIN_MS = 60_000
NS_PER_MS = 1_000_000
COINS = ("BTC", "ETH", "SOL")


class HoldingHyperliquid(FakeHyperliquid):
    """The fake Hyperliquid that stops answering candleSnapshot after ``answer`` of them
    (the request hangs until the server stops), and counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.answer: int | None = None
        self.snapshots = 0

    async def _http(self, path: str, request: Request, handler: Any) -> JSONResponse:
        if path == "/info" and b"candleSnapshot" in await request.body():
            self.snapshots += 1
            if self.answer is not None and self.snapshots > self.answer:
                await self._hold(120.0)  # stop() cuts it short
        return await super()._http(path, request, handler)


@pytest.fixture
def fake() -> Iterator[HoldingHyperliquid]:
    with HoldingHyperliquid() as venue:
        venue.set_candle_reply_cap(5000)  # pages of 5000: the counts below are in them
        for seed, coin in enumerate(COINS):
            venue.generate_candles(coin, "1h", T0, 72, seed=seed)
        yield venue


def download_args(
    url: str,
    data_dir: Path,
    *extra: str,
    symbols: str = "BTC,ETH",
    interval: str = "1h",
    end: str = "2024-01-03",
) -> list[str]:
    return [
        "data", "download", "--venue", "hyperliquid", "--symbols", symbols,
        "--interval", interval, "--start", "2024-01-01", "--end", end,
        "--data-dir", str(data_dir), "--api-url", url, *extra,
    ]  # fmt: skip


def stored(data_dir: Path, coins: tuple[str, ...] | list[str], interval: str) -> pl.DataFrame:
    return Catalog.for_data_dir(data_dir).scan("hyperliquid", coins, interval).collect()


def test_download_progress_summary_and_rerun(
    run_main: RunMain, fake: HoldingHyperliquid, tmp_path: Path
) -> None:
    first = run_main(*download_args(fake.base_url, tmp_path))
    out = first.ok()
    assert "2 symbols, 2 to fetch, 0 up to date" in first.stderr
    assert "] BTC: 48 new bars (last opens 2024-01-02T23:00:00Z)" in first.stderr
    assert "] ETH: 48 new bars (last opens 2024-01-02T23:00:00Z)" in first.stderr
    assert "[2/2]" in first.stderr  # symbols are counted as they finish
    assert "96 bars added; 0 failed" in out
    for coin in ("BTC", "ETH"):
        assert coin in out
    frame = stored(tmp_path, ["BTC", "ETH"], "1h")
    assert frame.height == 96
    assert frame["ts"].max() == (T0 + 47 * HOUR_MS) * NS_PER_MS  # --end is exclusive

    snapshots = fake.snapshots
    again = run_main(*download_args(fake.base_url, tmp_path))
    assert "] BTC: up to date" in again.stderr
    assert "0 bars added; 0 failed" in again.ok()
    assert fake.snapshots == snapshots
    assert stored(tmp_path, ["BTC", "ETH"], "1h").equals(frame)


def test_all_symbols_of_the_venue(
    run_main: RunMain, fake: HoldingHyperliquid, tmp_path: Path
) -> None:
    out = run_main(
        *download_args(fake.base_url, tmp_path, "--concurrency", "2", symbols="all")
    ).ok()
    assert "144 bars added" in out
    assert [c.key.symbol for c in Catalog.for_data_dir(tmp_path).series("hyperliquid")] == sorted(
        COINS
    )


def test_a_failing_symbol_exits_1_after_the_others_finished(
    run_main: RunMain, fake: HoldingHyperliquid, tmp_path: Path
) -> None:
    original = fake.state.candle_snapshot

    def refusing(coin: str, interval: str, start: int, end: int, limit: int = 5000) -> Any:
        if coin == "ETH":
            raise BadRequest("injected refusal")
        return original(coin, interval, start, end, limit)

    fake.state.candle_snapshot = refusing
    result = run_main(*download_args(fake.base_url, tmp_path, symbols="ETH,BTC,SOL"))
    assert result.code == 1
    assert "ETH: failed after 0 new bars" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 1 of 3 symbols failed (first: ETH: ")
    assert last.endswith("rerun the same command to resume")
    assert "failed" in result.stdout  # the summary table says so too
    assert stored(tmp_path, ["BTC", "SOL"], "1h").height == 96
    assert stored(tmp_path, ["ETH"], "1h").height == 0


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (("--venue", "binance"), "--venue: unknown venue 'binance'"),
        (("--symbols", "BTC,DOGE"), "--symbols: 'DOGE' is not a coin on hyperliquid"),
        (("--symbols", "BTC,,ETH"), "--symbols"),
        (("--interval", "7m"), "--interval: '7m' is not an interval of hyperliquid"),
        (("--start", "yesterday"), "--start"),
        (("--end", "2023-12-31"), "--end"),
        (("--concurrency", "0"), "--concurrency"),
    ],
)
def test_bad_input_is_one_line_and_downloads_nothing(
    run_main: RunMain,
    fake: HoldingHyperliquid,
    tmp_path: Path,
    change: tuple[str, str],
    needle: str,
) -> None:
    args = download_args(fake.base_url, tmp_path)
    option, value = change
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    run_main(*args).one_line_error(2, needle)
    assert fake.snapshots == 0
    assert not (tmp_path / "catalog").exists()


@pytest.mark.slow
def test_killed_download_is_finished_by_the_same_command(
    run_main: RunMain, fake: HoldingHyperliquid, tmp_path: Path
) -> None:
    bars = 12_000  # 1m bars per coin: three pages of at most 5,000
    for seed, coin in enumerate(COINS):
        fake.generate_candles(coin, "1m", T0, bars, seed=seed)
    options = {"symbols": ",".join(COINS), "interval": "1m", "end": "2024-01-09T08:00:00Z"}
    args = download_args(fake.base_url, tmp_path / "killed", **options)  # T0 + 12,000 min
    reference = run_main(*download_args(fake.base_url, tmp_path / "whole", **options)).ok()
    assert f"{3 * bars:,} bars added" in reference

    fake.snapshots = 0
    fake.answer = 4  # the fifth page never comes: the process waits for it
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALGOTRADE")}
    process = subprocess.Popen(
        [sys.executable, "-m", "algotrade", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(
            lambda: stored(tmp_path / "killed", COINS, "1m").height == 4 * 5000,
            60,
            "four pages in the catalog",
        )
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(30)
        assert process.stderr is not None
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL

    fake.answer = None
    resumed = run_main(*args).ok()
    assert f"{3 * bars - 4 * 5000:,} bars added" in resumed
    catalog = Catalog.for_data_dir(tmp_path / "killed")
    whole = Catalog.for_data_dir(tmp_path / "whole")
    assert stored(tmp_path / "killed", COINS, "1m").equals(stored(tmp_path / "whole", COINS, "1m"))
    for coin in COINS:
        key = SeriesKey("hyperliquid", coin, "1m")
        mine, theirs = catalog.coverage(key), whole.coverage(key)
        assert mine is not None
        assert theirs is not None
        assert (mine.first_ns, mine.last_ns, mine.rows, mine.gaps) == (
            theirs.first_ns,
            theirs.last_ns,
            theirs.rows,
            theirs.gaps,
        )


@pytest.mark.slow
def test_ctrl_c_says_what_is_kept_and_how_to_resume(
    fake: HoldingHyperliquid, tmp_path: Path
) -> None:
    for seed, coin in enumerate(COINS):
        fake.generate_candles(coin, "1m", T0, 12_000, seed=seed)
    fake.answer = 2
    args = download_args(
        fake.base_url, tmp_path, symbols="BTC,ETH", interval="1m", end="2024-01-09T08:00:00Z"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALGOTRADE")}
    process = subprocess.Popen(
        [sys.executable, "-m", "algotrade", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: stored(tmp_path, ["BTC", "ETH"], "1m").height == 2 * 5000, 60, "pages")
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
        process.wait(30)
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == (
        "error: interrupted: every page downloaded so far is stored in the catalog; "
        "rerun the same command to resume"
    )
    assert "Traceback" not in err

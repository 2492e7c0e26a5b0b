"""Closed bars from the fake Bybit's kline stream: REST warm-up, confirmed klines only, one
subscription shared by bots, the gap after a reconnect filled from REST exactly once; market
data without credentials; ``fetch-data --venue bybit``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bybit_harness import BotSpecStub, Owner, connect, until

from algotrade.core.errors import ConfigError
from algotrade.core.events import Bar
from algotrade.data.loader import load_bars
from algotrade.venues.ccxt.connection import CcxtConnection
from algotrade.venues.ccxt.errors import CcxtVenueError
from testkit.fake_bybit import FakeBybit

MIN = 60_000
NS = 1_000_000


def minute(offset: int) -> int:
    """An open time ``offset`` minutes after a fixed point 600 minutes ago."""
    base = (time.time_ns() // NS // MIN - 600) * MIN
    return base + offset * MIN


def rows(first: int, last: int, t0: int) -> list[tuple[int, int, int, int, int, int]]:
    return [(t0 + i * MIN, 100 + i, 101 + i, 99 + i, 100 + i, 1) for i in range(first, last + 1)]


def push(fake: FakeBybit, t0: int, i: int, *, confirm: bool = True) -> None:
    fake.push_kline(
        "BTCUSDT",
        "1",
        t0 + i * MIN,
        100 + i,
        101 + i,
        99 + i,
        100 + i,
        1,
        confirm=confirm,
        move_price=False,
    )


def opens(bars: list[Bar], t0: int) -> list[int]:
    return [(b.ts // NS - t0) // MIN for b in bars]


@pytest.fixture
async def data(fake: FakeBybit, uid: str) -> CcxtConnection:
    connection = await connect(fake, Owner())
    yield connection  # type: ignore[misc]
    await connection.stop()


async def test_warm_up_live_bars_shared_subscription_and_gap_fill(
    fake: FakeBybit, data: CcxtConnection
) -> None:
    t0 = minute(0)
    fake.add_klines("BTCUSDT", "1", rows(0, 9, t0))
    first: list[Bar] = []
    second: list[Bar] = []
    feed = data.bot_feed(BotSpecStub("b1"), first.append)
    warm = await feed.start(5)
    assert opens(warm, t0) == [5, 6, 7, 8, 9]
    assert warm[-1].close == 109.0
    push(fake, t0, 10, confirm=False)  # forming: never a bar
    push(fake, t0, 10)
    await until(lambda: len(first) == 1, "the first live bar")
    other = data.bot_feed(BotSpecStub("b2"), second.append)
    assert opens(await other.start(3), t0) == [8, 9, 10]
    assert fake.ws_subscriptions().count(("public", "kline.1.BTCUSDT")) == 1
    push(fake, t0, 10)  # repeated: delivered once only
    push(fake, t0, 11)
    await until(lambda: len(second) == 1 and len(first) == 2, "bar 11 for both")

    # The stream drops; bars close while it is down; the reconnect fills the gap from REST.
    fake.refuse_websockets(kind="public")
    fake.drop_websockets("public")
    for i in (12, 13):
        push(fake, t0, i)  # stored at the venue, pushed to nobody
    fake.refuse_websockets(False, kind="public")
    await until(lambda: len(first) == 4, "the missed bars", 10)
    push(fake, t0, 14)
    await until(lambda: len(first) == 5 and len(second) == 4, "bar 14")
    assert opens(first, t0) == [10, 11, 12, 13, 14]
    assert opens(second, t0) == [11, 12, 13, 14]

    # A bar that skips one while connected: the missed one is fetched first.
    fake.add_klines("BTCUSDT", "1", rows(15, 15, t0))
    push(fake, t0, 16)
    await until(lambda: len(first) == 7, "bars 15 and 16")
    assert opens(first, t0)[-2:] == [15, 16]
    feed.stop()
    other.stop()
    await until(lambda: ("public", "kline.1.BTCUSDT") not in fake.ws_subscriptions(), "unsub")


async def test_market_data_needs_no_credentials(
    fake: FakeBybit, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ALGOTRADE_BYBIT_API_KEY", "ALGOTRADE_BYBIT_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    connection = await connect(fake, Owner())
    try:
        t0 = minute(0)
        fake.add_klines("BTCUSDT", "1", rows(0, 2, t0))
        bars: list[Bar] = []
        assert len(await connection.bot_feed(BotSpecStub(), bars.append).start(2)) == 2
        assert connection.snapshot()["account"] is None
        with pytest.raises(CcxtVenueError) as error:
            await connection.execution_venue(BotSpecStub(), lambda exc: None)
        assert str(error.value) == (
            "trading on Bybit needs credentials: set ALGOTRADE_BYBIT_API_KEY and "
            "ALGOTRADE_BYBIT_API_SECRET (or ALGOTRADE_BYBIT_API_KEY_FILE and "
            "ALGOTRADE_BYBIT_API_SECRET_FILE)"
        )
        with pytest.raises(LookupError, match="no credentials"):
            await connection.reconcile()
        with pytest.raises(ValueError, match=r"^symbol: Bybit has no linear contract 'DOGE'"):
            connection.instruments("DOGE")
    finally:
        await connection.stop()
    monkeypatch.setenv("ALGOTRADE_BYBIT_API_KEY", "only-the-key")
    with pytest.raises(ConfigError, match=r"ALGOTRADE_BYBIT_API_SECRET .* is not set"):
        await connect(fake, Owner())


@pytest.mark.slow
def test_fetch_data_downloads_closed_candles(fake: FakeBybit, tmp_path: Path) -> None:
    t0 = (time.time_ns() // NS // MIN - 3000) * MIN
    fake.add_klines("BTCUSDT", "1", rows(0, 2499, t0))
    out = tmp_path / "btc.parquet"
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 / 1000))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((t0 + 2500 * MIN) / 1000))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALGOTRADE_BYBIT")}
    command = [
        sys.executable,
        "-m",
        "algotrade",
        "fetch-data",
        "--venue",
        "bybit",
        "--symbol",
        "BTCUSDT",
        "--interval",
        "1m",
        "--start",
        start,
        "--end",
        end,
        "--out",
        str(out),
        "--api-url",
        fake.base_url,
    ]
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 2,500 BTCUSDT 1m bars" in done.stderr
    bars = load_bars(out)
    assert len(bars) == 2500
    assert fake.request_count("/v5/market/kline") == 3  # 1,000 candles per request
    wrong = subprocess.run(
        [*command[:7], "NOPE", *command[8:]],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert wrong.returncode != 0
    assert "--symbol: 'NOPE' is not a coin on bybit" in wrong.stderr

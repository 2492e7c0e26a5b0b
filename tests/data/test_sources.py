"""Bars by reference: the catalog by default, PostgreSQL by URL, the same bars from both."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from algotrade.core.errors import DataError, InputError
from algotrade.data.catalog import Catalog, SeriesKey
from algotrade.data.sources import (
    load_available,
    load_reference,
    open_source,
    stored_symbols,
)
from algotrade.data.synthetic import generate_bars

HOUR = 3_600 * 10**9
T0 = 1_704_067_200 * 10**9
VENUE = "sourcesvenue"
SYMBOLS = ("AAA", "B/USD:USD")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sources") / "data"
    catalog = Catalog.for_data_dir(root)
    for number, symbol in enumerate(SYMBOLS):
        bars = generate_bars(300, symbol=symbol, seed=number, start=T0, interval_ns=HOUR)
        catalog.append(SeriesKey(VENUE, symbol, "1h"), bars.frame)
    daily = generate_bars(10, symbol="DAILY", start=T0, interval_ns=24 * HOUR)
    catalog.append(SeriesKey(VENUE, "DAILY", "1d"), daily.frame)
    return root


def test_catalog_is_the_default(data_dir: Path) -> None:
    expected = Catalog.for_data_dir(data_dir).load(VENUE, list(SYMBOLS), "1h", T0 + HOUR)
    for source in (None, "catalog"):
        got = load_reference(
            VENUE, SYMBOLS, "1h", T0 + HOUR, None, data_dir=data_dir, source=source
        )
        assert_frame_equal(got.frame, expected.frame)
        assert got.start_ns == T0 + HOUR


def test_missing_symbol_is_named(data_dir: Path) -> None:
    with pytest.raises(DataError, match=r"sourcesvenue:NOPE"):
        load_reference(VENUE, ["AAA", "NOPE"], "1h", None, None, data_dir=data_dir)


@pytest.mark.parametrize(
    ("interval", "start", "end", "match"),
    [("1x", None, None, "--interval"), ("1h", T0 + HOUR, T0, "--start")],
)
def test_bad_range(data_dir: Path, interval: str, start: int, end: int, match: str) -> None:
    with pytest.raises(InputError, match=match):
        load_reference(VENUE, ["AAA"], interval, start, end, data_dir=data_dir)


def test_unknown_source_never_echoes_the_text(data_dir: Path) -> None:
    with pytest.raises(InputError) as caught:
        open_source("mysql://bob:hunter2@db/x", data_dir=data_dir)
    assert "'mysql'" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    with pytest.raises(InputError, match="--source"):
        open_source("parquet", data_dir=data_dir)


def test_available_symbols_split(data_dir: Path) -> None:
    catalog = Catalog.for_data_dir(data_dir)
    got = load_available(VENUE, ["NOPE", *SYMBOLS], "1h", None, None, data_dir=data_dir)
    assert sorted(got) == sorted(SYMBOLS)
    for symbol in SYMBOLS:
        assert_frame_equal(got[symbol].frame, catalog.load(VENUE, [symbol], "1h").frame)
    assert load_available(VENUE, ["NOPE"], "1h", None, None, data_dir=data_dir) == {}


def test_stored_symbols_of_an_interval(data_dir: Path) -> None:
    assert stored_symbols(VENUE, "1h", data_dir=data_dir) == sorted(SYMBOLS)
    assert stored_symbols(VENUE, "1d", data_dir=data_dir) == ["DAILY"]
    assert stored_symbols("elsewhere", "1h", data_dir=data_dir) == []


def test_catalog_reads_do_not_import_psycopg(data_dir: Path) -> None:
    script = (
        "import sys, json; from pathlib import Path\n"
        "from algotrade.data.sources import load_reference\n"
        f"load_reference({VENUE!r}, ['AAA'], '1h', None, None, data_dir=Path({str(data_dir)!r}))\n"
        "print(json.dumps('psycopg' in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) is False


@pytest.mark.postgres
def test_postgres_gives_the_catalog_bars(data_dir: Path, market_pg_url: str) -> None:
    from algotrade.data.warm import WarmStore

    catalog = Catalog.for_data_dir(data_dir)
    WarmStore(market_pg_url).sync_from(catalog, VENUE)
    window = (T0 + 5 * HOUR, T0 + 200 * HOUR)
    expected = catalog.load(VENUE, list(SYMBOLS), "1h", *window)
    got = load_reference(VENUE, SYMBOLS, "1h", *window, data_dir=data_dir, source=market_pg_url)
    key = ["symbol", "ts"]
    assert_frame_equal(got.frame.sort(key), expected.frame.sort(key))
    assert stored_symbols(VENUE, "1h", data_dir=data_dir, source=market_pg_url) == sorted(SYMBOLS)
    available = load_available(
        VENUE, ["NOPE", *SYMBOLS], "1h", *window, data_dir=data_dir, source=market_pg_url
    )
    assert sorted(available) == sorted(SYMBOLS)
    with pytest.raises(DataError, match="NOPE"):
        load_reference(VENUE, ["NOPE"], "1h", None, None, data_dir=data_dir, source=market_pg_url)
    assert isinstance(open_source(market_pg_url, data_dir=data_dir), WarmStore)

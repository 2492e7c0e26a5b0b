"""Reading the warm tier by URL: the catalog's frames, bit for bit, and its errors."""

from __future__ import annotations

import pickle

import polars as pl
import pytest
from warm_factories import MINUTE_NS, START_NS, bits, fill

from algotrade.core.errors import DataError
from algotrade.data.catalog import Catalog, SeriesKey
from algotrade.data.warm import WarmStore

pytestmark = pytest.mark.postgres

KEYS = [
    SeriesKey("hyperliquid", "ETH", "1m"),
    SeriesKey("hyperliquid", "BTC", "1m"),
    SeriesKey("hyperliquid", "BTC", "1h"),
    SeriesKey("bybit", "BTC/USDT:USDT", "1m"),
]


@pytest.fixture
def synced(warm_url: str, catalog: Catalog) -> WarmStore:
    for index, key in enumerate(KEYS):
        fill(catalog, key, 120 + index, seed=index)
    store = WarmStore(warm_url)
    store.sync_from(catalog)
    return store


@pytest.mark.parametrize(
    ("venue", "symbols", "interval", "start", "end"),
    [
        ("hyperliquid", ["ETH", "BTC"], "1m", None, None),
        ("hyperliquid", ["BTC"], "1h", None, None),
        ("hyperliquid", ["BTC", "ETH"], "1m", START_NS + 5 * MINUTE_NS, START_NS + 77 * MINUTE_NS),
        ("hyperliquid", ["ETH"], "1m", START_NS + 100 * MINUTE_NS, None),
        ("hyperliquid", ["BTC"], "1m", None, START_NS + 3 * MINUTE_NS + 1),
        ("bybit", ["BTC/USDT:USDT"], "1m", None, None),
    ],
)
def test_scan_and_load_equal_the_catalogs(
    synced: WarmStore,
    catalog: Catalog,
    venue: str,
    symbols: list[str],
    interval: str,
    start: int | None,
    end: int | None,
) -> None:
    warm = synced.scan(venue, symbols, interval, start, end).collect()
    cold = catalog.scan(venue, symbols, interval, start, end).collect()
    assert warm.schema == cold.schema
    assert warm.height > 0
    assert bits(warm) == bits(cold)
    warm_bars = synced.load(venue, symbols, interval, start, end)
    cold_bars = catalog.load(venue, symbols, interval, start, end)
    assert warm_bars.symbols == cold_bars.symbols
    assert bits(warm_bars.frame) == bits(cold_bars.frame)


def test_unknown_series_scan_empty_with_the_catalog_schema(synced: WarmStore) -> None:
    frame = synced.scan("hyperliquid", ["DOGE"], "1m").collect()
    assert frame.height == 0
    assert frame.schema == pl.Schema(
        {
            "symbol": pl.String,
            "ts": pl.Int64,
            **dict.fromkeys(("open", "high", "low", "close", "volume"), pl.Float64),
        }
    )


def test_load_names_the_symbols_it_lacks(synced: WarmStore) -> None:
    with pytest.raises(DataError, match=r"no 1m bars of hyperliquid:DOGE in the requested range"):
        synced.load("hyperliquid", ["BTC", "DOGE"], "1m")
    with pytest.raises(DataError, match=r"hyperliquid:BTC"):
        synced.load("hyperliquid", ["BTC"], "1m", START_NS - 10 * MINUTE_NS, START_NS)


def test_a_database_never_synced_reads_as_empty(warm_url: str) -> None:
    store = WarmStore(warm_url)
    assert store.scan("hyperliquid", ["BTC"], "1m").collect().height == 0
    assert store.series() == []
    with pytest.raises(DataError, match="hyperliquid:BTC"):
        store.load("hyperliquid", ["BTC"], "1m")


def test_series_lists_what_is_stored(synced: WarmStore) -> None:
    listed = {(s.key, s.rows, s.first_ns) for s in synced.series()}
    assert listed == {(key, 120 + index, START_NS) for index, key in enumerate(KEYS)}
    assert [s.key.venue for s in synced.series("bybit")] == ["bybit"]


def test_a_store_pickles_as_its_url(synced: WarmStore) -> None:
    """What a worker process receives: no connection, the same reads."""
    copy = pickle.loads(pickle.dumps(synced))
    assert bits(copy.scan("hyperliquid", ["BTC"], "1h").collect()) == bits(
        synced.scan("hyperliquid", ["BTC"], "1h").collect()
    )

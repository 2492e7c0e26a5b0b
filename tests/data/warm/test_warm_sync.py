"""``WarmStore.sync_from``: catalog bars into PostgreSQL exactly, idempotently, per series
all-or-nothing."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import psycopg
import pytest
from warm_factories import MINUTE_NS, START_NS, bars, bits, fill

from algotrade.core.errors import InputError, RetryableError
from algotrade.data.catalog import Catalog, SeriesKey
from algotrade.data.warm import WarmStore
from algotrade.data.warm import sync as warm_sync
from algotrade.data.warm.copy_binary import encode

pytestmark = pytest.mark.postgres

BTC = SeriesKey("hyperliquid", "BTC", "1m")
ETH = SeriesKey("hyperliquid", "ETH", "1m")
SOL_1H = SeriesKey("hyperliquid", "SOL", "1h")
SWAP = SeriesKey("bybit", "BTC/USDT:USDT", "1m")


def _table(url: str) -> pl.DataFrame:
    """All of market_bars, read with plain SQL (not through the code under test), floats as
    their exact bits."""
    from testkit.postgres import conninfo

    with psycopg.connect(conninfo(url)) as connection:
        rows = connection.execute(
            'SELECT venue, symbol, "interval", ts_ns, float8send(open), float8send(high), '
            "float8send(low), float8send(close), float8send(volume) FROM market_bars "
            'ORDER BY venue, symbol, "interval", ts_ns'
        ).fetchall()
    names = ["venue", "symbol", "interval", "ts", "open", "high", "low", "close", "volume"]
    return pl.DataFrame(rows, schema=names, orient="row")


def _expected(catalog: Catalog, *keys: SeriesKey) -> pl.DataFrame:
    """The same shape from the catalog: Python's own float bytes (big-endian)."""
    import struct

    rows = []
    for key in sorted(keys, key=lambda k: (k.venue, k.symbol, k.interval)):
        frame = catalog.scan(key.venue, [key.symbol], key.interval).collect()
        for ts, *values in frame.drop("symbol").iter_rows():
            packed = [struct.pack(">d", value) for value in values]
            rows.append((key.venue, key.symbol, key.interval, ts, *packed))
    names = ["venue", "symbol", "interval", "ts", "open", "high", "low", "close", "volume"]
    return pl.DataFrame(rows, schema=names, orient="row")


def test_sync_round_trips_every_bit(warm_url: str, catalog: Catalog) -> None:
    for key, n, seed in ((BTC, 300, 1), (ETH, 200, 2), (SOL_1H, 50, 3), (SWAP, 120, 4)):
        fill(catalog, key, n, seed=seed)
    result = WarmStore(warm_url).sync_from(catalog)
    assert (result.rows_copied, result.rows_new, result.rows_updated) == (670, 670, 0)
    assert [s.key for s in result.series] == [SWAP, BTC, ETH, SOL_1H]
    assert _table(warm_url).equals(_expected(catalog, BTC, ETH, SOL_1H, SWAP))


def test_resync_adds_nothing_and_rewrites_nothing(warm_url: str, catalog: Catalog) -> None:
    fill(catalog, BTC, 100)
    store = WarmStore(warm_url)
    store.sync_from(catalog)
    before = _table(warm_url)
    again = store.sync_from(catalog)
    assert (again.rows_copied, again.rows_new, again.rows_updated) == (100, 0, 0)
    assert _table(warm_url).equals(before)


def test_new_catalog_bars_are_appended(warm_url: str, catalog: Catalog) -> None:
    first = bars(500)
    catalog.append(BTC, first.head(300))
    store = WarmStore(warm_url)
    assert store.sync_from(catalog).rows_new == 300
    catalog.append(BTC, first.tail(200))
    result = store.sync_from(catalog, venue="hyperliquid", symbols=["BTC"], interval="1m")
    assert (result.rows_copied, result.rows_new) == (500, 200)
    assert _table(warm_url).equals(_expected(catalog, BTC))
    (series,) = store.series()
    assert (series.first_ns, series.last_ns, series.rows) == (
        START_NS,
        START_NS + 499 * MINUTE_NS,
        500,
    )


def test_a_gap_filled_later_is_inserted_inside_the_stored_range(
    warm_url: str, catalog: Catalog
) -> None:
    frame = bars(100)
    catalog.append(BTC, pl.concat([frame.head(50), frame.tail(40)]))
    store = WarmStore(warm_url)
    assert store.sync_from(catalog).rows_new == 90
    catalog.append(BTC, frame.slice(50, 10))
    result = store.sync_from(catalog)
    assert (result.rows_copied, result.rows_new, result.rows_updated) == (100, 10, 0)
    assert _table(warm_url).equals(_expected(catalog, BTC))


def test_partial_range_then_the_rest(warm_url: str, catalog: Catalog) -> None:
    fill(catalog, BTC, 100)
    fill(catalog, ETH, 100)
    store = WarmStore(warm_url)
    start, end = START_NS + 10 * MINUTE_NS, START_NS + 25 * MINUTE_NS
    result = store.sync_from(catalog, symbols=["ETH"], start_ns=start, end_ns=end)
    assert [(s.key, s.rows_new) for s in result.series] == [(ETH, 15)]
    stored = _table(warm_url)
    assert stored["ts"].to_list() == list(range(start, end, MINUTE_NS))
    assert stored.equals(_expected(catalog, ETH).filter(pl.col("ts").is_between(start, end - 1)))
    rest = store.sync_from(catalog)
    assert (rest.rows_copied, rest.rows_new) == (200, 185)
    assert _table(warm_url).equals(_expected(catalog, BTC, ETH))


def test_changed_values_are_overwritten_from_the_catalog(warm_url: str, catalog: Catalog) -> None:
    fill(catalog, BTC, 50)
    store = WarmStore(warm_url)
    store.sync_from(catalog)
    from testkit.postgres import conninfo

    with psycopg.connect(conninfo(warm_url), autocommit=True) as connection:
        connection.execute("UPDATE market_bars SET close = close * 2 WHERE ts_ns = %s", (START_NS,))
        # The catalog's 5th bar has volume 0.0; -0.0 compares equal in SQL but not in bits.
        connection.execute(
            "UPDATE market_bars SET volume = '-0'::float8 WHERE ts_ns = %s",
            (START_NS + 4 * MINUTE_NS,),
        )
    result = store.sync_from(catalog)
    assert (result.rows_new, result.rows_updated) == (0, 2)
    assert _table(warm_url).equals(_expected(catalog, BTC))


def test_nanosecond_timestamps_round_trip(warm_url: str) -> None:
    """The catalog aligns bars to their interval; the table itself keeps any nanosecond."""
    store = WarmStore(warm_url)
    store.ensure_schema()
    frame = bars(5).with_columns(
        pl.Series("ts", [-(2**62), 1, 1_700_000_000_123_456_789, 2**62 + 7, 2**63 - 2])
    )
    key = SeriesKey("v", "S", "1s")
    with store.connect() as connection:
        assert warm_sync.sync_series(connection, key, frame).rows_new == 5
    back = store.scan("v", ["S"], "1s").collect()
    assert bits(back.drop("symbol")) == bits(frame)


def _failing_after_first_block(frame: pl.DataFrame) -> Iterator[bytes]:
    blocks = encode(frame, chunk_rows=10)
    yield next(blocks)
    yield next(blocks)
    raise RuntimeError("disk on fire")


def test_a_failure_mid_copy_leaves_the_series_as_it_was(
    warm_url: str, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(catalog, BTC, 100)
    first_eth = bars(100, seed=9)
    catalog.append(ETH, first_eth.head(40))
    store = WarmStore(warm_url)
    store.sync_from(catalog)
    catalog.append(ETH, first_eth.tail(60))
    fill(catalog, SOL_1H, 30)
    before = _table(warm_url)

    real_encode = warm_sync.encode

    def encode_failing_on_eth(frame: pl.DataFrame) -> Iterator[bytes]:
        # ETH is the second series of this sync: BTC before it is committed, then ETH fails.
        if frame.height == 100 and bits(frame) == bits(first_eth):
            return _failing_after_first_block(frame)
        return real_encode(frame)

    monkeypatch.setattr(warm_sync, "encode", encode_failing_on_eth)
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.sync_from(catalog)
    assert _table(warm_url).equals(before)  # BTC rewrote nothing; ETH's 60 new bars are absent
    assert {(s.key.symbol, s.rows) for s in store.series()} == {("BTC", 100), ("ETH", 40)}
    monkeypatch.setattr(warm_sync, "encode", real_encode)
    result = store.sync_from(catalog)
    assert (result.rows_new, result.rows_updated) == (90, 0)
    assert _table(warm_url).equals(_expected(catalog, BTC, ETH, SOL_1H))


def test_a_connection_killed_mid_copy_rolls_the_series_back(
    warm_url: str, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(catalog, BTC, 100)
    fill(catalog, ETH, 100)
    store = WarmStore(warm_url)
    from testkit.postgres import conninfo

    def encode_then_kill(frame: pl.DataFrame) -> Iterator[bytes]:
        blocks = encode(frame, chunk_rows=10)
        yield next(blocks)
        yield next(blocks)
        if frame.height == 100 and frame["ts"][0] == START_NS:
            with psycopg.connect(conninfo(warm_url), autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'algotrade-warm' AND datname = current_database()"
                )
        yield from blocks

    monkeypatch.setattr(warm_sync, "encode", encode_then_kill)
    with pytest.raises(RetryableError) as caught:
        store.sync_from(catalog)
    message = str(caught.value)
    assert message.startswith("--to ")
    assert "copying hyperliquid:BTC:1m failed and was rolled back (0 series before it" in message
    assert "\n" not in message
    assert _table(warm_url).height == 0
    assert store.series() == []


def test_an_unknown_symbol_copies_nothing(warm_url: str, catalog: Catalog) -> None:
    fill(catalog, BTC, 10)
    store = WarmStore(warm_url)
    with pytest.raises(InputError, match=r"^--symbols: .* has no hyperliquid series of DOGE;"):
        store.sync_from(catalog, venue="hyperliquid", symbols=["BTC", "DOGE"])
    assert store.series() == []


def test_nothing_matching_is_an_input_error(warm_url: str, catalog: Catalog) -> None:
    fill(catalog, BTC, 10)
    with pytest.raises(InputError, match=r"^--venue/--interval: .* no series at 5m"):
        WarmStore(warm_url).sync_from(catalog, interval="5m")

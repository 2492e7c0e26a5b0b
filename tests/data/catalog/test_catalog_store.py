"""Catalog appends, scans, coverage and compaction, checked against a plain model of the
stored bars (a dict from open time to values, first write wins)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from algotrade.core.errors import DataError, InputError
from algotrade.data.catalog import Catalog, SeriesKey, parse_refs
from algotrade.data.catalog.coverage import coverage_of
from algotrade.data.catalog.layout import series_dir

HOUR = 3_600_000_000_000
T0 = int(datetime(2024, 1, 31, 18, tzinfo=UTC).timestamp()) * 1_000_000_000  # spans a month end
KEY = SeriesKey("hyperliquid", "BTC", "1h")


def bars(indexes: list[int], shift: float = 0.0) -> pl.DataFrame:
    price = [100.0 + i + shift for i in indexes]
    return pl.DataFrame(
        {
            "ts": [T0 + i * HOUR for i in indexes],
            "open": price,
            "high": [p + 1 for p in price],
            "low": [p - 1 for p in price],
            "close": price,
            "volume": [float(i) for i in indexes],
        }
    )


def stored(catalog: Catalog, key: SeriesKey = KEY) -> pl.DataFrame:
    return catalog.scan(key.venue, [key.symbol], key.interval).collect()


def test_append_is_idempotent_and_counts_what_it_skips(tmp_path: Path) -> None:
    catalog = Catalog.for_data_dir(tmp_path)
    first = catalog.append(KEY, bars(list(range(10))))
    assert (first.added, first.skipped, first.conflicts) == (10, 0, 0)
    again = catalog.append(KEY, bars(list(range(10))))
    assert (again.added, again.skipped, again.conflicts) == (0, 10, 0)
    overlap = catalog.append(KEY, bars(list(range(5, 15)), shift=0.5))
    assert (overlap.added, overlap.skipped, overlap.conflicts) == (5, 0, 5)
    frame = stored(catalog)
    assert frame["ts"].to_list() == [T0 + i * HOUR for i in range(15)]
    # The first source to deliver a bar wins; later different values are only counted.
    assert frame["open"].to_list()[:10] == [100.0 + i for i in range(10)]
    assert frame["open"].to_list()[10:] == [100.5 + i for i in range(10, 15)]


def test_partitions_by_month_and_scans_a_range_across_them(tmp_path: Path) -> None:
    catalog = Catalog.for_data_dir(tmp_path)
    catalog.append(KEY, bars(list(range(12))))  # 18:00 on Jan 31 .. 05:00 on Feb 1
    periods = sorted(p.name for p in series_dir(catalog.root, KEY).glob("period=*"))
    assert periods == ["period=2024-01", "period=2024-02"]
    frame = catalog.scan("hyperliquid", ["BTC"], "1h", T0 + 3 * HOUR, T0 + 8 * HOUR).collect()
    assert frame["ts"].to_list() == [T0 + i * HOUR for i in range(3, 8)]
    assert frame["symbol"].unique().to_list() == ["BTC"]


def test_daily_series_are_partitioned_by_year(tmp_path: Path) -> None:
    catalog = Catalog.for_data_dir(tmp_path)
    key = SeriesKey("bybit", "BTCUSDT", "1d")
    day = 86_400_000_000_000
    start = int(datetime(2023, 12, 30, tzinfo=UTC).timestamp()) * 1_000_000_000
    frame = bars(list(range(4))).with_columns(ts=pl.Series([start + i * day for i in range(4)]))
    catalog.append(key, frame)
    assert sorted(p.name for p in series_dir(catalog.root, key).glob("period=*")) == [
        "period=2023",
        "period=2024",
    ]


def test_coverage_reports_gaps_and_rows(tmp_path: Path) -> None:
    catalog = Catalog.for_data_dir(tmp_path)
    catalog.append(KEY, bars([0, 1, 2, 6, 7, 10]))
    coverage = catalog.coverage(KEY)
    assert coverage is not None
    assert (coverage.first_ns, coverage.last_ns, coverage.rows) == (T0, T0 + 10 * HOUR, 6)
    assert coverage.gaps == ((T0 + 3 * HOUR, T0 + 6 * HOUR), (T0 + 8 * HOUR, T0 + 10 * HOUR))
    assert coverage.missing_bars == 5
    catalog.append(KEY, bars([4, 9]))  # one inside each gap
    coverage = catalog.coverage(KEY)
    assert coverage is not None
    assert coverage.gaps == (
        (T0 + 3 * HOUR, T0 + 4 * HOUR),
        (T0 + 5 * HOUR, T0 + 6 * HOUR),
        (T0 + 8 * HOUR, T0 + 9 * HOUR),
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(
        st.tuples(st.lists(st.integers(0, 80), min_size=1, max_size=25), st.booleans()),
        min_size=1,
        max_size=6,
    ),
    compact_after=st.integers(0, 6),
)
def test_any_sequence_of_appends_matches_the_model(
    tmp_path_factory: pytest.TempPathFactory,
    batches: list[tuple[list[int], bool]],
    compact_after: int,
) -> None:
    catalog = Catalog.for_data_dir(tmp_path_factory.mktemp("catalog"))
    model: dict[int, float] = {}
    for number, (indexes, shifted) in enumerate(batches):
        unique = sorted(set(indexes))
        shift = 0.25 if shifted else 0.0
        result = catalog.append(KEY, bars(unique, shift))
        new = [i for i in unique if i not in model]
        assert result.added == len(new)
        assert result.added + result.skipped + result.conflicts == len(unique)
        for i in new:
            model[i] = 100.0 + i + shift
        if number == compact_after:
            catalog.compact()
    frame = stored(catalog)
    assert frame["ts"].to_list() == [T0 + i * HOUR for i in sorted(model)]
    assert frame["open"].to_list() == [model[i] for i in sorted(model)]
    coverage = catalog.coverage(KEY)
    assert coverage is not None
    expected = coverage_of(KEY, np.array([T0 + i * HOUR for i in sorted(model)]), ())
    assert (coverage.first_ns, coverage.last_ns, coverage.rows, coverage.gaps) == (
        expected.first_ns,
        expected.last_ns,
        expected.rows,
        expected.gaps,
    )


def test_compact_merges_files_without_changing_the_bars(tmp_path: Path) -> None:
    catalog = Catalog.for_data_dir(tmp_path)
    for start in range(0, 30, 5):
        catalog.append(KEY, bars(list(range(start, start + 5))))
    before = stored(catalog)
    merged = catalog.compact(KEY)
    assert merged > 0
    files = sorted(p.name for p in series_dir(catalog.root, KEY).rglob("*.parquet"))
    assert files == ["data.parquet", "data.parquet"]
    assert stored(catalog).equals(before)
    assert catalog.compact(KEY) == 0


def test_a_crash_inside_compact_duplicates_nothing(tmp_path: Path) -> None:
    """Compaction renames the merged file in, then removes the deltas: a crash between the
    two leaves bars in both, and readers still see each bar once, with its first values."""
    catalog = Catalog.for_data_dir(tmp_path)
    catalog.append(KEY, bars([0, 1, 2]))
    period = series_dir(catalog.root, KEY) / "period=2024-01"
    delta = period / "delta-000001.parquet"
    kept = delta.read_bytes()
    catalog.compact(KEY)
    delta.write_bytes(kept)  # as if the crash came before the delta was removed
    assert stored(catalog)["ts"].to_list() == [T0, T0 + HOUR, T0 + 2 * HOUR]
    coverage = catalog.coverage(KEY)  # the manifest no longer lists the files: rebuilt
    assert coverage is not None
    assert coverage.rows == 3
    assert catalog.append(KEY, bars([1, 2, 3])).added == 1


def test_a_manifest_that_misses_a_file_is_rebuilt(tmp_path: Path) -> None:
    catalog = Catalog.for_data_dir(tmp_path)
    catalog.append(KEY, bars([0, 1]))
    manifest = series_dir(catalog.root, KEY) / "coverage.json"
    old = manifest.read_text()
    catalog.append(KEY, bars([2, 3]))
    manifest.write_text(old)  # as if the process died after the file, before the manifest
    coverage = catalog.coverage(KEY)
    assert coverage is not None
    assert (coverage.rows, coverage.last_ns) == (4, T0 + 3 * HOUR)
    assert catalog.append(KEY, bars([3])).added == 0


def test_concurrent_appends_from_threads_store_each_bar_once(tmp_path: Path) -> None:
    catalog = Catalog.for_data_dir(tmp_path)
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for start in range(0, 40, 4):
                catalog.append(KEY, bars(list(range(start + offset, start + offset + 6))))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    frame = stored(catalog)
    assert frame["ts"].is_unique().all()
    expected = {s + k + i for s in range(0, 40, 4) for k in range(3) for i in range(6)}
    assert frame["ts"].to_list() == [T0 + i * HOUR for i in sorted(expected)]


def test_load_returns_bar_data_of_several_symbols(tmp_path: Path) -> None:
    catalog = Catalog.for_data_dir(tmp_path)
    catalog.append(KEY, bars([0, 1, 2]))
    catalog.append(SeriesKey("hyperliquid", "ETH", "1h"), bars([1, 2]))
    data = catalog.load("hyperliquid", ["BTC", "ETH"], "1h")
    assert sorted(data.symbols) == ["BTC", "ETH"]
    assert len(data) == 5
    assert data.frame["ts"].is_sorted()
    with pytest.raises(DataError, match=r"no 1h bars of hyperliquid:SOL"):
        catalog.load("hyperliquid", ["BTC", "SOL"], "1h")


def test_series_lists_what_is_stored(tmp_path: Path) -> None:
    catalog = Catalog.for_data_dir(tmp_path)
    odd = SeriesKey("bybit", "BTC/USDT:USDT", "1m")
    catalog.append(KEY, bars([0]))
    catalog.append(odd, bars([0]).with_columns(ts=pl.lit(T0)))
    assert [c.key for c in catalog.series()] == [odd, KEY]
    assert [c.key for c in catalog.series("hyperliquid")] == [KEY]
    assert catalog.coverage(SeriesKey("hyperliquid", "NOPE", "1h")) is None


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (bars([0]).drop("volume"), "missing column"),
        (bars([0]).with_columns(ts=pl.lit(T0 + 1)), "not a multiple of the interval 1h"),
        (bars([0]).with_columns(high=pl.lit(1.0)), "column 'high'"),
        (bars([0]).with_columns(close=pl.lit(float("nan"))), "column 'close'"),
        (pl.concat([bars([0]), bars([0], shift=1.0)]), "two different bars open"),
    ],
)
def test_bad_bars_are_refused_whole(tmp_path: Path, frame: pl.DataFrame, message: str) -> None:
    catalog = Catalog.for_data_dir(tmp_path)
    with pytest.raises(DataError, match=message):
        catalog.append(KEY, frame)
    assert not series_dir(catalog.root, KEY).exists() or not list(
        series_dir(catalog.root, KEY).rglob("*.parquet")
    )


def test_keys_and_refs_are_validated() -> None:
    with pytest.raises(InputError, match="interval"):
        SeriesKey("hyperliquid", "BTC", "1hour")
    with pytest.raises(InputError, match="symbol"):
        SeriesKey("hyperliquid", " BTC", "1h")
    assert parse_refs("hyperliquid:BTC,ETH,BTC") == ("hyperliquid", ["BTC", "ETH"])
    assert parse_refs("bybit:BTC/USDT:USDT") == ("bybit", ["BTC/USDT:USDT"])
    for bad in ("BTC", "hyperliquid:", ":BTC", "hyperliquid:BTC,,ETH"):
        with pytest.raises(InputError, match="--symbols"):
            parse_refs(bad)

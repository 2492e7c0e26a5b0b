"""BarData: validation in from_frame, accessors, and chunked conversion to Bar tuples."""

from __future__ import annotations

import collections
import math
import tracemalloc

import polars as pl
import pytest

from algotrade.core.errors import DataError
from algotrade.core.events import Bar
from algotrade.data.bars import BAR_COLUMNS, BarData, find_value_problem, format_ns
from algotrade.data.synthetic import generate_bars

DAY_NS = 86_400_000_000_000
T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z

Row = tuple[str, int, float, float, float, float, float]


def _frame(rows: list[Row]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=list(BAR_COLUMNS), orient="row")


def _rows(n: int, symbol: str = "AAA", start: int = T0) -> list[Row]:
    return [
        (symbol, start + i * DAY_NS, 10.0 + i, 11.0 + i, 9.0 + i, 10.5 + i, 100.0 + i)
        for i in range(n)
    ]


def test_from_frame_normalises_types_and_keeps_columns_in_order() -> None:
    df = (
        _frame(_rows(3))
        .with_columns(pl.col("open").cast(pl.Float32))
        .select("close", "volume", "symbol", "ts", "open", "high", "low")
    )

    data = BarData.from_frame(df, "test")

    assert data.frame.columns == list(BAR_COLUMNS)
    assert data.frame.schema["ts"] == pl.Int64
    assert data.frame.schema["open"] == pl.Float64
    assert len(data) == 3
    assert data.start_ns == T0
    assert data.end_ns == T0 + 2 * DAY_NS


def test_from_frame_accepts_datetime_ts_as_utc() -> None:
    aware = pl.Series("ts", [T0], pl.Int64).cast(pl.Datetime("ns", "UTC"))
    paris = aware.dt.convert_time_zone("Europe/Paris")
    naive = pl.Series("ts", [T0 // 1000], pl.Int64).cast(pl.Datetime("us"))
    for ts in (aware, paris, naive):
        df = _frame(_rows(1)).with_columns(ts)
        assert BarData.from_frame(df, "test").start_ns == T0


def test_from_frame_sorts_stably_and_lists_symbols_by_first_appearance() -> None:
    rows = [
        ("BBB", T0 + DAY_NS, 1.0, 1.0, 1.0, 1.0, 1.0),
        ("CCC", T0, 2.0, 2.0, 2.0, 2.0, 2.0),
        ("AAA", T0, 3.0, 3.0, 3.0, 3.0, 3.0),
    ]

    data = BarData.from_frame(_frame(rows), "test")

    assert data.frame["symbol"].to_list() == ["CCC", "AAA", "BBB"]  # ties keep given order
    assert data.symbols == ["CCC", "AAA", "BBB"]


def test_from_frame_names_missing_columns() -> None:
    with pytest.raises(DataError, match=r"test: missing column\(s\) 'close', 'volume'"):
        BarData.from_frame(_frame(_rows(2)).drop("close", "volume"), "test")


def test_from_frame_rejects_empty_frame() -> None:
    with pytest.raises(DataError, match="test: no bars"):
        BarData.from_frame(_frame(_rows(2)).clear(), "test")


def test_from_frame_rejects_null() -> None:
    df = _frame(_rows(3)).with_columns(
        pl.when(pl.int_range(3) == 1).then(None).otherwise(pl.col("low")).alias("low")
    )
    with pytest.raises(DataError, match=r"test row 1 \(0-based\), column 'low': empty value"):
        BarData.from_frame(df, "test")


def test_from_frame_rejects_duplicate_timestamp_of_one_symbol() -> None:
    rows = [*_rows(2, "AAA"), *_rows(1, "BBB"), _rows(1, "AAA")[0]]
    with pytest.raises(DataError, match="symbol 'AAA' has more than one bar at 2024-01-01"):
        BarData.from_frame(_frame(rows), "test")


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("close", math.nan, "nan is not a finite number"),
        ("volume", math.inf, "inf is not a finite number"),
        ("open", -1.0, "-1.0 is not a positive price"),
        ("low", 0.0, "0.0 is not a positive price"),
        ("volume", -5.0, "-5.0 is a negative volume"),
        ("high", 10.0, "high 10.0 is below max(open, close) = 10.5"),
        ("low", 10.25, "low 10.25 is above min(open, close) = 10.0"),
    ],
)
def test_from_frame_reports_first_unusable_value(column: str, value: float, message: str) -> None:
    good = {"open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5, "volume": 100.0}
    bad = good | {column: value}
    rows = [("AAA", T0 + i * DAY_NS, *(bad if i == 2 else good).values()) for i in range(4)]

    with pytest.raises(DataError) as caught:
        BarData.from_frame(_frame(rows), "test")  # type: ignore[arg-type]

    assert str(caught.value) == f"test row 2 (0-based), column '{column}': {message}"


def test_value_check_tolerates_float_noise_but_not_more() -> None:
    noisy = _frame([("AAA", T0, 10.0, 10.5 * (1 - 1e-12), 9.0, 10.5, 1.0)])
    wrong = _frame([("AAA", T0, 10.0, 10.5 * (1 - 1e-6), 9.0, 10.5, 1.0)])

    assert find_value_problem(noisy) is None
    problem = find_value_problem(wrong)
    assert problem is not None
    assert (problem.row, problem.column) == (0, "high")


def test_value_problem_reports_earliest_row_then_first_check() -> None:
    rows = _rows(5)
    rows[3] = ("AAA", rows[3][1], -1.0, 1.0, 1.0, 1.0, 1.0)
    rows[1] = ("AAA", rows[1][1], 10.0, 10.0, 10.0, 10.0, -1.0)

    problem = find_value_problem(_frame(rows))

    assert problem is not None
    assert (problem.row, problem.column) == (1, "volume")


def test_for_symbol_filters_and_rejects_unknown_symbol() -> None:
    data = BarData.from_frame(_frame([*_rows(3, "AAA"), *_rows(2, "BBB")]), "test")

    only_b = data.for_symbol("BBB")

    assert only_b.symbols == ["BBB"]
    assert len(only_b) == 2
    with pytest.raises(DataError, match="no bars for symbol 'ZZZ'; symbols: AAA, BBB"):
        data.for_symbol("ZZZ")


@pytest.mark.parametrize("chunk_size", [1, 3, 10, 65_536])
def test_iter_chunks_yields_every_bar_in_order_with_python_types(chunk_size: int) -> None:
    rows = _rows(10)
    data = BarData.from_frame(_frame(rows), "test")

    chunks = [list(chunk) for chunk in data.iter_chunks(chunk_size)]

    assert len(chunks) == math.ceil(10 / chunk_size)
    bars = [bar for chunk in chunks for bar in chunk]
    assert bars == [Bar(*row) for row in rows]
    for bar in bars:
        assert type(bar) is Bar
        assert type(bar.symbol) is str
        assert type(bar.ts) is int
        assert all(type(value) is float for value in bar[2:])


def test_iter_chunks_with_several_symbols_keeps_time_order() -> None:
    rows = [*_rows(3, "AAA"), *_rows(3, "BBB", start=T0 + DAY_NS // 2)]
    data = BarData.from_frame(_frame(rows), "test")

    bars = [bar for chunk in data.iter_chunks(2) for bar in chunk]

    assert [bar.symbol for bar in bars] == ["AAA", "BBB", "AAA", "BBB", "AAA", "BBB"]
    assert [bar.ts for bar in bars] == sorted(bar.ts for bar in bars)


def test_iter_chunks_is_lazy() -> None:
    data = BarData.from_frame(_frame(_rows(10)), "test")

    chunks = data.iter_chunks(4)
    first = next(chunks)

    assert len(list(first)) == 4
    assert sum(1 for chunk in chunks for _ in chunk) == 6


def test_iter_chunks_rejects_non_positive_size() -> None:
    data = BarData.from_frame(_frame(_rows(1)), "test")
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        next(data.iter_chunks(0))


def test_iterating_bardata_yields_bars() -> None:
    rows = _rows(5)
    assert list(BarData.from_frame(_frame(rows), "test")) == [Bar(*row) for row in rows]


def test_format_ns() -> None:
    assert format_ns(T0) == "2024-01-01T00:00:00Z"
    assert format_ns(T0 + 1_500_000_000) == "2024-01-01T00:00:01.5Z"
    assert format_ns(T0 + 1) == "2024-01-01T00:00:00.000000001Z"
    assert format_ns(-1_000_000_000) == "1969-12-31T23:59:59Z"


def test_streaming_keeps_python_memory_bounded() -> None:
    data = generate_bars(300_000)
    tracemalloc.start()
    try:
        for chunk in data.iter_chunks():
            collections.deque(chunk, maxlen=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # All 300k rows as Python lists would take ~60 MB; one chunk takes a few MB.
    assert peak < 15_000_000

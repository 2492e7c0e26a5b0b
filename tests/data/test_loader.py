"""load_bars / save_bars: formats, symbols, timestamps, merging and every error message."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from algotrade.core.errors import DataError, InputError
from algotrade.core.events import Bar
from algotrade.data.bars import BarData
from algotrade.data.loader import load_bars, save_bars, symbol_from_path
from algotrade.data.synthetic import generate_bars

HEADER = "timestamp,open,high,low,close,volume"
ROWS = [
    "2024-01-02T00:00:00Z,10,11,9,10.5,100",
    "2024-01-03T00:00:00Z,10.5,12,10,11,200",
    "2024-01-04T00:00:00Z,11,11.5,10.5,11.25,150",
]
JAN_2 = 1_704_153_600_000_000_000  # 2024-01-02T00:00:00Z
DAY_NS = 86_400_000_000_000


def _write(folder: Path, name: str, lines: list[str]) -> Path:
    path = folder / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _csv(folder: Path, name: str = "ORCL-1d.csv", rows: list[str] = ROWS) -> Path:
    return _write(folder, name, [HEADER, *rows])


def _load_error(*sources: str | Path) -> str:
    with pytest.raises(DataError) as caught:
        load_bars(sources)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- reading -------------------------------------------------------------------------------


def test_loads_csv_with_types_symbol_and_ns_timestamps(tmp_path: Path) -> None:
    data = load_bars([_csv(tmp_path)])

    assert data.symbols == ["ORCL"]
    assert list(data) == [
        Bar("ORCL", JAN_2, 10.0, 11.0, 9.0, 10.5, 100.0),
        Bar("ORCL", JAN_2 + DAY_NS, 10.5, 12.0, 10.0, 11.0, 200.0),
        Bar("ORCL", JAN_2 + 2 * DAY_NS, 11.0, 11.5, 10.5, 11.25, 150.0),
    ]


def test_header_is_case_insensitive_in_any_order_and_extra_columns_are_ignored(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path,
        "X.csv",
        [
            "Volume,Close,Note,LOW,High,Open,TimeStamp",
            "100,10.5,first,9,11,10,2024-01-02T00:00:00Z",
        ],
    )
    assert list(load_bars([path])) == [Bar("X", JAN_2, 10.0, 11.0, 9.0, 10.5, 100.0)]


def test_reads_gzipped_csv(tmp_path: Path) -> None:
    plain = _csv(tmp_path)
    gzipped = tmp_path / "ORCL-1d.csv.gz"
    pl.read_csv(plain).write_csv(gzipped, compression="gzip")

    assert load_bars([gzipped]).frame.equals(load_bars([plain]).frame)


def test_reads_parquet_with_datetime_timestamps(tmp_path: Path) -> None:
    frame = pl.read_csv(_csv(tmp_path)).with_columns(
        pl.col("timestamp").str.to_datetime(time_zone="UTC")
    )
    path = tmp_path / "ORCL-1d.pq"
    frame.rename({"close": "CLOSE"}).write_parquet(path)

    assert load_bars([path]).frame.equals(load_bars([_csv(tmp_path)]).frame)


def test_skips_blank_lines_and_surrounding_spaces(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "X.csv", [HEADER, ROWS[0], "", " 2024-01-03T00:00:00Z , 10.5,12,10,11,200", ""]
    )
    assert len(load_bars([path])) == 2


def test_reads_utf8_bom_header(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join([HEADER, *ROWS]).encode())
    assert len(load_bars([path])) == 3


# --- symbols -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("ORCL-1d.csv", "ORCL"),
        ("BTC_5m.parquet", "BTC"),
        ("INDEX-5m.csv", "INDEX"),
        ("ETH-USD-1h.csv", "ETH-USD"),
        ("EURUSD-15min.csv", "EURUSD"),
        ("SPY-1MO.pq", "SPY"),
        ("AAPL_30s.csv.gz", "AAPL"),
        ("MSFT.csv", "MSFT"),
        ("BRK-B.csv", "BRK-B"),
    ],
)
def test_symbol_from_file_name(name: str, symbol: str) -> None:
    assert symbol_from_path(Path("data") / name) == symbol


def test_symbol_prefix_and_argument_override_file_name(tmp_path: Path) -> None:
    path = _csv(tmp_path)

    assert load_bars([f"OTHER={path}"]).symbols == ["OTHER"]
    assert load_bars([path], symbol="ARG").symbols == ["ARG"]
    assert load_bars([f"PREFIX={path}"], symbol="ARG").symbols == ["PREFIX"]


def test_symbol_column_supplies_symbol_per_row(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "mixed.csv",
        [
            "symbol," + HEADER,
            "AAA,2024-01-02T00:00:00Z,10,11,9,10.5,100",
            "BBB,2024-01-02T00:00:00Z,20,21,19,20.5,100",
            "AAA,2024-01-03T00:00:00Z,10,11,9,10.5,100",
        ],
    )
    data = load_bars([path])

    assert data.symbols == ["AAA", "BBB"]
    assert data.frame["symbol"].to_list() == ["AAA", "BBB", "AAA"]


def test_explicit_symbol_overrides_symbol_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "one.csv", ["symbol," + HEADER, "AAA," + ROWS[0], "AAA," + ROWS[1]])

    assert load_bars([path]).symbols == ["AAA"]
    assert load_bars([f"BBB={path}"]).symbols == ["BBB"]


def test_symbol_column_may_not_be_empty(tmp_path: Path) -> None:
    path = _write(tmp_path, "mixed.csv", ["symbol," + HEADER, "AAA," + ROWS[0], "," + ROWS[1]])
    assert _load_error(path).endswith("mixed.csv line 3, column 'symbol': empty symbol")


def test_existing_file_with_equals_sign_is_a_path(tmp_path: Path) -> None:
    path = _csv(tmp_path, "run=1.csv")
    assert load_bars([str(path)]).symbols == ["run=1"]


# --- timestamps ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stamps",
    [
        ["1704153600000", "1704240000000"],  # epoch milliseconds
        ["1704153600", "1704240000"],  # epoch seconds
        ["1704153600000000", "1704240000000000"],  # epoch microseconds
        ["1704153600000000000", "1704240000000000000"],  # epoch nanoseconds
        ["2024-01-02T02:00:00+02:00", "2024-01-02T19:00:00-05:00"],  # offsets
        ["2024-01-02T00:00:00", "2024-01-03 00:00:00"],  # naive means UTC
        ["2024-01-02", "2024-01-03"],  # date only
        ["2024-01-02T00:00:00.000Z", "2024-01-03T00:00Z"],  # fraction, no seconds
    ],
)
def test_timestamp_layouts_give_identical_ns(tmp_path: Path, stamps: list[str]) -> None:
    rows = [f"{stamp},10,11,9,10.5,100" for stamp in stamps]
    assert load_bars([_csv(tmp_path, rows=rows)]).frame["ts"].to_list() == [
        JAN_2,
        JAN_2 + DAY_NS,
    ]


def test_fractional_seconds_keep_nanoseconds(tmp_path: Path) -> None:
    rows = ["2024-01-02T00:00:00.123456789Z,10,11,9,10.5,100"]
    assert load_bars([_csv(tmp_path, rows=rows)]).start_ns == JAN_2 + 123_456_789


def test_parquet_integer_epoch_milliseconds(tmp_path: Path) -> None:
    path = tmp_path / "X.parquet"
    pl.DataFrame(
        {
            "timestamp": [JAN_2 // 1_000_000],
            "open": [10.0],
            "high": [11.0],
            "low": [9.0],
            "close": [10.5],
            "volume": [1],
        }
    ).write_parquet(path)
    assert load_bars([path]).start_ns == JAN_2


# --- merging -------------------------------------------------------------------------------


def test_merge_orders_by_time_and_ties_follow_source_order(tmp_path: Path) -> None:
    a = _csv(tmp_path, "AAA.csv")
    b = _csv(tmp_path, "BBB.csv", rows=[ROWS[1], ROWS[2]])

    forward = load_bars([a, b]).frame["symbol"].to_list()
    backward = load_bars([b, a]).frame["symbol"].to_list()

    assert forward == ["AAA", "AAA", "BBB", "AAA", "BBB"]
    assert backward == ["AAA", "BBB", "AAA", "BBB", "AAA"]


def test_same_symbol_files_in_any_order_merge_by_time(tmp_path: Path) -> None:
    early = _csv(tmp_path, "ORCL-2024a.csv", rows=ROWS[:1])
    late = _csv(tmp_path, "ORCL-2024b.csv", rows=ROWS[1:])

    data = load_bars([late, early], symbol="ORCL")

    assert data.frame["ts"].to_list() == [JAN_2, JAN_2 + DAY_NS, JAN_2 + 2 * DAY_NS]


def test_same_symbol_files_may_not_overlap(tmp_path: Path) -> None:
    first = _csv(tmp_path, "ORCL-1d.csv", rows=ROWS[:2])
    second = _csv(tmp_path, "ORCL_1h.csv", rows=ROWS[1:])

    message = _load_error(first, second)

    assert str(first) in message
    assert str(second) in message
    assert "both have ORCL bars from 2024-01-03T00:00:00Z to 2024-01-03T00:00:00Z" in message


# --- saving --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["SYN-1m.csv", "SYN-1m.csv.gz", "SYN-1m.parquet", "SYN.pq"])
def test_save_and_load_round_trip_is_exact(tmp_path: Path, name: str) -> None:
    original = generate_bars(500, seed=7)
    save_bars(original, tmp_path / name)

    assert load_bars([tmp_path / name]).frame.equals(original.frame)


def test_csv_and_parquet_round_trips_agree_with_several_symbols(tmp_path: Path) -> None:
    merged = pl.concat(
        [generate_bars(300, symbol="AAA").frame, generate_bars(200, symbol="BBB", seed=1).frame]
    )
    original = BarData.from_frame(merged, "test")
    save_bars(original, tmp_path / "both.csv")
    save_bars(original, tmp_path / "both.parquet")

    from_csv = load_bars([tmp_path / "both.csv"])
    from_parquet = load_bars([tmp_path / "both.parquet"])

    assert from_csv.frame.equals(original.frame)
    assert from_parquet.frame.equals(original.frame)
    assert pl.read_csv(tmp_path / "both.csv").columns[0] == "symbol"


def test_single_symbol_csv_has_plain_layout_and_iso_timestamps(tmp_path: Path) -> None:
    save_bars(load_bars([_csv(tmp_path)]), tmp_path / "out.csv")
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == HEADER
    assert lines[1] == "2024-01-02T00:00:00Z,10.0,11.0,9.0,10.5,100.0"


def test_save_rejects_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"out\.txt: unknown file type"):
        save_bars(generate_bars(3), tmp_path / "out.txt")


def test_save_creates_missing_parent_folders(tmp_path: Path) -> None:
    target = tmp_path / "out" / "nested" / "SYN-1m.csv"
    original = generate_bars(20, seed=3)
    save_bars(original, target)
    assert load_bars([target]).frame.equals(original.frame)
    assert [p.name for p in target.parent.iterdir()] == ["SYN-1m.csv"]  # no temporary left


def test_save_replaces_a_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "SYN-1m.parquet"
    save_bars(generate_bars(50, seed=1), target)
    replacement = generate_bars(10, seed=2)
    save_bars(replacement, target)
    assert load_bars([target]).frame.equals(replacement.frame)


def test_save_under_a_file_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("not a folder\n")
    with pytest.raises(DataError, match=r"plain/x\.csv: cannot write: .*plain is a file, not a"):
        save_bars(generate_bars(3), tmp_path / "plain" / "x.csv")


# --- errors: files -------------------------------------------------------------------------


def test_error_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        load_bars([tmp_path / "absent.csv"])


def test_a_single_path_needs_no_list(tmp_path: Path) -> None:
    assert len(load_bars(str(_csv(tmp_path)))) == 3


def test_no_sources() -> None:
    with pytest.raises(DataError, match="no data files given"):
        load_bars([])


def test_file_not_found_names_file_and_reason(tmp_path: Path) -> None:
    message = _load_error(tmp_path / "absent.csv")
    assert message == f"{tmp_path / 'absent.csv'}: cannot read: No such file or directory"


def test_symbol_prefixed_source_not_found(tmp_path: Path) -> None:
    message = _load_error(f"ORCL={tmp_path / 'absent.csv'}")
    assert "absent.csv: cannot read: No such file or directory" in message


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    assert _load_error(folder) == (
        f"{folder}: is a folder; give a bar file (.csv, .csv.gz, .parquet, .pq) or SYMBOL=file"
    )


def test_unknown_extension_lists_accepted_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, "ORCL.txt", [HEADER, *ROWS])
    assert _load_error(path) == (
        f"{path}: unknown file type; accepted extensions: .csv, .csv.gz, .parquet, .pq"
    )


def test_invalid_parquet(tmp_path: Path) -> None:
    path = tmp_path / "ORCL.parquet"
    path.write_bytes(b"this is not parquet at all")
    assert _load_error(path).startswith(f"{path}: cannot read: ")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "ORCL.csv"
    path.write_bytes(b"")
    assert _load_error(path) == f"{path}: file is empty"


def test_header_without_rows(tmp_path: Path) -> None:
    path = _write(tmp_path, "ORCL.csv", [HEADER])
    assert _load_error(path) == f"{path}: no data rows"


def test_missing_column_is_named_with_columns_found(tmp_path: Path) -> None:
    path = _write(tmp_path, "ORCL.csv", ["timestamp,open,high,low,volume", "2024-01-02,1,1,1,1"])
    assert _load_error(path) == (
        f"{path} line 1: missing column 'close'; columns found: timestamp, open, high, low, volume"
    )


def test_duplicate_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "ORCL.csv", [HEADER + ",Close", ROWS[0] + ",1"])
    assert _load_error(path) == f"{path}: column 'close' appears twice ('close', 'Close')"


def test_row_with_too_many_fields(tmp_path: Path) -> None:
    path = _csv(tmp_path, rows=[ROWS[0], ROWS[1] + ",oops"])
    assert _load_error(path) == f"{path} line 3: 7 fields, but the header has 6"


# --- errors: values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_row", "column", "message"),
    [
        ("2024-01-03T00:00:00Z,10.5,12,10,abc,200", "close", "'abc' is not a number"),
        ("2024-01-03T00:00:00Z,10.5,12,10,,200", "close", "empty value"),
        ("2024-01-03T00:00:00Z,10.5,12,10,nan,200", "close", "nan is not a finite number"),
        ("2024-01-03T00:00:00Z,10.5,inf,10,11,200", "high", "inf is not a finite number"),
        ("2024-01-03T00:00:00Z,-10.5,12,10,11,200", "open", "-10.5 is not a positive price"),
        ("2024-01-03T00:00:00Z,10.5,12,10,0,200", "close", "0.0 is not a positive price"),
        ("2024-01-03T00:00:00Z,10.5,12,10,11,-1", "volume", "-1.0 is a negative volume"),
        (
            "2024-01-03T00:00:00Z,10.5,10.9,10,11,200",
            "high",
            "high 10.9 is below max(open, close) = 11.0",
        ),
        (
            "2024-01-03T00:00:00Z,10.5,12,10.6,11,200",
            "low",
            "low 10.6 is above min(open, close) = 10.5",
        ),
        ("yesterday,10.5,12,10,11,200", "timestamp", "'yesterday' is not an ISO-8601 timestamp"),
        ("2024-13-03T00:00:00Z,10.5,12,10,11,200", "timestamp", "'2024-13-03T00:00:00Z' is not"),
        ("1704240000000,10.5,12,10,11,200", "timestamp", "'1704240000000' is not an ISO-8601"),
        (
            "2024-01-02T00:00:00Z,10.5,12,10,11,200",
            "timestamp",
            "2024-01-02T00:00:00Z is not after 2024-01-02T00:00:00Z on line 2",
        ),
        (
            "2024-01-01T00:00:00Z,10.5,12,10,11,200",
            "timestamp",
            "2024-01-01T00:00:00Z is not after 2024-01-02T00:00:00Z on line 2",
        ),
    ],
)
def test_bad_value_names_file_line_and_column(
    tmp_path: Path, bad_row: str, column: str, message: str
) -> None:
    path = _csv(tmp_path, rows=[ROWS[0], bad_row, ROWS[2]])
    assert _load_error(path).startswith(f"{path} line 3, column '{column}': {message}")


def test_price_slightly_off_by_float_noise_is_accepted(tmp_path: Path) -> None:
    rows = [f"2024-01-02T00:00:00Z,10,{10.5 * (1 - 1e-12)!r},9,10.5,1"]
    assert len(load_bars([_csv(tmp_path, rows=rows)])) == 1


def test_message_uses_the_file_spelling_of_the_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "X.csv", ["Timestamp,Open,High,Low,Close,Volume", *ROWS[:1]])
    path.write_text(path.read_text() + "2024-01-03T00:00:00Z,1,1,1,x,1\n")
    assert _load_error(path).endswith("X.csv line 3, column 'Close': 'x' is not a number")


def test_epoch_column_rejects_iso_row(tmp_path: Path) -> None:
    path = _csv(tmp_path, rows=["1704153600000,10,11,9,10.5,1", "2024-01-03,10,11,9,10.5,1"])
    assert _load_error(path).endswith(
        "line 3, column 'timestamp': '2024-01-03' is not an integer epoch timestamp like the "
        "first row"
    )


def test_yyyymmdd_integers_are_not_taken_for_epoch_seconds(tmp_path: Path) -> None:
    path = _csv(tmp_path, rows=["20240102,10,11,9,10.5,1", "20240103,10,11,9,10.5,1"])
    assert _load_error(path).endswith(
        "line 2, column 'timestamp': 20240102 looks like a YYYYMMDD date, not an epoch; "
        "write it as ISO-8601"
    )


def test_epoch_out_of_nanosecond_range(tmp_path: Path) -> None:
    path = _csv(tmp_path, rows=["99999999999,10,11,9,10.5,1"])  # < 1e11: seconds, year 5138
    assert "line 2, column 'timestamp': 99999999999 seconds since 1970 is outside" in (
        _load_error(path)
    )


def test_line_numbers_count_blank_lines_and_multiline_fields(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "X.csv",
        [
            HEADER + ",note",
            ROWS[0] + ',"two',
            'lines"',
            "",
            "2024-01-03T00:00:00Z,10.5,12,10,oops,200,",
        ],
    )
    assert _load_error(path).endswith("X.csv line 5, column 'close': 'oops' is not a number")


def test_earliest_bad_row_is_reported(tmp_path: Path) -> None:
    rows = [ROWS[0], "2024-01-03T00:00:00Z,10.5,12,10,x,200", "bad,10.5,12,10,11,200"]
    assert "line 3, column 'close'" in _load_error(_csv(tmp_path, rows=rows))


def test_unordered_rows_of_one_symbol_in_a_multi_symbol_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "mixed.csv",
        [
            "symbol," + HEADER,
            "AAA,2024-01-03T00:00:00Z,10,11,9,10.5,100",
            "BBB,2024-01-02T00:00:00Z,20,21,19,20.5,100",
            "AAA,2024-01-02T00:00:00Z,10,11,9,10.5,100",
        ],
    )
    assert _load_error(path).endswith(
        "mixed.csv line 4, column 'timestamp': 2024-01-02T00:00:00Z is not after "
        "2024-01-03T00:00:00Z on line 2"
    )


def test_parquet_errors_name_the_row(tmp_path: Path) -> None:
    path = tmp_path / "X.parquet"
    pl.DataFrame(
        {
            "timestamp": ["2024-01-02", "2024-01-03"],
            "open": [10.0, 10.0],
            "high": [11.0, 11.0],
            "low": [9.0, 9.0],
            "close": [10.5, -1.0],
            "volume": [1.0, 1.0],
        }
    ).write_parquet(path)
    assert _load_error(path) == f"{path} row 2, column 'close': -1.0 is not a positive price"


# --- the reference data beside the repository ----------------------------------------------

REFERENCE_FIRST_BARS = {
    "ORCL-1d.csv": (
        5036,
        Bar("ORCL", 789_091_200_000_000_000, 2.179012, 2.191358, 2.117284, 2.117284, 36_301_200.0),
    ),
    "NVDA-1d.csv": (
        4012,
        Bar("NVDA", 916_963_200_000_000_000, 1.75, 1.953125, 1.552083, 1.640625, 67_867_200.0),
    ),
    "YHOO-1d.csv": (
        4713,
        Bar("YHOO", 829_267_200_000_000_000, 1.052083, 1.791667, 1.020833, 1.375, 408_720_000.0),
    ),
    "INDEX-5m.csv": (
        2142,
        Bar("INDEX", 1_136_192_700_000_000_000, 3578.73, 3587.88, 3578.73, 3582.99, 0.0),
    ),
}


@pytest.mark.parametrize("name", sorted(REFERENCE_FIRST_BARS))
def test_reference_files_load(shared_data: Path, name: str) -> None:
    rows, first_bar = REFERENCE_FIRST_BARS[name]

    data = load_bars([shared_data / name])

    assert len(data) == rows
    assert next(iter(data)) == first_bar


def test_reference_files_merge(shared_data: Path) -> None:
    data = load_bars([shared_data / name for name in sorted(REFERENCE_FIRST_BARS)])
    assert len(data) == sum(rows for rows, _ in REFERENCE_FIRST_BARS.values())
    assert data.symbols == ["ORCL", "YHOO", "NVDA", "INDEX"]

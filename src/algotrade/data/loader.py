"""Load OHLCV bars from CSV or Parquet files into ``BarData``, and save them back.

A file has a header row with ``timestamp, open, high, low, close, volume`` (any letter case,
any order, extra columns ignored) and optionally ``symbol``. Every problem is a ``DataError``
with a one-line message that names the file, the line (CSV, as an editor numbers it: the
header is line 1) or row (Parquet, 1-based) and the column.

Reading is two-speed: a typed read handles clean files fast; only when it fails or finds an
empty field is the file re-read as text to find the first bad row and say what is wrong.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO

import polars as pl

from algotrade.atomic_file import write_atomic
from algotrade.core.errors import DataError
from algotrade.data.bar_files import ACCEPTED_EXTENSIONS, CSV_EXTENSIONS, PARQUET_EXTENSIONS
from algotrade.data.bars import VALUE_COLUMNS, BarData, find_value_problem, format_ns
from algotrade.data.spacing import check_bar_spacing
from algotrade.data.timestamps import timestamps_to_ns

TIMESTAMP = "timestamp"
SYMBOL = "symbol"
REQUIRED_COLUMNS = (TIMESTAMP, *VALUE_COLUMNS)

# "ORCL-1d", "BTC_5m", "EURUSD-15min", "SPY-1mo": the trailing interval is not the symbol.
_INTERVAL_SUFFIX = re.compile(r"[-_]\d+(?:s|m|h|d|w|mo|min)$", re.IGNORECASE)
_ROW = "__row"  # data-row index in the file, kept through filtering to report positions


def load_bars(
    sources: Sequence[str | Path], *, symbol: str | None = None, interval: str | None = None
) -> BarData:
    """Load and merge bar files into one ``BarData`` sorted by time.

    Each source is a path or ``SYMBOL=path``. Files: ``.csv``, ``.csv.gz``, ``.parquet``,
    ``.pq``. A file's symbol is, by precedence: the ``SYMBOL=`` prefix; the ``symbol``
    argument; the file's ``symbol`` column; the file name without extension and without a
    trailing interval (``ORCL-1d.csv`` -> ``ORCL``, ``ETH-USD-1h.csv`` -> ``ETH-USD``).

    ``timestamp`` is the bar's open time, either ISO-8601 text (``2024-01-02T09:30:00Z``,
    ``+02:00``-style offsets, a space instead of ``T``, optional fractional seconds, or a
    bare date; no offset means UTC) or an integer epoch. The epoch unit is read from the
    largest absolute value in the column: below 1e11 seconds, below 1e14 milliseconds, below
    1e17 microseconds, else nanoseconds. That is unambiguous for dates from 1973-03-03 to
    the year 5138; earlier epoch values are read in too coarse a unit, so use ISO-8601 for
    them. Parquet timestamps may also be a datetime or date type.

    Prices must be finite and > 0, volume finite and >= 0, high/low must enclose open and
    close (1e-9 relative slack), and each symbol's timestamps must strictly increase within
    a file. Blank lines are skipped. Bars with equal timestamps keep the order of
    ``sources``; two files with overlapping time ranges for one symbol are an error.
    A single path (not in a list) is accepted too.

    ``interval``: the bar interval the caller declared for the files (``data import
    --interval``); each file's bars are checked against it (``data.spacing``) before any is
    merged.
    """
    if isinstance(sources, str | Path):
        sources = [sources]  # a bare str is a Sequence of characters: never what is meant
    if not sources:
        raise DataError("no data files given")
    frames: list[_FileBars] = [
        _load_file(path, symbol=explicit or symbol)
        for path, explicit in map(_parse_source, sources)
    ]
    if interval is not None:
        for file in frames:
            check_bar_spacing(file.frame, interval, where=str(file.path))
    _reject_overlaps(frames)
    if len(frames) == 1:
        return BarData.from_validated(frames[0].frame.drop(_ROW))
    merged = pl.concat([file.frame.drop(_ROW) for file in frames], rechunk=True)
    return BarData.from_validated(merged)


def save_bars(data: BarData, path: str | Path) -> None:
    """Write ``data`` as CSV (``.csv``/``.csv.gz``) or Parquet (``.parquet``/``.pq``).

    CSV has ISO-8601 ``Z`` timestamps and a ``symbol`` column only when there are several
    symbols, so a single-symbol file keeps the plain ``timestamp,open,...`` layout and gets
    its symbol from its name when loaded. Parquet always stores ``symbol`` (cheap, and the
    file is self-describing) and a UTC nanosecond datetime ``timestamp``.

    Missing parent folders are created, and the file is written whole or not at all (encoded
    in memory, then replaced atomically), so an interrupted write never leaves half a file.
    """
    path = Path(path)
    extension = _extension(path)
    if extension not in CSV_EXTENSIONS + PARQUET_EXTENSIONS:
        raise DataError(_unknown_extension(path))
    frame = data.frame
    timestamps = pl.from_epoch(frame["ts"], time_unit="ns")
    value_columns = frame.select(VALUE_COLUMNS)
    buffer = io.BytesIO()
    if extension in PARQUET_EXTENSIONS:
        out = pl.DataFrame(
            [frame["symbol"], timestamps.dt.replace_time_zone("UTC").alias(TIMESTAMP)]
        ).hstack(value_columns)
        out.write_parquet(buffer)
    else:
        # "%.f" writes only the sub-second digits that are needed, none for whole seconds.
        text = timestamps.dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ").alias(TIMESTAMP)
        out = pl.DataFrame([text]).hstack(value_columns)
        if len(data.symbols) > 1:
            out = out.insert_column(0, frame["symbol"])
        compressed = extension == ".csv.gz"
        out.write_csv(buffer, compression="gzip" if compressed else "uncompressed")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, buffer.getvalue())
    except FileExistsError as error:  # mkdir met a file where a folder should be
        raise DataError(
            f"{path}: cannot write: {error.filename} is a file, not a folder"
        ) from error
    except OSError as error:
        raise DataError(f"{path}: cannot write: {error.strerror or error}") from error


def symbol_from_path(path: Path) -> str:
    """``ORCL-1d.csv`` -> ``ORCL``: the file name without extension and interval suffix."""
    name = path.name
    stem = name[: len(name) - len(_extension(path))] if _extension(path) else path.stem
    symbol = _INTERVAL_SUFFIX.sub("", stem)
    if not symbol:
        raise DataError(f"{path}: cannot tell the symbol from the file name; use SYMBOL=path")
    return symbol


def _parse_source(source: str | Path) -> tuple[Path, str | None]:
    """``"ORCL=data/o.csv"`` -> (path, "ORCL"). An existing file whose name contains ``=``
    is a path, not a pair."""
    if isinstance(source, Path) or "=" not in source or Path(source).exists():
        return Path(source), None
    symbol, _, path = source.partition("=")
    if not symbol.strip() or not path:
        raise DataError(f"bad data source {source!r}: expected a path or SYMBOL=path")
    return Path(path), symbol.strip()


def _extension(path: Path) -> str:
    name = path.name.lower()
    return next((ext for ext in ACCEPTED_EXTENSIONS if name.endswith(ext)), "")


def _unknown_extension(path: Path) -> str:
    return f"{path}: unknown file type; accepted extensions: {', '.join(ACCEPTED_EXTENSIONS)}"


@dataclass(frozen=True, slots=True)
class _FileBars:
    """One file's validated bars (``BAR_COLUMNS`` plus ``_ROW``)."""

    path: Path
    frame: pl.DataFrame


class _Locator:
    """Turns a data-row index into the words that find it in the file."""

    def __init__(self, path: Path, columns: dict[str, str]) -> None:
        self.path = path
        self.columns = columns  # canonical name -> name as written in the file
        self.is_csv = _extension(path) in CSV_EXTENSIONS

    def where(self, row: int) -> str:
        """``line 17`` (CSV) or ``row 16`` (Parquet, 1-based) for a 0-based data row."""
        return f"line {self._csv_line(row)}" if self.is_csv else f"row {row + 1}"

    def error(self, row: int, column: str, message: str) -> DataError:
        name = self.columns.get(column, column)
        return DataError(f"{self.path} {self.where(row)}, column '{name}': {message}")

    def _csv_line(self, row: int) -> int:
        # Each row is one line (blank lines are rows too, dropped later), so row 0 is line 2,
        # unless a quoted field spans lines; only then count with the csv module (slow).
        # Runs only when reporting an error.
        if not _has_quotes(self.path):
            return row + 2
        with _open_text(self.path) as text:
            reader = csv.reader(text)
            next(reader, None)  # header
            first_line = reader.line_num + 1
            for index, _ in enumerate(reader):
                if index == row:
                    return first_line
                first_line = reader.line_num + 1
        return row + 2


def _has_quotes(path: Path) -> bool:
    opener = gzip.open if _extension(path) == ".csv.gz" else open
    with opener(path, "rb") as raw:
        return any(b'"' in block for block in iter(partial(raw.read, 1 << 20), b""))


def _open_text(path: Path) -> IO[str]:
    """The file as text the ``csv`` module can read, to count lines as an editor does."""
    if _extension(path) == ".csv.gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    return path.open(encoding="utf-8-sig", errors="replace", newline="")


def _load_file(path: Path, *, symbol: str | None) -> _FileBars:
    extension = _extension(path)
    if path.is_dir():
        kinds = ", ".join(ACCEPTED_EXTENSIONS)
        raise DataError(f"{path}: is a folder; give a bar file ({kinds}) or SYMBOL=file")
    if not extension:
        raise DataError(_unknown_extension(path))
    _check_readable(path)
    try:
        if extension in CSV_EXTENSIONS:
            columns, raw = _read_csv(path)
        else:
            columns, raw = _read_parquet(path)
    except pl.exceptions.PolarsError as error:
        raise DataError(f"{path}: cannot read: {_first_line(error)}") from error
    locator = _Locator(path, columns)
    raw = _drop_blank_rows(raw)
    if raw.height == 0:
        raise DataError(f"{path}: no data rows")
    if symbol is None and SYMBOL not in columns:
        symbol = symbol_from_path(path)
    frame = _typed_columns(raw, locator, symbol)
    problem = find_value_problem(frame)
    if problem is not None:
        raise locator.error(frame[_ROW][problem.row], problem.column, problem.message)
    _reject_unordered(frame, locator)
    return _FileBars(path, frame)


def _check_readable(path: Path) -> None:
    """Fail early with the operating system's reason (polars' messages lack it)."""
    try:
        with path.open("rb") as handle:
            first_byte = handle.read(1)
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror or error}") from error
    if not first_byte:
        raise DataError(f"{path}: file is empty")


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _match_columns(path: Path, names: list[str]) -> dict[str, str]:
    """Canonical lower-case name -> the file's spelling, for the columns we use."""
    found: dict[str, str] = {}
    for name in names:
        key = name.strip().lower()
        if key in found and key in (*REQUIRED_COLUMNS, SYMBOL):
            raise DataError(f"{path}: column {key!r} appears twice ({found[key]!r}, {name!r})")
        found.setdefault(key, name)
    missing = [column for column in REQUIRED_COLUMNS if column not in found]
    if missing:
        where = "line 1" if _extension(path) in CSV_EXTENSIONS else "header"
        raise DataError(
            f"{path} {where}: missing column {', '.join(map(repr, missing))}; "
            f"columns found: {', '.join(names) or 'none'}"
        )
    return {key: found[key] for key in (*REQUIRED_COLUMNS, SYMBOL) if key in found}


def _read_csv(path: Path) -> tuple[dict[str, str], pl.DataFrame]:
    """Columns renamed to canonical names plus ``_ROW``; values typed when the fast read
    works, text otherwise (``_typed_columns`` converts and reports)."""
    header = pl.read_csv(path, n_rows=0, infer_schema=False, glob=False).columns
    columns = _match_columns(path, header)
    names = list(columns.values())
    schema: dict[str, pl.DataType] = {
        spelling: pl.Float64() if name in VALUE_COLUMNS else pl.String()
        for name, spelling in columns.items()
    }
    try:
        frame = pl.read_csv(
            path,
            columns=names,
            schema_overrides=schema,
            row_index_name=_ROW,
            glob=False,
            raise_if_empty=False,
        )
    except pl.exceptions.ComputeError:
        # A value that is not a plain number: re-read as text to say which and where.
        try:
            frame = pl.read_csv(
                path,
                columns=names,
                infer_schema=False,
                row_index_name=_ROW,
                glob=False,
                raise_if_empty=False,
            )
        except pl.exceptions.ComputeError as error:
            raise _csv_layout_error(path, len(header), error) from error
    return columns, frame.rename({spelling: name for name, spelling in columns.items()})


def _csv_layout_error(path: Path, n_fields: int, error: Exception) -> DataError:
    """Polars does not say where a row has too many fields; find it."""
    with _open_text(path) as text:
        reader = csv.reader(text)
        for fields in reader:
            if len(fields) > n_fields:
                return DataError(
                    f"{path} line {reader.line_num}: {len(fields)} fields, "
                    f"but the header has {n_fields}"
                )
    return DataError(f"{path}: cannot read: {_first_line(error)}")


def _read_parquet(path: Path) -> tuple[dict[str, str], pl.DataFrame]:
    header = list(pl.read_parquet_schema(path))
    columns = _match_columns(path, header)
    frame = pl.read_parquet(path, columns=list(columns.values()), row_index_name=_ROW, glob=False)
    return columns, frame.rename({spelling: name for name, spelling in columns.items()})


def _drop_blank_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """A blank line (or one with every field empty) reads as all nulls; skip it."""
    data_columns = [name for name in frame.columns if name != _ROW]
    if not any(frame.select(pl.col(data_columns).null_count()).row(0)):
        return frame
    return frame.filter(~pl.all_horizontal(pl.col(data_columns).is_null()))


def _typed_columns(raw: pl.DataFrame, locator: _Locator, symbol: str | None) -> pl.DataFrame:
    """``_ROW, symbol, ts, open..volume`` with proper types, or the first conversion error
    (earliest row; on one row, in column order)."""
    problems: list[tuple[int, int, str, str]] = []  # (row, column order, column, message)
    values: list[pl.Series] = []
    for order, column in enumerate(VALUE_COLUMNS):
        series, problem = _to_float(raw[column])
        values.append(series)
        if problem is not None:
            problems.append((problem[0], order + 1, column, problem[1]))
    ts, ts_problem = timestamps_to_ns(raw[TIMESTAMP])
    if ts_problem is not None:
        problems.append((ts_problem.row, 0, TIMESTAMP, ts_problem.message))
    symbols, symbol_problem = _symbols(raw, symbol)
    if symbol_problem is not None:
        problems.append((symbol_problem, len(VALUE_COLUMNS) + 1, SYMBOL, "empty symbol"))
    if problems:
        row, _, column, message = min(problems)
        raise locator.error(raw[_ROW][row], column, message)
    return pl.DataFrame([raw[_ROW], symbols, ts.alias("ts"), *values])


def _to_float(series: pl.Series) -> tuple[pl.Series, tuple[int, str] | None]:
    """The column as Float64, and (row, message) of the first value that is not a number."""
    if series.dtype == pl.Float64 and not series.has_nulls():
        return series, None
    if series.dtype == pl.String:
        text = series.str.strip_chars()
        numbers = text.cast(pl.Float64, strict=False)
    else:
        text = series.cast(pl.String, strict=False)
        numbers = series.cast(pl.Float64, strict=False)
    bad = numbers.is_null()
    if not bad.any():
        return numbers, None
    row = int(bad.arg_true()[0])
    value = text[row]
    message = "empty value" if value is None or value == "" else f"{value!r} is not a number"
    return numbers, (row, message)


def _symbols(raw: pl.DataFrame, symbol: str | None) -> tuple[pl.Series, int | None]:
    """The symbol of every row (``symbol`` if given, else the file's column) and the row of
    the first empty symbol cell, if any."""
    if symbol is not None:
        return pl.Series(SYMBOL, [symbol], pl.String).new_from_index(0, raw.height), None
    symbols = raw[SYMBOL].cast(pl.String).str.strip_chars()
    empty = symbols.is_null() | (symbols == "")
    return symbols, (int(empty.arg_true()[0]) if empty.any() else None)


def _reject_unordered(frame: pl.DataFrame, locator: _Locator) -> None:
    """Each symbol's timestamps must strictly increase down the file."""
    previous_row = pl.col(_ROW).shift(1)
    previous_ts = pl.col("ts").shift(1)
    if frame[SYMBOL].n_unique() > 1:
        previous_row = previous_row.over(SYMBOL)
        previous_ts = previous_ts.over(SYMBOL)
    elif not (frame["ts"].diff() <= 0).any():
        return  # the usual case, decided without building the columns below
    checked = frame.select(
        pl.col(_ROW), pl.col("ts"), previous_row.alias("prev_row"), previous_ts.alias("prev_ts")
    ).filter(pl.col("ts") <= pl.col("prev_ts"))
    if checked.height == 0:
        return
    row, ts, prev_row, prev_ts = checked.row(0)
    raise locator.error(
        row,
        TIMESTAMP,
        f"{format_ns(ts)} is not after {format_ns(prev_ts)} on {locator.where(prev_row)}",
    )


def _reject_overlaps(files: list[_FileBars]) -> None:
    """Two files with overlapping time ranges for one symbol are probably the same data
    twice (or two vendors); merging them silently would double-count bars."""
    spans: dict[str, list[tuple[int, int, Path]]] = {}
    for file in files:
        ranges = file.frame.group_by(SYMBOL, maintain_order=True).agg(
            pl.col("ts").min().alias("first"), pl.col("ts").max().alias("last")
        )
        for symbol, first, last in ranges.iter_rows():
            spans.setdefault(symbol, []).append((first, last, file.path))
    for symbol, symbol_spans in spans.items():
        latest_end: tuple[int, Path] | None = None
        for first, last, path in sorted(symbol_spans, key=lambda span: span[0]):
            if latest_end is not None and first <= latest_end[0]:
                raise DataError(
                    f"{latest_end[1]} and {path} both have {symbol} bars from {format_ns(first)}"
                    f" to {format_ns(min(last, latest_end[0]))}; give each period once"
                )
            if latest_end is None or last > latest_end[0]:
                latest_end = (last, path)

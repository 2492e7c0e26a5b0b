"""``Catalog``: bars in Parquet partitions, appended atomically and idempotently, scanned
with predicate pushdown.

An append writes only bars whose open time is not stored yet (a re-run adds nothing), as a
new ``delta-*.parquet`` written to a temporary file, synced and renamed into place, then
updates ``coverage.json`` the same way; both happen under the series' lock. A crash leaves
either the old files or the new ones — never a half-written file — and a manifest that does
not list the files present is rebuilt from them. ``compact`` merges a partition's files into
one ``data.parquet``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from algotrade.atomic_file import write_atomic
from algotrade.core.errors import DataError
from algotrade.data.bars import VALUE_COLUMNS, BarData, find_value_problem
from algotrade.data.catalog.coverage import (
    Coverage,
    coverage_of,
    extended,
    read_coverage,
    write_coverage,
)
from algotrade.data.catalog.layout import (
    DATA_FILE,
    SeriesKey,
    key_of,
    next_delta,
    partition_files,
    period_dirs,
    period_format,
    series_dir,
)
from algotrade.data.catalog.locking import series_lock
from algotrade.data.catalog.periods import overlapping
from algotrade.data.timestamps import timestamps_to_ns

STORED_COLUMNS = ("ts", *VALUE_COLUMNS)
SCAN_COLUMNS = ("symbol", *STORED_COLUMNS)
_SCHEMA = {"ts": pl.Int64, **dict.fromkeys(VALUE_COLUMNS, pl.Float64)}


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Bars written, bars already stored with the same values, and bars already stored with
    other values (the stored bar is kept: the first source to deliver a bar wins)."""

    added: int
    skipped: int
    conflicts: int


class Catalog:
    """The bar catalog rooted at ``root`` (``<data_dir>/catalog``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> Catalog:
        return cls(data_dir / "catalog")

    # -- writing -----------------------------------------------------------------------------

    @staticmethod
    def check(key: SeriesKey, frame: pl.DataFrame) -> None:
        """The ``DataError`` ``append`` would raise for ``frame``, writing nothing: a command
        storing several series checks them all first, so a refusal leaves none half-stored."""
        _normalised(frame, key)

    def append(self, key: SeriesKey, frame: pl.DataFrame) -> AppendResult:
        """Store the bars of ``frame`` (columns ``ts`` and OHLCV) that are not stored yet."""
        bars = _normalised(frame, key)
        if bars.height == 0:
            return AppendResult(0, 0, 0)
        series = series_dir(self.root, key)
        series.mkdir(parents=True, exist_ok=True)
        added: list[np.ndarray] = []
        skipped = conflicts = 0
        with series_lock(series):
            coverage = self._coverage_locked(key, series)
            periods = pl.from_epoch(bars["ts"], time_unit="ns").dt.strftime(
                period_format(key.interval_ns)
            )
            for (period,), grouped in bars.with_columns(periods.alias("_period")).group_by(
                "_period", maintain_order=True
            ):
                part = grouped.drop("_period")
                folder = series / f"period={period}"
                new, same, differ = _split_stored(part, folder, coverage)
                skipped += same
                conflicts += differ
                if new.height:
                    folder.mkdir(exist_ok=True)
                    _write_parquet(new, next_delta(folder))
                    added.append(new["ts"].to_numpy())
            if added:
                _sync_dir(series)
                ts = np.sort(np.concatenate(added))
                write_coverage(series, extended(coverage, ts, _files(series)))
        return AppendResult(sum(a.size for a in added), skipped, conflicts)

    def compact(self, key: SeriesKey | None = None) -> int:
        """Merge every partition's files into one ``data.parquet``; the number of files
        merged away. ``key`` None: every series."""
        keys = [key] if key is not None else [c.key for c in self.series()]
        merged = 0
        for each in keys:
            series = series_dir(self.root, each)
            if not series.is_dir():
                continue
            with series_lock(series):
                coverage = self._coverage_locked(each, series)
                for folder in period_dirs(series):
                    files = partition_files(folder)
                    if len(files) < 2 and all(f.name == DATA_FILE for f in files):
                        continue
                    frame = _read_partition(files).collect()
                    _write_parquet(frame, folder / DATA_FILE)
                    for path in files:
                        if path.name != DATA_FILE:
                            path.unlink()
                    merged += len(files) - 1
                    _sync_dir(folder)
                write_coverage(
                    series,
                    Coverage(
                        each,
                        coverage.first_ns,
                        coverage.last_ns,
                        coverage.rows,
                        coverage.gaps,
                        _files(series),
                    ),
                )
        return merged

    # -- reading -----------------------------------------------------------------------------

    def last_ts(self, key: SeriesKey) -> int | None:
        coverage = self.coverage(key)
        return None if coverage is None else coverage.last_ns

    def coverage(self, key: SeriesKey) -> Coverage | None:
        """What the series holds (None: nothing stored)."""
        series = series_dir(self.root, key)
        if not series.is_dir():
            return None
        stored = read_coverage(series, key)
        if stored is None or stored.files != _files(series):
            with series_lock(series):
                stored = self._coverage_locked(key, series)
        return stored if stored.rows else None

    def series(self, venue: str | None = None) -> list[Coverage]:
        """Every series stored (of ``venue``), sorted by venue, symbol and interval."""
        found = []
        for path in sorted(self.root.glob("venue=*/symbol=*/interval=*")):
            key = key_of(path)
            if key is None or (venue is not None and key.venue != venue):
                continue
            coverage = self.coverage(key)
            if coverage is not None:
                found.append(coverage)
        return sorted(found, key=lambda c: c.key)

    def scan(
        self,
        venue: str,
        symbols: Sequence[str],
        interval: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> pl.LazyFrame:
        """Bars of ``symbols`` opening in ``[start_ns, end_ns)``, sorted by symbol then time;
        only the partitions of the range are opened, and the time filter is pushed down to
        the Parquet row groups."""
        frames = []
        for symbol in symbols:
            key = SeriesKey(venue, symbol, interval)
            series = series_dir(self.root, key)
            for folder in overlapping(period_dirs(series), start_ns, end_ns):
                files = partition_files(folder)
                if not files:
                    continue
                frame = _read_partition(files, start_ns, end_ns)
                frames.append(frame.select(pl.lit(symbol).alias("symbol"), *STORED_COLUMNS))
        if not frames:
            return pl.LazyFrame(schema={"symbol": pl.String, **_SCHEMA})
        return pl.concat(frames, how="vertical")

    def load(
        self,
        venue: str,
        symbols: Sequence[str],
        interval: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> BarData:
        """The bars of ``scan`` for the engine; ``DataError`` naming what is missing."""
        frame = self.scan(venue, symbols, interval, start_ns, end_ns).collect()
        present = set(frame["symbol"].unique().to_list())
        absent = [symbol for symbol in symbols if symbol not in present]
        if absent:
            raise DataError(
                f"catalog {self.root}: no {interval} bars of {venue}:{','.join(absent)} in the "
                "requested range; 'algotrade data list' shows what is stored and "
                "'algotrade data download' fetches more"
            )
        return BarData.from_validated(frame)

    # -- internals ---------------------------------------------------------------------------

    def _coverage_locked(self, key: SeriesKey, series: Path) -> Coverage:
        files = _files(series)
        stored = read_coverage(series, key)
        if stored is not None and stored.files == files:
            return stored
        ts_frames = [
            _read_partition(partition_files(folder)).select("ts")
            for folder in period_dirs(series)
            if partition_files(folder)
        ]
        ts = (
            pl.concat(ts_frames).collect()["ts"].sort().to_numpy()
            if ts_frames
            else np.empty(0, dtype=np.int64)
        )
        rebuilt = coverage_of(key, ts, files)
        if series.is_dir():
            write_coverage(series, rebuilt)
        return rebuilt


def _files(series: Path) -> tuple[str, ...]:
    return tuple(
        path.relative_to(series).as_posix()
        for folder in period_dirs(series)
        for path in partition_files(folder)
    )


def _read_partition(
    files: list[Path], start_ns: int | None = None, end_ns: int | None = None
) -> pl.LazyFrame:
    frame = pl.scan_parquet(files, hive_partitioning=False, schema=_SCHEMA)
    if start_ns is not None:
        frame = frame.filter(pl.col("ts") >= start_ns)
    if end_ns is not None:
        frame = frame.filter(pl.col("ts") < end_ns)
    if len(files) > 1:  # a bar written twice (a crash inside compact) keeps its first values
        frame = frame.unique(subset="ts", keep="first", maintain_order=True)
    return frame.sort("ts")


def _split_stored(
    part: pl.DataFrame, folder: Path, coverage: Coverage
) -> tuple[pl.DataFrame, int, int]:
    """``part``'s bars not stored yet, and how many stored ones it repeats / contradicts."""
    first, last = coverage.first_ns, coverage.last_ns
    lo, hi = part["ts"][0], part["ts"][-1]
    files = partition_files(folder)
    if first is None or last is None or hi < first or lo > last or not files:
        return part, 0, 0
    stored = _read_partition(files, lo, hi + 1).collect()
    joined = part.join(stored, on="ts", how="left", suffix="_stored")
    flags = joined.select(
        known=pl.col("open_stored").is_not_null(),
        differs=pl.any_horizontal(
            [pl.col(c) != pl.col(f"{c}_stored") for c in VALUE_COLUMNS]
        ).fill_null(False),
    )
    known = flags["known"]
    conflicts = int((known & flags["differs"]).sum())
    return part.filter(~known), int(known.sum()) - conflicts, conflicts


def _normalised(frame: pl.DataFrame, key: SeriesKey) -> pl.DataFrame:
    """``frame`` as the stored schema, sorted; ``DataError`` naming the series and row."""
    where = f"bars for {key}"
    missing = [c for c in STORED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(missing)}")
    if frame.height == 0:
        return pl.DataFrame(schema=_SCHEMA)
    ts, problem = timestamps_to_ns(frame["ts"])
    if problem is not None:
        raise DataError(f"{where}: column 'ts': {problem}")
    try:
        bars = pl.DataFrame(
            [ts.alias("ts"), *(frame[c].cast(pl.Float64, strict=True) for c in VALUE_COLUMNS)]
        )
    except pl.exceptions.PolarsError as error:
        raise DataError(f"{where}: cannot convert columns: {error}") from None
    for column, nulls in zip(STORED_COLUMNS, bars.null_count().row(0), strict=True):
        if nulls:
            raise DataError(f"{where}: column '{column}' has an empty value")
    value_problem = find_value_problem(bars)
    if value_problem is not None:
        raise DataError(
            f"{where} row {value_problem.row} (0-based), column '{value_problem.column}': "
            f"{value_problem.message}"
        )
    step = key.interval_ns
    misaligned = (bars["ts"] % step != 0).arg_true()
    if misaligned.len():
        row = int(misaligned[0])
        raise DataError(
            f"{where} row {row} (0-based), column 'ts': {bars['ts'][row]} is not a multiple of "
            f"the interval {key.interval} (bars are keyed by their open time)"
        )
    bars = bars.sort("ts", maintain_order=True)
    distinct = bars.unique(maintain_order=True)
    if distinct["ts"].n_unique() != distinct.height:
        dup = distinct.filter(pl.col("ts").is_duplicated())["ts"][0]
        raise DataError(f"{where}: two different bars open at ts={dup}")
    return distinct


def _write_parquet(frame: pl.DataFrame, path: Path) -> None:
    buffer = io.BytesIO()
    frame.select(STORED_COLUMNS).write_parquet(buffer, statistics=True, compression="zstd")
    write_atomic(path, buffer.getvalue())


def _sync_dir(path: Path) -> None:
    """Make renames inside ``path`` durable (the file data was synced before the rename)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory descriptors
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

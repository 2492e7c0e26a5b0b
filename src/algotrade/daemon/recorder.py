"""Recording: every closed bar the daemon's live venue feeds receive goes into the catalog.

Bars (those a live feed delivers to a bot or to a watched symbol, and the warm-up bars a
feed fetched from the venue) are buffered in memory per (venue, symbol, interval) — a bar
several bots receive is buffered once — and a writer thread appends each series' bars to the
catalog (``<data_dir>/catalog``) every ``flush_seconds``: one ``Catalog.append`` per series
per flush. Appends are atomic and idempotent, so a ``kill -9`` loses only the bars not
flushed yet, never a flushed file, and bars delivered again after a restart are not stored
twice. The sim feed and file replays are not market history and are never recorded.

The event loop only touches the buffer (a lock and a dict insert per bar); every file
operation — Parquet writes, fsync, compaction — runs on the writer thread. A failed write is
logged with the file and the series, its bars go back into the buffer and are retried by the
next flush. Series written to are compacted every ``compact_interval_s`` and at shutdown,
after the final flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from algotrade.core.errors import InputError
from algotrade.core.events import Bar
from algotrade.daemon.recorder_buffer import (
    ADDED,
    DUPLICATE,
    FULL,
    Batch,
    RecordBuffer,
    SeriesId,
    bar_problem,
)
from algotrade.daemon.recorder_spans import RecordedSpans
from algotrade.data.intervals import interval_ns

if TYPE_CHECKING:
    import polars as pl

    from algotrade.daemon.recorder_settings import RecordingSection
    from algotrade.data.catalog import AppendResult, SeriesKey

__all__ = ["BarRecorder", "CatalogWriter"]

_log = logging.getLogger("algotrade.daemon.recorder")
BarHandler = Callable[[Bar], None]


class CatalogWriter(Protocol):
    """What the recorder needs of ``data.catalog.Catalog``."""

    root: Path

    def append(self, key: SeriesKey, frame: pl.DataFrame) -> AppendResult: ...

    def compact(self, key: SeriesKey | None = None) -> int: ...


def _open_catalog(data_dir: Path) -> Callable[[], CatalogWriter]:
    def open_catalog() -> CatalogWriter:
        # Imported on the writer thread when the first bar is written: polars and the catalog
        # load only in daemons that record something, and never on the event loop.
        from algotrade.data.catalog import Catalog  # noqa: PLC0415

        return Catalog.for_data_dir(data_dir)

    return open_catalog


class BarRecorder:
    def __init__(
        self,
        open_catalog: Callable[[], CatalogWriter],
        *,
        flush_seconds: float = 2.0,
        compact_interval_s: float = 900.0,
        max_buffered_rows: int = 1_000_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open_catalog = open_catalog
        self._catalog: CatalogWriter | None = None
        self.flush_seconds = flush_seconds
        self.compact_interval_s = compact_interval_s
        self._clock = clock
        self._buffer = RecordBuffer(max_buffered_rows)
        self._steps: dict[str, int] = {}
        self._refused: dict[SeriesId, int] = {}  # bars refused on arrival, per series
        self._spans = RecordedSpans()  # what was already recorded (event loop only)
        self.repeated_deliveries = 0  # bars skipped as already recorded (event loop)
        self._write_lock = threading.Lock()  # one flush or compaction at a time
        self._touched: set[SeriesId] = set()  # written since the last compaction
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.watching: dict[str, str] = {}  # watched series → "recording" or why not (status)
        # Counters: written by the writer thread, read by status() (ints: no torn reads).
        self.rows_recorded = 0
        self.rows_already_stored = 0
        self.conflicts = 0
        self.invalid_bars = 0  # refused on arrival (event loop)
        self.rejected_rows = 0  # refused by the catalog (writer thread)
        self.flushes = 0
        self.failed_writes = 0
        self.compacted_files = 0
        self.last_flush_at: float | None = None
        self.last_error: str | None = None

    @classmethod
    def from_settings(cls, data_dir: Path, section: RecordingSection) -> BarRecorder:
        return cls(
            _open_catalog(data_dir),
            flush_seconds=section.flush_seconds,
            compact_interval_s=section.compact_interval_s,
            max_buffered_rows=section.max_buffered_rows,
        )

    # ------------------------------------------------------------------ event-loop side
    def tap(self, venue: str, symbol: str, interval: str, handler: BarHandler) -> BarHandler:
        """``handler`` that also records each bar as (venue, symbol, interval)."""
        series: SeriesId = (venue, symbol, interval)
        step = self._step(interval)

        def record_then_handle(bar: Bar) -> None:
            try:
                self._record(series, step, bar)
            except Exception:  # recording must never keep a bar from its bot
                _log.exception("recording %s:%s:%s: bar at %s not buffered", *series, bar.ts)
            handler(bar)

        return record_then_handle

    def record(self, venue: str, symbol: str, interval: str, bars: Sequence[Bar]) -> int:
        """Buffer ``bars`` (a feed's warm-up, in time order); how many were new."""
        if not bars:
            return 0
        series: SeriesId = (venue, symbol, interval)
        step = self._step(interval)
        fresh = self._spans.outside(series, bars)
        self.repeated_deliveries += len(bars) - len(fresh)
        outcomes = [self._add(series, step, bar) for bar in fresh]
        if FULL not in outcomes:
            self._spans.extend(series, bars[0].ts, bars[-1].ts, step)
        return outcomes.count(ADDED)

    def _step(self, interval: str) -> int:
        step = self._steps.get(interval)
        if step is None:
            step = self._steps[interval] = interval_ns(interval)
        return step

    def _record(self, series: SeriesId, step: int, bar: Bar) -> None:
        if self._spans.covers(series, bar.ts):  # another bot's delivery of a recorded bar
            self.repeated_deliveries += 1
            return
        outcome = self._add(series, step, bar)
        if outcome in (ADDED, DUPLICATE):
            self._spans.extend(series, bar.ts, bar.ts, step)

    def _add(self, series: SeriesId, step: int, bar: Bar) -> str | None:
        """The buffer's outcome for a valid bar; None when the bar is refused."""
        problem = bar_problem(bar, step)
        if problem is not None:
            self.invalid_bars += 1
            refused = self._refused[series] = self._refused.get(series, 0) + 1
            if refused & (refused - 1) == 0:  # 1, 2, 4, 8 …: a broken feed does not flood
                _log.warning(
                    "recording %s:%s:%s: bar refused (%d so far): %s", *series, refused, problem
                )
            return None
        outcome = self._buffer.add(series, bar)
        if outcome == FULL:
            dropped = self._buffer.counts.dropped
            if dropped & (dropped - 1) == 0:  # 1, 2, 4, 8 …: loud, but not one line per bar
                _log.error(
                    "recording: the buffer is full (%d bars unwritten: %s); %d new bars dropped",
                    self._buffer.counts.buffered,
                    self.last_error or "writes failing",
                    dropped,
                )
        return outcome

    # ------------------------------------------------------------------ writer side
    def flush(self) -> int:
        """Append every buffered series to the catalog (one append each); the bars added.
        A series whose write fails keeps its bars for the next flush. Runs on the writer
        thread (tests call it directly)."""
        with self._write_lock:
            batches = self._buffer.take()
            added = 0
            failed = False
            for batch in batches:
                try:
                    added += self._write(batch)
                except InputError as exc:  # bars the catalog refuses: a retry cannot help
                    self.rejected_rows += len(batch)
                    self._failed(f"{_label(batch.series)}: {len(batch)} bars refused: {exc}")
                    failed = True
                except Exception as exc:
                    restored = self._buffer.restore(batch)
                    self._failed(
                        f"{_label(batch.series)}: writing {self._where(batch.series, exc)} "
                        f"failed: {type(exc).__name__}: {exc}; {restored} bars kept for the "
                        "next flush"
                    )
                    failed = True
            self.flushes += 1
            if not failed:
                self.last_flush_at = time.time()
            return added

    def _write(self, batch: Batch) -> int:
        import polars as pl  # noqa: PLC0415 (the writer thread only)

        from algotrade.data.catalog import SeriesKey  # noqa: PLC0415

        catalog = self._catalog_now()
        opens, highs, lows, closes, volumes = zip(*batch.values, strict=True)
        frame = pl.DataFrame(
            {
                "ts": pl.Series(batch.ts, dtype=pl.Int64),
                "open": pl.Series(opens, dtype=pl.Float64),
                "high": pl.Series(highs, dtype=pl.Float64),
                "low": pl.Series(lows, dtype=pl.Float64),
                "close": pl.Series(closes, dtype=pl.Float64),
                "volume": pl.Series(volumes, dtype=pl.Float64),
            }
        )
        result = catalog.append(SeriesKey(*batch.series), frame)
        self.rows_recorded += result.added
        self.rows_already_stored += result.skipped
        self.conflicts += result.conflicts
        if result.conflicts:
            _log.warning(
                "recording %s: %d bars differ from those already stored (stored ones kept)",
                _label(batch.series),
                result.conflicts,
            )
        if result.added:
            self._touched.add(batch.series)
        return result.added

    def compact(self) -> int:
        """Compact the series written since the last compaction; the files merged."""
        from algotrade.data.catalog import SeriesKey  # noqa: PLC0415

        with self._write_lock:
            merged = 0
            for series in sorted(self._touched):
                try:
                    merged += self._catalog_now().compact(SeriesKey(*series))
                except Exception as exc:  # kept in _touched: tried again next time
                    self._failed(
                        f"{_label(series)}: compacting {self._where(series, exc)} failed: "
                        f"{type(exc).__name__}: {exc}"
                    )
                else:
                    self._touched.discard(series)
            self.compacted_files += merged
            return merged

    def _catalog_now(self) -> CatalogWriter:
        if self._catalog is None:
            self._catalog = self._open_catalog()
        return self._catalog

    def _where(self, series: SeriesId, exc: BaseException) -> str:
        filename = getattr(exc, "filename", None)
        if filename:
            return str(filename)
        if self._catalog is None:
            return "the catalog"
        from algotrade.data.catalog import SeriesKey  # noqa: PLC0415
        from algotrade.data.catalog.layout import series_dir  # noqa: PLC0415

        try:
            return str(series_dir(self._catalog.root, SeriesKey(*series)))
        except InputError:
            return str(self._catalog.root)

    def _failed(self, message: str) -> None:
        self.failed_writes += 1
        self.last_error = message
        _log.error("recording %s", message)

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Start the writer thread (flushes every ``flush_seconds``)."""
        if self._thread is not None:
            raise RuntimeError("the recorder is already started")
        self._thread = threading.Thread(target=self._run, name="bar-recorder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_compact = self._clock() + self.compact_interval_s
        deadline = self._clock() + self.flush_seconds
        while not self._stopping.wait(max(0.0, deadline - self._clock())):
            deadline = self._clock() + self.flush_seconds
            self._guarded(self.flush)
            if self._clock() >= next_compact:
                self._guarded(self.compact)
                next_compact = self._clock() + self.compact_interval_s
        self._guarded(self.flush)
        self._guarded(self.compact)

    def _guarded(self, step: Callable[[], int]) -> None:
        try:
            step()
        except Exception as exc:  # a bug must not end the writer thread: the next flush retries
            self._failed(f"writer: {type(exc).__name__}: {exc}")
            _log.exception("recording writer step failed")

    async def close(self, timeout: float) -> None:
        """Flush what is buffered, compact, and stop the writer (waiting up to ``timeout``
        seconds, off the event loop)."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        thread = self._thread
        if thread is None:  # never started: flush here, still off the loop
            await asyncio.to_thread(self._guarded, self.flush)
            return
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.to_thread(thread.join, timeout)
        if thread.is_alive():
            _log.error(
                "recording: the final flush did not finish within %.1f s (%d bars buffered)",
                timeout,
                self._buffer.counts.buffered,
            )

    def status(self) -> dict[str, Any]:
        """Counters for ``/api/health`` (cheap: no I/O)."""
        buffered, series, duplicates, dropped = self._buffer.snapshot()
        return {
            "rows_recorded": self.rows_recorded,
            "rows_already_stored": self.rows_already_stored,
            "buffered_rows": buffered,
            "buffered_series": series,
            "duplicate_deliveries": self.repeated_deliveries + duplicates,
            "rejected_rows": self.invalid_bars + self.rejected_rows,
            "dropped_rows": dropped,
            "conflicts": self.conflicts,
            "flushes": self.flushes,
            "failed_writes": self.failed_writes,
            "compacted_files": self.compacted_files,
            "last_flush_at": _iso(self.last_flush_at),
            "last_error": self.last_error,
            "watching": dict(self.watching),
        }


def _label(series: SeriesId) -> str:
    return ":".join(series)


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()

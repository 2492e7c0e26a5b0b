"""What ``algotrade fetch-data`` does (``cli/fetch_data_cmd.py`` is only the command's options,
so that its ``--help`` does not import polars and the venue packages)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from algotrade.atomic_file import write_atomic
from algotrade.cli.console import err_console
from algotrade.core.errors import DataError, InputError
from algotrade.core.timeutil import iso_to_ns, ns_to_iso
from algotrade.data.bar_files import CSV_EXTENSIONS, PARQUET_EXTENSIONS
from algotrade.data.bars import VALUE_COLUMNS, BarData
from algotrade.data.catalog import AppendResult
from algotrade.data.download import (
    SymbolReport,
    check_interval,
    closed_end_ms,
    fetch_symbol,
    history_factory,
    resolve_symbols,
    wall_clock_ms,
)
from algotrade.data.download_plan import SymbolPlan
from algotrade.venues.registry import HistoryOptions, VenueFactory

NS_PER_MS = 1_000_000
MANIFEST = "manifest.json"
PAGE_GLOB = "page-*.parquet"
OPEN_MS = "open_ms"
_PAGE_SCHEMA: dict[str, type[pl.DataType]] = {
    OPEN_MS: pl.Int64,
    **dict.fromkeys(VALUE_COLUMNS, pl.Float64),
}


def run_fetch(
    symbol: str,
    start: str,
    end: str,
    out: Path,
    venue: str,
    interval: str,
    api_url: str | None,
    testnet: bool,
) -> None:
    """Download historical bars (resumable: rerun the same command to continue)."""
    factory = history_factory(venue)
    check_interval(interval, factory, catalog=False)
    job = FetchJob(
        venue=factory.name,
        symbol=_check_symbol(symbol),
        interval=interval,
        start_ms=_parse_time("--start", start),
        end_ms=_parse_time("--end", end),
    )
    if job.start_ms >= job.end_ms:
        raise InputError(
            f"--start: {ns_to_iso(job.start_ms * NS_PER_MS)} is not before --end "
            f"{ns_to_iso(job.end_ms * NS_PER_MS)}"
        )
    _check_out(out)
    options = HistoryOptions(testnet=testnet, api_url=api_url)
    store = asyncio.run(_download(job, out, factory, options))
    frame = store.bars()
    if frame.height == 0:
        store.remove()
        raise InputError(
            f"--start/--end: the venue has no {job.symbol} {job.interval} candles between "
            f"{ns_to_iso(job.start_ms * NS_PER_MS)} and {ns_to_iso(job.end_ms * NS_PER_MS)}"
        )
    bars = BarData.from_frame(frame, f"{job.venue} {job.symbol} {job.interval} candles")
    try:
        write_atomic(out, _encode(bars, out))
    except OSError as exc:
        raise InputError(f"--out: cannot write {out}: {exc.strerror or exc}") from exc
    store.remove()
    err_console().print(
        f"wrote {len(bars):,} {job.symbol} {job.interval} bars "
        f"({ns_to_iso(bars.start_ns)} .. {ns_to_iso(bars.end_ns)}) to {out}"
    )


@dataclass(frozen=True, slots=True)
class FetchJob:
    """What is being downloaded: candles opening in ``[start_ms, end_ms)``."""

    venue: str
    symbol: str
    interval: str
    start_ms: int
    end_ms: int


class PartialStore:
    """Pages downloaded so far, in ``OUT.partial/``: one Parquet file per page
    (``open_ms`` plus the value columns), each written atomically."""

    def __init__(self, out: Path, job: FetchJob) -> None:
        self.directory = out.with_name(f"{out.name}.partial")
        self.job = job
        self._pages = 0
        self.last_open_ms: int | None = None
        self.stored = 0
        try:
            self._open()
        except OSError as exc:
            raise InputError(
                f"--out: cannot write {self.directory}: {exc.strerror or exc}"
            ) from exc

    def _open(self) -> None:
        manifest = self.directory / MANIFEST
        if not manifest.exists():
            self.directory.mkdir(exist_ok=True)
            write_atomic(manifest, json.dumps(asdict(self.job), indent=2) + "\n")
            return
        try:
            found = json.loads(manifest.read_text(encoding="utf-8"))
        except ValueError:
            found = None
        if found != asdict(self.job):
            raise InputError(
                f"--out: {self.directory} holds an unfinished download with other options "
                f"({_describe(found)}); rerun with those options to finish it, or delete it"
            )
        pages = sorted(self.directory.glob(PAGE_GLOB))
        self._pages = len(pages)
        if pages:
            stored = self._read(pages)
            self.stored = stored.height
            if stored.height:
                self.last_open_ms = int(stored[OPEN_MS].max())  # type: ignore[arg-type]

    def _read(self, pages: list[Path]) -> pl.DataFrame:
        try:
            return pl.concat([pl.read_parquet(page) for page in pages])
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise DataError(
                f"{self.directory}: cannot read a stored page ({exc}); delete the directory "
                "to start over"
            ) from exc

    @property
    def resume_ms(self) -> int:
        """Where the next page starts."""
        return self.job.start_ms if self.last_open_ms is None else self.last_open_ms + 1

    # -- the BarSink of data.download --------------------------------------------------------

    def plan(self, symbol: str, start_ms: int, end_ms: int, now_ms: int) -> SymbolPlan:
        del start_ms, now_ms
        resume = self.resume_ms
        return SymbolPlan(symbol, ((resume, end_ms),) if resume < end_ms else ())

    def append(self, symbol: str, frame: pl.DataFrame) -> AppendResult:
        del symbol
        page = frame.select((pl.col("ts") // NS_PER_MS).alias(OPEN_MS), *VALUE_COLUMNS)
        buffer = io.BytesIO()
        page.cast(_PAGE_SCHEMA).write_parquet(buffer)  # type: ignore[arg-type]
        self._pages += 1
        write_atomic(self.directory / f"page-{self._pages:06d}.parquet", buffer.getvalue())
        self.stored += page.height
        self.last_open_ms = int(page[OPEN_MS][-1])
        return AppendResult(page.height, 0, 0)

    def window_done(self, symbol: str, window: tuple[int, int], now_ms: int) -> None:
        del symbol, window, now_ms

    def finish(self, symbol: str) -> None:
        del symbol

    # -- reading back ------------------------------------------------------------------------

    def bars(self) -> pl.DataFrame:
        """Every stored candle as ``symbol, ts, open..volume``, sorted, each time once."""
        pages = sorted(self.directory.glob(PAGE_GLOB))
        if not pages:
            return pl.DataFrame(schema={"symbol": pl.String, "ts": pl.Int64, **_PAGE_SCHEMA})
        frame = self._read(pages).unique(OPEN_MS, keep="first").sort(OPEN_MS)
        return frame.select(
            pl.lit(self.job.symbol).alias("symbol"),
            (pl.col(OPEN_MS) * NS_PER_MS).alias("ts"),
            *VALUE_COLUMNS,
        )

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class _BarProgress:
    """The one-symbol progress bar of fetch-data (a ``data.download.DownloadObserver``)."""

    def __init__(self, progress: Progress, task: TaskID, store: PartialStore) -> None:
        self.progress, self.task, self.store = progress, task, store

    def planned(self, plans: Sequence[SymbolPlan]) -> None:
        del plans

    def started(self, plan: SymbolPlan, report: SymbolReport) -> None:
        del plan, report

    def advanced(self, report: SymbolReport) -> None:
        span = self.store.job.end_ms - self.store.job.start_ms
        done = span - report.span_ms + report.done_ms  # what earlier runs stored counts too
        self.progress.update(self.task, completed=min(done, span), bars=self.store.stored)

    def finished(self, report: SymbolReport) -> None:
        del report


async def _download(
    job: FetchJob, out: Path, factory: VenueFactory, options: HistoryOptions
) -> PartialStore:
    """Fetch what the partial store lacks (closed candles only); the store when done."""
    length_ms = int(factory.history_intervals[job.interval])
    async with factory.history(options) as source:
        resolve_symbols([job.symbol], await source.symbols(), job.venue, "--symbol")
        store = PartialStore(out, job)
        now_ms = wall_clock_ms()
        end_ms = closed_end_ms(job.end_ms, now_ms, length_ms)
        plan = store.plan(job.symbol, job.start_ms, end_ms, now_ms)
        if not plan.windows:
            return store
        if store.stored:
            err_console().print(
                f"resuming after {store.stored:,} stored bars "
                f"(from {ns_to_iso(store.resume_ms * NS_PER_MS)})"
            )
        with Progress(
            TextColumn(f"{job.symbol} {job.interval}"),
            BarColumn(),
            TextColumn("{task.fields[bars]:,} bars"),
            TimeElapsedColumn(),
            console=err_console(),
            transient=True,
            disable=not err_console().is_terminal,
        ) as progress:
            task = progress.add_task("fetch", total=job.end_ms - job.start_ms, bars=store.stored)
            observer = _BarProgress(progress, task, store)
            report = await fetch_symbol(
                source, store, plan, job.interval, length_ms, now_ms, observer
            )
    error = report.error
    if isinstance(error, OSError):
        raise InputError(
            f"--out: cannot write {store.directory}: {error.strerror or error}"
        ) from error
    if error is not None:
        error.args = (
            f"{error}; {store.stored:,} bars are kept in {store.directory}: "
            "rerun the same command to resume",
        )
        raise error
    return store


def _encode(bars: BarData, out: Path) -> bytes:
    """The bytes ``data.loader.save_bars`` would write: Parquet with ``symbol``, a UTC
    ``timestamp`` and the value columns; CSV with ISO-8601 ``Z`` timestamps."""
    frame = bars.frame
    timestamps = pl.from_epoch(frame["ts"], time_unit="ns").dt.replace_time_zone("UTC")
    values = frame.select(VALUE_COLUMNS)
    buffer = io.BytesIO()
    if out.name.lower().endswith(PARQUET_EXTENSIONS):
        pl.DataFrame([frame["symbol"], timestamps.alias("timestamp")]).hstack(values).write_parquet(
            buffer
        )
    else:
        text = timestamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("timestamp")
        pl.DataFrame([text]).hstack(values).write_csv(buffer)
    return buffer.getvalue()


def _describe(manifest: object) -> str:
    if not isinstance(manifest, dict):
        return "unreadable manifest"
    try:
        return (
            f"{manifest['symbol']} {manifest['interval']} "
            f"{ns_to_iso(int(manifest['start_ms']) * NS_PER_MS)} .. "
            f"{ns_to_iso(int(manifest['end_ms']) * NS_PER_MS)}"
        )
    except (KeyError, TypeError, ValueError):
        return "unreadable manifest"


def _check_symbol(symbol: str) -> str:
    name = symbol.strip()
    if not name:
        raise InputError("--symbol: must not be empty")
    return name


def _parse_time(option: str, text: str) -> int:
    """UTC milliseconds from a date or an ISO-8601 time (no offset means UTC)."""
    try:
        return iso_to_ns(text) // NS_PER_MS
    except ValueError:
        raise InputError(
            f"{option}: expected a date or ISO-8601 time such as 2024-01-01 or "
            f"2024-01-01T12:00:00Z, got {text!r}"
        ) from None


def _check_out(out: Path) -> None:
    name = out.name.lower()
    if not name.endswith(PARQUET_EXTENSIONS + CSV_EXTENSIONS) or name.endswith(".csv.gz"):
        raise InputError(f"--out: {out} must end in .parquet, .pq or .csv")
    if out.is_dir():
        raise InputError(f"--out: {out} is a directory")
    parent = out.parent
    if not parent.is_dir():
        raise InputError(f"--out: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"--out: directory {parent} is not writable")

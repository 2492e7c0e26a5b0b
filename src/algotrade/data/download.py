"""Download a venue's history: many symbols at once, each page stored as it arrives.

One ``HistorySource`` (``venues/registry.py``) serves every symbol, so the venue's own rate
limiter, which lives in the source's HTTP client, keeps the total request rate within the
venue's limit however many symbols are in flight; ``concurrency`` only bounds how many
symbols are fetched at the same time.

A ``BarSink`` says what to fetch (``plan``) and stores each page (``append``); the page loop
(``fetch_symbol``) is the same for ``algotrade data download`` (``CatalogSink``: the bar
catalog) and ``algotrade fetch-data`` (one symbol into a file). Only closed bars are stored:
a bar whose close time is after ``now`` is dropped, so the venue's still-open candle never
enters the catalog. A page is appended before the next is asked for, so an interruption
keeps everything fetched and a rerun plans from what is stored.

``CatalogSink`` plans per symbol from the catalog's coverage: the part of the requested range
before the first stored bar, the known gaps and the part after the last stored bar, minus the
ranges the venue is already known to have no bars in. Those are remembered in a small ledger
(``<data_dir>/downloads/venue=<v>/interval=<i>.json``, one per venue and interval) after each
completely fetched window, so a rerun asks the venue nothing it answered before (a symbol
listed after ``--start``, a market's closed hours). Ranges younger than ``SETTLE_NS`` are
never remembered as empty: a venue may publish a closed bar a little late.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import polars as pl

from algotrade.core.errors import AlgoTradeError, InputError
from algotrade.core.timeutil import ns_to_iso
from algotrade.data.catalog import AppendResult, Catalog
from algotrade.data.download_plan import (
    NS_PER_MS,
    CatalogSink,
    SymbolPlan,
    Window,
)
from algotrade.data.intervals import INTERVAL_PATTERN, interval_ns
from algotrade.venues.registry import (
    HistoryCandle,
    HistoryOptions,
    HistorySource,
    VenueFactory,
    get_venue,
    venue_names,
)

_log = logging.getLogger(__name__)

_FRAME_SCHEMA = {
    "ts": pl.Int64,
    **dict.fromkeys(("open", "high", "low", "close", "volume"), pl.Float64),
}


@dataclass(slots=True)
class SymbolReport:
    """What a symbol's download did; ``error`` set when it stopped early."""

    symbol: str
    span_ms: int
    added: int = 0
    skipped: int = 0
    conflicts: int = 0
    pages: int = 0
    done_ms: int = 0
    last_open_ms: int | None = None
    gaps_left: int = 0  # bars missing inside the requested range after the download
    error: AlgoTradeError | OSError | None = field(default=None, repr=False)

    def count(self, result: AppendResult) -> None:
        self.added += result.added
        self.skipped += result.skipped
        self.conflicts += result.conflicts


class BarSink(Protocol):
    """Where pages go, and what is still missing there."""

    def plan(self, symbol: str, start_ms: int, end_ms: int, now_ms: int) -> SymbolPlan: ...

    def append(self, symbol: str, frame: pl.DataFrame) -> AppendResult:
        """Store a page (``ts`` in ns and the OHLCV columns); called from a worker thread."""

    def window_done(self, symbol: str, window: Window, now_ms: int) -> None:
        """The venue served everything it has in ``window`` (worker thread)."""

    def finish(self, symbol: str) -> None:
        """Every window of the symbol is done (worker thread)."""


class DownloadObserver(Protocol):
    """Progress of a download (called on the event loop's thread)."""

    def planned(self, plans: Sequence[SymbolPlan]) -> None: ...

    def started(self, plan: SymbolPlan, report: SymbolReport) -> None: ...

    def advanced(self, report: SymbolReport) -> None: ...

    def finished(self, report: SymbolReport) -> None: ...


# ---------------------------------------------------------------------------- the page loop
def closed_end_ms(end_ms: int, now_ms: int, length_ms: int) -> int:
    """Where to stop asking so that every bar opening before it has closed by ``now_ms``."""
    return min(end_ms, now_ms - length_ms + 1)


def candles_frame(candles: Sequence[HistoryCandle]) -> pl.DataFrame:
    """A page as a bar frame: ``ts`` (open time, ns) and float OHLCV columns."""
    return pl.DataFrame(
        {
            "ts": [c.open_ms * NS_PER_MS for c in candles],
            "open": [float(c.open) for c in candles],
            "high": [float(c.high) for c in candles],
            "low": [float(c.low) for c in candles],
            "close": [float(c.close) for c in candles],
            "volume": [float(c.volume) for c in candles],
        },
        schema=_FRAME_SCHEMA,
    )


async def fetch_symbol(
    source: HistorySource,
    sink: BarSink,
    plan: SymbolPlan,
    interval: str,
    length_ms: int,
    now_ms: int,
    observer: DownloadObserver,
) -> SymbolReport:
    """Fetch ``plan``'s windows page by page into ``sink``. A venue or storage error ends the
    symbol's download and is kept in the report (what was stored stays stored)."""
    report = SymbolReport(plan.symbol, plan.span_ms)
    observer.started(plan, report)
    done_before = 0
    try:
        for start, end in plan.windows:
            pages = source.candles(plan.symbol, interval, start, end)
            try:
                async for page in pages:
                    closed = [
                        c
                        for c in page
                        if start <= c.open_ms < end and c.open_ms + length_ms <= now_ms
                    ]
                    if not closed:
                        continue
                    frame = candles_frame(closed)
                    result = await asyncio.to_thread(sink.append, plan.symbol, frame)
                    report.count(result)
                    report.pages += 1
                    report.last_open_ms = closed[-1].open_ms
                    report.done_ms = done_before + min(closed[-1].open_ms + length_ms, end) - start
                    observer.advanced(report)
            finally:  # a page that failed to store leaves the venue's pager suspended: end it
                aclose = getattr(pages, "aclose", None)
                if aclose is not None:
                    await aclose()
            await asyncio.to_thread(sink.window_done, plan.symbol, (start, end), now_ms)
            done_before += end - start
            report.done_ms = done_before
            observer.advanced(report)
        await asyncio.to_thread(sink.finish, plan.symbol)
    except (AlgoTradeError, OSError) as exc:
        report.error = exc
    observer.finished(report)
    return report


async def fetch_plans(
    source: HistorySource,
    sink: BarSink,
    plans: Sequence[SymbolPlan],
    interval: str,
    length_ms: int,
    *,
    now_ms: int,
    concurrency: int,
    observer: DownloadObserver,
) -> list[SymbolReport]:
    """Every plan fetched by at most ``concurrency`` symbols at a time; reports in plan order."""
    observer.planned(plans)
    pending = deque(plans)
    reports: dict[str, SymbolReport] = {}

    async def worker() -> None:
        while pending:
            plan = pending.popleft()
            reports[plan.symbol] = await fetch_symbol(
                source, sink, plan, interval, length_ms, now_ms, observer
            )

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, len(plans))))]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:  # one failed (a bug) or we were cancelled: stop the others
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return [reports[plan.symbol] for plan in plans]


# ---------------------------------------------------------------------------- checks
def history_factory(venue: str) -> VenueFactory:
    """The registered venue named ``venue`` that has history to download."""
    name = venue.strip().lower()
    known = venue_names()
    factory = get_venue(name) if name in known else None
    if factory is None or not factory.history_intervals:
        raise InputError(
            f"--venue: unknown venue {venue!r} or one without history; registered: "
            f"{', '.join(known) or 'none'}"
        )
    return factory


def check_interval(interval: str, factory: VenueFactory, *, catalog: bool) -> int:
    """The interval's length in ms; ``InputError`` naming ``--interval`` when the venue does
    not serve it (or, for the catalog, when it is not a fixed length such as 1w or 1M)."""
    usable = [
        name
        for name, ms in factory.history_intervals.items()
        if not catalog or (INTERVAL_PATTERN.match(name) and interval_ns(name) == ms * NS_PER_MS)
    ]
    if interval not in usable:
        where = f"{factory.name} history" + (" in the catalog" if catalog else "")
        raise InputError(
            f"--interval: {interval!r} is not an interval of {where}; expected one of "
            f"{' '.join(usable)}"
        )
    return int(factory.history_intervals[interval])


def resolve_symbols(
    requested: Sequence[str] | None, known: Sequence[str], venue: str, option: str = "--symbols"
) -> list[str]:
    """``requested`` (None: every symbol the venue lists) checked against ``known``."""
    if requested is None:
        if not known:
            raise InputError(f"{option}: {venue} lists no symbols")
        return list(dict.fromkeys(known))
    listed = set(known)
    unknown = [s for s in requested if s not in listed]
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        sample = ", ".join(known[:5]) + (", …" if len(known) > 5 else "")
        names = ", ".join(repr(s) for s in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        verb = "is not a coin" if len(unknown) == 1 else "are not coins"
        raise InputError(
            f"{option}: {names} {verb} on {venue} ({len(known)} listed: {sample}){hint}"
        )
    return list(dict.fromkeys(requested))


# ---------------------------------------------------------------------------- the whole job
@dataclass(frozen=True, slots=True)
class DownloadRequest:
    """``algotrade data download``'s options, checked (``symbols`` None: all of them)."""

    factory: VenueFactory
    symbols: tuple[str, ...] | None
    interval: str
    start_ms: int
    end_ms: int | None  # None: now
    concurrency: int = 4
    options: HistoryOptions = field(default_factory=HistoryOptions)


def wall_clock_ms() -> int:
    return time.time_ns() // NS_PER_MS


async def download_to_catalog(
    request: DownloadRequest,
    catalog: Catalog,
    ledger_dir: Path,
    observer: DownloadObserver,
    *,
    clock: Callable[[], int] = wall_clock_ms,
) -> list[SymbolReport]:
    """Bring the catalog's series of ``request`` up to date: symbols are checked against the
    venue's list before any candle is asked for; one report per symbol, in request order."""
    factory = request.factory
    length_ms = check_interval(request.interval, factory, catalog=True)
    now_ms = clock()
    end_ms = now_ms if request.end_ms is None else min(request.end_ms, now_ms)
    if request.start_ms >= end_ms:
        raise InputError(
            f"--start: {ns_to_iso(request.start_ms * NS_PER_MS)} is not before "
            f"{'--end' if request.end_ms is not None and request.end_ms <= now_ms else 'now'} "
            f"({ns_to_iso(end_ms * NS_PER_MS)})"
        )
    async with factory.history(request.options) as source:
        symbols = resolve_symbols(request.symbols, await source.symbols(), factory.name)
        sink = CatalogSink(catalog, factory.name, request.interval, ledger_dir)
        for symbol in symbols:
            sink.key(symbol)  # a name the catalog cannot store fails before any download
        closed_end = closed_end_ms(end_ms, now_ms, length_ms)
        plans = [sink.plan(s, request.start_ms, closed_end, now_ms) for s in symbols]
        reports = await fetch_plans(
            source,
            sink,
            plans,
            request.interval,
            length_ms,
            now_ms=now_ms,
            concurrency=request.concurrency,
            observer=observer,
        )
    for report in reports:
        report.gaps_left = sink.gaps_left(report.symbol, request.start_ms, end_ms)
    return reports

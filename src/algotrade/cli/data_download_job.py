"""What ``algotrade data download`` does (``cli/data_download_cmd.py`` is only the command's
options, so that its ``--help`` does not import polars and the venue packages)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from algotrade.cli.console import err_console, out_console
from algotrade.cli.data_options import parse_symbol_list
from algotrade.cli.data_options import parse_time_ns as _parse_time_ns
from algotrade.cli.errors import EXIT_FAILURE, fail
from algotrade.core.errors import InputError
from algotrade.core.timeutil import ns_to_iso
from algotrade.data.catalog import Catalog
from algotrade.data.download import (
    DownloadRequest,
    SymbolReport,
    check_interval,
    download_to_catalog,
    history_factory,
)
from algotrade.data.download_plan import NS_PER_MS, SymbolPlan
from algotrade.venues.registry import HistoryOptions

LEDGER_DIR = "downloads"


def run_download(
    venue: str,
    symbols: str,
    interval: str,
    start: str,
    end: str | None,
    data_dir: Path,
    concurrency: int,
    testnet: bool,
    api_url: str | None,
) -> None:
    """Download bars of many symbols from a venue into the catalog (resumable)."""
    factory = history_factory(venue)
    check_interval(interval, factory, catalog=True)
    start_ns = _parse_time_ns("--start", start)
    end_ns = _parse_time_ns("--end", end)
    assert start_ns is not None
    if end_ns is not None and end_ns <= start_ns:
        raise InputError(f"--end: {end} is not after --start {start}")
    if data_dir.exists() and not data_dir.is_dir():
        raise InputError(f"--data-dir: {data_dir} is not a directory")
    wanted = parse_symbol_list(symbols)
    request = DownloadRequest(
        factory=factory,
        symbols=None if wanted is None else tuple(wanted),
        interval=interval,
        start_ms=-(-start_ns // NS_PER_MS),
        end_ms=None if end_ns is None else -(-end_ns // NS_PER_MS),
        concurrency=concurrency,
        options=HistoryOptions(testnet=testnet, api_url=api_url),
    )
    catalog = Catalog.for_data_dir(data_dir)
    with _observer() as observer:
        try:
            reports = asyncio.run(
                download_to_catalog(request, catalog, data_dir / LEDGER_DIR, observer)
            )
        except KeyboardInterrupt:
            observer.stop()
            fail(
                "interrupted: every page downloaded so far is stored in the catalog; "
                "rerun the same command to resume",
                130,
            )
    _print_summary(reports, f"{factory.name} {interval} → {catalog.root}")
    failed = [r for r in reports if r.error is not None]
    if failed:
        first = failed[0]
        fail(
            f"{len(failed)} of {len(reports)} symbols failed (first: {first.symbol}: "
            f"{first.error}); the bars downloaded are stored: rerun the same command to resume",
            EXIT_FAILURE,
        )


# ---------------------------------------------------------------------------- progress
class _Observer:
    """Progress on stderr: rich bars in a terminal, one plain line per finished symbol
    otherwise (a log file or a pipe gets no cursor movement)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[bars]:>10,} bars"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not self.live,
        )
        self.overall: TaskID | None = None
        self.tasks: dict[str, TaskID] = {}
        self.done: dict[str, int] = {}  # ms of each symbol's plan done
        self.added: dict[str, int] = {}
        self.total_symbols = 0
        self.finished_symbols = 0
        self.bars = 0

    def __enter__(self) -> _Observer:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.progress.stop()

    def planned(self, plans: Sequence[SymbolPlan]) -> None:
        self.total_symbols = len(plans)
        span = sum(p.span_ms for p in plans)
        self.overall = self.progress.add_task(
            f"all {len(plans)} symbols", total=max(span, 1), bars=0
        )
        if not self.live:
            fetching = sum(1 for p in plans if p.windows)
            self.console.print(
                f"{len(plans)} symbols, {fetching} to fetch, {len(plans) - fetching} up to date",
                highlight=False,
            )

    def started(self, plan: SymbolPlan, report: SymbolReport) -> None:
        if plan.windows:
            self.tasks[plan.symbol] = self.progress.add_task(
                escape(plan.symbol), total=plan.span_ms, bars=0
            )

    def advanced(self, report: SymbolReport) -> None:
        self.bars += report.added - self.added.get(report.symbol, 0)
        self.added[report.symbol] = report.added
        self.done[report.symbol] = report.done_ms
        task = self.tasks.get(report.symbol)
        if task is not None:
            self.progress.update(task, completed=report.done_ms, bars=report.added)
        if self.overall is not None:
            self.progress.update(self.overall, completed=sum(self.done.values()), bars=self.bars)

    def finished(self, report: SymbolReport) -> None:
        self.finished_symbols += 1
        task = self.tasks.pop(report.symbol, None)
        if task is not None:
            self.progress.remove_task(task)
        self.done[report.symbol] = report.span_ms
        if self.overall is not None:
            self.progress.update(self.overall, completed=sum(self.done.values()))
        line = f"[{self.finished_symbols}/{self.total_symbols}] {_outcome(report)}"
        self.console.print(escape(line), highlight=False)


def _observer() -> _Observer:
    return _Observer(err_console())


def _outcome(report: SymbolReport) -> str:
    if report.error is not None:
        return f"{report.symbol}: failed after {report.added:,} new bars: {report.error}"
    if not report.span_ms:
        return f"{report.symbol}: up to date"
    if report.last_open_ms is None:
        return f"{report.symbol}: no new bars"
    last = ns_to_iso(report.last_open_ms * NS_PER_MS)
    return f"{report.symbol}: {report.added:,} new bars (last opens {last})"


def _print_summary(reports: Sequence[SymbolReport], title: str) -> None:
    table = Table(title=escape(title), header_style="bold")
    for column in ("symbol", "added", "skipped", "gaps left", "result"):
        table.add_column(column, justify="left" if column in ("symbol", "result") else "right")
    for r in reports:
        if r.error is not None:
            result = f"[red]failed[/red]: {escape(str(r.error))}"
        else:
            result = "up to date" if not r.span_ms else "ok"
        skipped = f"{r.skipped:,}" + (f" ({r.conflicts:,} differ)" if r.conflicts else "")
        table.add_row(escape(r.symbol), f"{r.added:,}", skipped, f"{r.gaps_left:,}", result)
    total = sum(r.added for r in reports)
    table.caption = f"{total:,} bars added; {sum(r.error is not None for r in reports)} failed"
    out_console().print(table)

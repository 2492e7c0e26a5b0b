"""``algotrade backtest``: run a strategy over historical bars and report.

Everything heavy (polars, numpy, plotly, the engine) is imported inside the functions that use
it, so ``algotrade backtest --help`` and a mistyped option answer without loading it; only
typer and rich (which typer uses for help anyway) load with the module.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from algotrade.cli.console import err_console
from algotrade.cli.data_options import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    parse_range,
    reject_reference_options,
)
from algotrade.cli.errors import exit_interrupted, parse_params
from algotrade.core.errors import DataError, InputError

if TYPE_CHECKING:
    from algotrade.backtest.result import BacktestResult
    from algotrade.backtest.runner import BacktestConfig
    from algotrade.backtest.universe import StrategySpec, UniverseResult
    from algotrade.data.bars import BarData

PROGRESS_MIN_BARS = 200_000


def backtest(
    strategy: Annotated[str, typer.Option(help="built-in strategy name or a path to a .py file")],
    data: Annotated[
        list[str] | None,
        typer.Option("--data", help="CSV/Parquet OHLCV file, or SYMBOL=FILE; repeat"),
    ] = None,
    symbols: Annotated[
        str | None,
        typer.Option(
            "--symbols",
            help="bars by reference instead of --data: VENUE:A,B from the catalog (or --source); "
            "several symbols run as a universe, each symbol its own backtest",
        ),
    ] = None,
    interval: Annotated[
        str | None, typer.Option(help="bar interval of --symbols, e.g. 1m 1h 1d")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="--symbols: first bar, UTC date or ISO-8601 (inclusive)")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="--symbols: end, UTC date or ISO-8601 (exclusive)")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(help="--symbols: 'catalog' (default) or a postgresql:// URL (warm tier)"),
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, help="universe: worker processes (default: all cores from 8 symbols on)"
        ),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="strategy parameter key=value; repeat")
    ] = None,
    cash: Annotated[str, typer.Option(help="initial cash")] = "100000",
    commission: Annotated[str, typer.Option(help="fee rate per fill, fraction of notional")] = "0",
    slippage_bps: Annotated[str, typer.Option(help="adverse slippage on market fills")] = "0",
    periods_per_year: Annotated[int, typer.Option(help="annualisation of daily returns")] = 252,
    json_out: Annotated[Path | None, typer.Option("--json", help="write results as JSON")] = None,
    report: Annotated[Path | None, typer.Option(help="write a self-contained HTML report")] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            envvar="ALGOTRADE_DEBUG",
            help="print the full traceback when the strategy raises (or ALGOTRADE_DEBUG=1)",
        ),
    ] = False,
) -> None:
    """Backtest a strategy on historical bars with the paper venue."""
    from algotrade.backtest.runner import BacktestConfig  # noqa: PLC0415 (see module docstring)
    from algotrade.backtest.strategy_failure import create_checked  # noqa: PLC0415
    from algotrade.backtest.universe import StrategySpec  # noqa: PLC0415
    from algotrade.cli.costs import parse_costs  # noqa: PLC0415
    from algotrade.data.loader import load_bars  # noqa: PLC0415
    from algotrade.data.sources import load_reference  # noqa: PLC0415
    from algotrade.strategies.registry import get_strategy_class  # noqa: PLC0415

    with strategy_traceback(debug):
        reference = check_data_options(data, symbols, interval, start, end, source, workers)
        costs = parse_costs(cash, commission, slippage_bps)
        config = BacktestConfig(
            initial_cash=costs.cash, commission=costs.commission, slippage_bps=costs.slippage_bps
        )
        if periods_per_year < 1:
            raise InputError("--periods-per-year: must be a positive integer")
        params = parse_params(param or [])
        strat = create_checked(get_strategy_class(strategy), params)
        if reference is None:
            bars = load_bars(data or [])
        else:
            venue, names = reference
            if len(names) > 1:
                run_universe_command(
                    venue,
                    names,
                    interval or "",
                    parse_range(start, end),
                    StrategySpec(strategy, params),
                    config,
                    data_dir=data_dir,
                    source=source,
                    workers=workers,
                    periods_per_year=periods_per_year,
                    json_out=json_out,
                    report=report,
                )
                return
            start_ns, end_ns = parse_range(start, end)
            bars = load_reference(
                venue, names, interval or "", start_ns, end_ns, data_dir=data_dir, source=source
            )
        run_and_report(
            bars, strat, config, periods_per_year=periods_per_year, json_out=json_out, report=report
        )


def check_data_options(
    data: list[str] | None,
    symbols: str | None,
    interval: str | None,
    start: str | None,
    end: str | None,
    source: str | None,
    workers: int | None,
) -> tuple[str, list[str]] | None:
    """Exactly one of ``--data`` and ``--symbols``; the reference options only with
    ``--symbols``. The parsed ``VENUE:A,B`` reference, or None for ``--data``."""
    if bool(data) == (symbols is not None):
        raise InputError(
            "backtest: give exactly one of --data FILE (a bar file) and --symbols VENUE:A,B "
            "(bars from the catalog)"
        )
    if symbols is None:
        reject_reference_options(
            (
                ("--interval", interval),
                ("--start", start),
                ("--end", end),
                ("--source", source),
                ("--workers", workers),
            )
        )
        return None
    from algotrade.data.catalog import parse_refs  # noqa: PLC0415
    from algotrade.data.intervals import interval_ns  # noqa: PLC0415

    if interval is None:
        raise InputError("--interval: required with --symbols, e.g. --interval 1h")
    interval_ns(interval, field="--interval")
    return parse_refs(symbols)


@contextmanager
def strategy_traceback(debug: bool) -> Iterator[None]:
    """With ``debug``, print the strategy's original traceback before its one-line error."""
    from algotrade.backtest.strategy_failure import StrategyFailedError  # noqa: PLC0415

    try:
        yield
    except StrategyFailedError as exc:
        if debug:  # the one-line error still follows, printed by the CLI's error handler
            cause = exc.__cause__ or exc
            traceback.print_exception(type(cause), cause, cause.__traceback__, file=sys.stderr)
        raise


def run_and_report(
    bars: BarData,
    strat: Any,
    config: BacktestConfig,
    *,
    periods_per_year: int,
    json_out: Path | None,
    report: Path | None,
    synthetic: bool = False,
) -> BacktestResult:
    from algotrade.backtest.benchmark import benchmark_metrics  # noqa: PLC0415
    from algotrade.backtest.metrics import compute_metrics  # noqa: PLC0415
    from algotrade.backtest.runner import run_backtest  # noqa: PLC0415

    check_output_paths({"--json": json_out, "--report": report})
    if len(bars) >= PROGRESS_MIN_BARS and err_console().is_terminal:
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        with Progress(
            TextColumn("backtest"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} bars"),
            TimeRemainingColumn(),
            console=err_console(),
            transient=True,
        ) as progress:
            task = progress.add_task("run", total=len(bars))
            result = run_backtest(
                bars,
                strat,
                config,
                synthetic=synthetic,
                progress=lambda done, _total: progress.update(task, completed=done),
            )
    else:
        result = run_backtest(bars, strat, config, synthetic=synthetic)
    result.metrics = compute_metrics(result, periods_per_year=periods_per_year)
    result.benchmark_metrics = benchmark_metrics(result)
    print_metrics(result)
    try:
        if json_out is not None:
            from algotrade.backtest.export import write_json  # noqa: PLC0415

            write_json(result, json_out)
            err_console().print(f"wrote {json_out}")
        if report is not None:
            from algotrade.backtest.report import write_report  # noqa: PLC0415

            write_report(result, bars.frame, report)
            err_console().print(f"wrote {report}")
    except OSError as exc:
        raise InputError(f"cannot write output: {exc}") from exc
    return result


def check_output_paths(targets: dict[str, Path | None]) -> None:
    """Refuse, before a possibly long run, output paths that can never be written.

    Missing folders are fine (the writers create them); a target that is a folder, a parent
    that is a file, an unwritable folder or one file given for two outputs is not.
    """
    seen: dict[Path, str] = {}
    for option, target in targets.items():
        if target is None:
            continue
        path = Path(target)
        if path.is_dir():
            raise InputError(f"{option} {path}: is a folder, expected a file path")
        existing = path.parent
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise InputError(f"{option} {path}: {existing} is a file, not a folder")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise InputError(f"{option} {path}: folder {existing} is not writable")
        resolved = path.resolve()
        if resolved in seen:
            raise InputError(f"{option} {path}: the same file as {seen[resolved]}")
        seen[resolved] = option


def print_metrics(result: BacktestResult) -> None:
    """The metrics table, formatted like the HTML report's (``backtest.metric_format``)."""
    from rich.markup import escape  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from algotrade.backtest.metric_format import display_metrics, metric_rows  # noqa: PLC0415

    console = Console()
    title = f"{result.strategy} on {', '.join(result.symbols)}"
    if result.synthetic:
        title += "  [bold yellow](SIMULATED DATA)[/]"
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    values = display_metrics(result.metrics, result.benchmark_metrics)
    for number, (group, rows) in enumerate(metric_rows(values)):
        if number:
            table.add_section()
        table.add_row(f"[bold]{escape(group)}[/]", "")
        for label, text in rows:
            table.add_row(f"  {escape(label)}", escape(text))
    console.print(table)


def run_universe_command(
    venue: str,
    symbols: list[str],
    interval: str,
    window: tuple[int | None, int | None],
    spec: StrategySpec,
    config: BacktestConfig,
    *,
    data_dir: Path,
    source: str | None,
    workers: int | None,
    periods_per_year: int,
    json_out: Path | None,
    report: Path | None,
) -> UniverseResult:
    """``backtest --symbols VENUE:A,B,…``: each symbol its own backtest, a table per symbol
    with the aggregate row, and the universe's JSON / HTML outputs."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: PLC0415

    from algotrade.backtest.universe import run_universe  # noqa: PLC0415
    from algotrade.backtest.universe_report import (  # noqa: PLC0415
        write_universe_json,
        write_universe_report,
    )
    from algotrade.data.sources import load_available  # noqa: PLC0415

    check_output_paths({"--json": json_out, "--report": report})
    bars = load_available(venue, symbols, interval, *window, data_dir=data_dir, source=source)
    if not bars:
        raise DataError(
            f"no {interval} bars of {venue}:{','.join(symbols)} in the requested range; "
            "'algotrade data list' shows what is stored"
        )
    try:
        with Progress(
            TextColumn("universe"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} symbols"),
            TimeRemainingColumn(),
            console=err_console(),
            transient=True,
            disable=not err_console().is_terminal,
        ) as progress:
            task = progress.add_task("run", total=len(symbols))
            universe = run_universe(
                bars,
                symbols,
                spec,
                config,
                periods_per_year=periods_per_year,
                workers=workers,
                on_done=lambda _run: progress.advance(task),
                details=json_out is not None or report is not None,
            )
    except KeyboardInterrupt:  # the progress bar is gone: the line stays last
        # Its pool is stopped (run_universe): a normal exit, so multiprocessing's own clean-up
        # runs (an immediate exit left its tracker warning of leaked semaphores).
        exit_interrupted("error: interrupted (nothing written)")
    print_universe(universe, f"{spec.name} on {venue} {interval}")
    try:
        if json_out is not None:
            write_universe_json(universe, json_out, venue=venue, interval=interval)
            err_console().print(f"wrote {json_out}")
        if report is not None:
            write_universe_report(universe, bars, report, venue=venue, interval=interval)
            err_console().print(f"wrote {report} (and one report per symbol beside it)")
    except OSError as exc:
        raise InputError(f"cannot write output: {exc}") from exc
    if not universe.succeeded:
        first = next(run for run in universe.runs if run.error)
        raise InputError(f"backtest: no symbol could run; {first.symbol}: {first.error}")
    return universe


def print_universe(universe: UniverseResult, title: str) -> None:
    from rich.markup import escape  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from algotrade.backtest.universe_report import summary_lines, table_rows  # noqa: PLC0415

    headings, rows, total = table_rows(universe)
    table = Table(title=escape(title), show_header=True, header_style="bold")
    for number, heading in enumerate(headings):
        numeric = 0 < number < len(headings) - 1
        table.add_column(heading, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    table.add_section()
    table.add_row(*(f"[bold]{escape(cell)}[/]" for cell in total))
    console = Console()
    console.print(table)
    for line in summary_lines(universe):
        console.print(escape(line))

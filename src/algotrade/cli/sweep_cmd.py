"""``algotrade sweep``: a grid or random sweep of a strategy's parameters over symbols, on a
local process pool or a Dask cluster, stored and resumable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from algotrade.atomic_file import write_atomic
from algotrade.cli.backtest_cmd import check_output_paths
from algotrade.cli.console import err_console
from algotrade.cli.data_options import DEFAULT_DATA_DIR, DataDirOption
from algotrade.cli.errors import exit_interrupted, silence_logs_on_interrupt
from algotrade.cli.research_options import (
    CashOption,
    ClusterOption,
    CommissionOption,
    DataFilesOption,
    DbUrlOption,
    EndOption,
    HeatmapOption,
    IntervalOption,
    OosFractionOption,
    PeriodsOption,
    ReportOption,
    ResumeOption,
    SlippageOption,
    SourceOption,
    StartOption,
    StrategyOption,
    SymbolsOption,
    WorkersOption,
    cell,
    check_no_run_options,
    data_ref,
    heatmap_axes,
    load_datasets,
    open_run,
    stored_options,
)
from algotrade.core.errors import InputError

# The research stack (polars, the engine, SQLAlchemy, the executors) is imported by the
# functions that run a sweep, not for --help; research.sweep.DEFAULT_BATCH_SIZE is repeated
# for the option's default (a test keeps them equal).
DEFAULT_BATCH_SIZE = 8

if TYPE_CHECKING:
    from algotrade.data.bars import BarData
    from algotrade.research.evaluate import ResultRow
    from algotrade.research.objectives import Objective
    from algotrade.research.sweep import SweepOutcome, SweepPlan

TOP_ROWS = 10


def sweep(
    strategy: StrategyOption = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="NAME=START:STOP:STEP, NAME=A,B,C or NAME=VALUE; repeat per parameter",
        ),
    ] = None,
    symbols: SymbolsOption = None,
    interval: IntervalOption = None,
    start: StartOption = None,
    end: EndOption = None,
    source: SourceOption = None,
    data: DataFilesOption = None,
    samples: Annotated[
        int | None, typer.Option(help="random search: this many grid points (default: all)")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of --samples")] = 0,
    metric: Annotated[
        str, typer.Option(help="metric to rank by (METRIC or METRIC:max|min)")
    ] = "sharpe",
    minimize: Annotated[bool, typer.Option("--minimize", help="lower metric is better")] = False,
    folds: Annotated[
        int | None, typer.Option(help="walk-forward: K rolling in/out-of-sample folds")
    ] = None,
    oos_fraction: OosFractionOption = 0.25,
    cluster: ClusterOption = "local",
    workers: WorkersOption = None,
    batch_size: Annotated[int, typer.Option(help="parameter sets per task")] = DEFAULT_BATCH_SIZE,
    cash: CashOption = "100000",
    commission: CommissionOption = "0",
    slippage_bps: SlippageOption = "0",
    periods_per_year: PeriodsOption = 252,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    db_url: DbUrlOption = None,
    resume: ResumeOption = None,
    report: ReportOption = None,
    heatmap: HeatmapOption = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write the ranking as JSON")
    ] = None,
) -> None:
    """Sweep a strategy's parameters (grid or random) over symbols; stored and resumable."""
    from algotrade.research.executors import check_cluster  # noqa: PLC0415
    from algotrade.research.run_store import check_run_id  # noqa: PLC0415
    from algotrade.research.sweep import run_sweep  # noqa: PLC0415

    check_output_paths({"--json": json_out, "--report": report})
    check_cluster(cluster, workers)
    if batch_size < 1:
        raise InputError(f"--batch-size: must be at least 1, got {batch_size}")
    if resume is not None:
        check_no_run_options(strategy, param, symbols, data)
        options = stored_options(data_dir, check_run_id(resume), source)
    else:
        if strategy is None:
            raise InputError("--strategy: required (or --resume RUN_ID)")
        options = {
            "strategy": strategy,
            "params": list(param or []),
            "samples": samples,
            "seed": seed,
            "metric": _objective(metric, minimize).label,
            "config": {
                "cash": cash,
                "commission": commission,
                "slippage_bps": slippage_bps,
                "periods_per_year": periods_per_year,
            },
            "batch_size": batch_size,
            "folds": folds,
            "oos_fraction": oos_fraction,
            "data": data_ref(symbols, interval, start, end, source, data),
        }
    axes = heatmap_axes(heatmap, list(options["params"]))
    datasets = load_datasets(options["data"], data_dir, source)
    plan = _plan(options, datasets)
    if resume is not None and plan.run_id != resume:
        raise InputError(
            f"--resume {resume}: the data changed since the run started "
            f"(it is now run {plan.run_id}); start a new run"
        )
    # Its interruption line says what was kept: no library records after a Ctrl-C.
    with (
        silence_logs_on_interrupt(),
        open_run(data_dir, db_url, cluster, workers) as (
            store,
            executor,
        ),
    ):
        _say_plan(plan)
        try:
            with _progress(plan) as on_batch:
                outcome = run_sweep(plan, datasets, executor, store, on_batch=on_batch)
        except KeyboardInterrupt:  # the progress bar is gone: the line stays last
            stored = len(store.done_batches(plan.run_id))
            exit_interrupted(
                f"interrupted: {stored} of {len(plan.batches)} batches stored; run the same "
                f"command or --resume {plan.run_id} to continue"
            )
        _print_outcome(outcome, plan.objective)
        _write_outputs(outcome, plan, json_out, report, axes)


def _objective(metric: str, minimize: bool) -> Objective:
    from algotrade.research.objectives import Objective, parse_objective  # noqa: PLC0415

    objective = parse_objective(metric)
    if minimize:
        if ":" in metric:
            raise InputError("--minimize: the --metric already says max or min")
        return Objective(objective.metric, "min")
    return objective


def _plan(options: dict[str, Any], datasets: dict[str, BarData]) -> SweepPlan:
    from algotrade.cli.costs import parse_costs  # noqa: PLC0415
    from algotrade.research.evaluate import EvalConfig  # noqa: PLC0415
    from algotrade.research.objectives import parse_objective  # noqa: PLC0415
    from algotrade.research.space import parse_space  # noqa: PLC0415
    from algotrade.research.sweep import plan_sweep  # noqa: PLC0415
    from algotrade.strategies.registry import get_strategy_class  # noqa: PLC0415

    config = options["config"]
    if config["periods_per_year"] < 1:
        raise InputError("--periods-per-year: must be a positive integer")
    costs = parse_costs(config["cash"], config["commission"], config["slippage_bps"])
    eval_config = EvalConfig(
        cash=costs.cash,
        commission=costs.commission,
        slippage_bps=costs.slippage_bps,
        periods_per_year=config["periods_per_year"],
    )
    space = parse_space(get_strategy_class(options["strategy"]), options["params"])
    plan = plan_sweep(
        options["strategy"],
        space,
        datasets,
        objective=parse_objective(options["metric"]),
        config=eval_config,
        samples=options["samples"],
        seed=options["seed"],
        batch_size=options["batch_size"],
        fold_count=options["folds"],
        oos_fraction=options["oos_fraction"],
        options=options,  # what --resume rebuilds the run from
    )
    if not plan.sample.param_sets:
        raise InputError(
            f"--param: no valid parameter combination ({plan.sample.rejected} rejected: "
            f"{plan.sample.first_rejection})"
        )
    return plan


def _say_plan(plan: SweepPlan) -> None:
    sample = plan.sample
    dropped = (
        f", {sample.rejected} invalid combination(s) dropped ({sample.first_rejection})"
        if sample.rejected
        else ""
    )
    datasets = len(plan.spec["datasets"])
    windows = len(plan.spec["windows"])
    err_console().print(
        f"sweep {plan.run_id}: {len(sample.param_sets)} parameter sets × {datasets} datasets "
        f"× {windows} windows = {len(sample.param_sets) * datasets * windows} backtests "
        f"in {len(plan.batches)} batches{escape(dropped)}"
    )


@contextmanager
def _progress(plan: SweepPlan) -> Iterator[Any]:
    """A per-batch callback: a live bar on a terminal, a line per batch otherwise."""
    if not err_console().is_terminal:

        def line(done: int, total: int, rows: list[ResultRow]) -> None:
            err_console().print(f"batch {rows[0].batch_id} stored ({done}/{total})")

        yield line
        return
    with Progress(
        TextColumn("sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("batches"),
        TimeRemainingColumn(),
        console=err_console(),
        transient=True,
    ) as progress:
        task = progress.add_task("sweep", total=len(plan.batches))

        def update(done: int, total: int, rows: list[ResultRow]) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _print_outcome(outcome: SweepOutcome, objective: Objective) -> None:
    from algotrade.research.sweep import ranking_frame  # noqa: PLC0415

    if outcome.skipped_batches:
        err_console().print(
            f"resumed: {outcome.skipped_batches} of {outcome.total_batches} batches were stored"
        )
    errors = sum(1 for row in outcome.rows if row.error)
    if errors:
        first = next(row.error for row in outcome.rows if row.error)
        err_console().print(f"{errors} backtests failed; first: {escape(first or '')}")
    console = Console()
    scope = "mean out of sample" if outcome.walkforward else "mean over datasets"
    table = Table(title=f"top {TOP_ROWS} by {objective.label} ({scope}) — run {outcome.run_id}")
    frame = ranking_frame(outcome.ranking, TOP_ROWS)
    shown = [c for c in frame.columns if c.startswith("param_")]
    shown += ["score", "total_return", "max_drawdown", "trades"]
    shown = [c for c in shown if c in frame.columns]
    for column in shown:
        table.add_column(column.removeprefix("param_"), justify="right")
    for record in frame.iter_rows(named=True):
        table.add_row(*(escape(cell(record[c])) for c in shown))
    console.print(table)
    if outcome.walkforward is not None:
        folds = Table(title="walk-forward: each fold's in-sample best, out of sample")
        for column in ("fold", "params", "in-sample", "out-of-sample", "note"):
            folds.add_column(column)
        for result in outcome.walkforward.results:
            folds.add_row(
                str(result.fold.index),
                escape(json.dumps(result.params, sort_keys=True)),
                cell(result.is_value),
                cell(result.oos_value),
                escape(result.note),
            )
        console.print(folds)
    console.print(f"results: {outcome.run_dir}")


def _write_outputs(
    outcome: SweepOutcome,
    plan: SweepPlan,
    json_out: Path | None,
    report: Path | None,
    heatmap: tuple[str, str] | None,
) -> None:
    from algotrade.research.sweep import ranking_frame  # noqa: PLC0415

    if json_out is not None:
        document = {
            "run_id": outcome.run_id,
            "path": str(outcome.run_dir),
            "metric": plan.objective.label,
            "ranking": ranking_frame(outcome.ranking, len(outcome.ranking)).to_dicts(),
            "walkforward": None if outcome.walkforward is None else outcome.walkforward.to_json(),
        }
        json_out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(json_out, json.dumps(document, indent=2, default=str) + "\n")
        err_console().print(f"wrote {json_out}")
    if report is not None:
        try:
            from algotrade.research.report import write_run_report  # noqa: PLC0415
        except ImportError:
            raise InputError("--report: the run report is not available in this build") from None
        report.parent.mkdir(parents=True, exist_ok=True)
        write_run_report(outcome.run_dir, report, heatmap=heatmap)
        err_console().print(f"wrote {report}")

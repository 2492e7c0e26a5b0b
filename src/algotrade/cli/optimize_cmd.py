"""``algotrade optimize``: Optuna (TPE, NSGA-II, pruning) over a strategy's parameters, on the
local process pool or a Dask cluster, stored and resumable (research.optimize)."""

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

# The research stack (polars, the engine, SQLAlchemy, Optuna) is imported by the functions
# that run an optimization, not for --help.
if TYPE_CHECKING:
    from algotrade.research.optimize import OptimizeOutcome, OptimizeSpec
    from algotrade.research.optimize_study import ProgressCallback
    from algotrade.research.walkforward import WalkForwardSummary


def optimize(
    strategy: StrategyOption = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="NAME=LOW:HIGH[:log], NAME=START:STOP:STEP, NAME=A,B,C or NAME=VALUE; repeat",
        ),
    ] = None,
    symbols: SymbolsOption = None,
    interval: IntervalOption = None,
    start: StartOption = None,
    end: EndOption = None,
    source: SourceOption = None,
    data: DataFilesOption = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(help="objective METRIC[:max|min]; repeat for a Pareto front (NSGA-II)"),
    ] = None,
    trials: Annotated[int, typer.Option(help="trials per study (per fold with --folds)")] = 100,
    sampler: Annotated[
        str | None, typer.Option(help="tpe or nsga2 (default: tpe for one metric, else nsga2)")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="sampler seed (reproducible trials)")] = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="stop unpromising trials early (one metric only)")
    ] = False,
    pruner: Annotated[str, typer.Option(help="median or halving (with --prune)")] = "median",
    folds: Annotated[
        int | None, typer.Option(help="walk-forward: K folds, a study on each in-sample window")
    ] = None,
    oos_fraction: OosFractionOption = 0.25,
    anchored: Annotated[
        bool, typer.Option("--anchored", help="in-sample windows all start at the first bar")
    ] = False,
    parallel: Annotated[
        int | None,
        typer.Option(help="trials evaluated at once (default: the workers); part of the seed"),
    ] = None,
    cluster: ClusterOption = "local",
    workers: WorkersOption = None,
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
        Path | None, typer.Option("--json", help="write the outcome as JSON")
    ] = None,
) -> None:
    """Optimize a strategy's parameters with Optuna (TPE, NSGA-II, pruning); resumable."""
    from algotrade.research.executors import check_cluster  # noqa: PLC0415
    from algotrade.research.optimize import (  # noqa: PLC0415
        optimization_run_id,
        plan_optimization,
        run_optimization,
    )
    from algotrade.research.run_store import check_run_id  # noqa: PLC0415

    check_output_paths({"--json": json_out, "--report": report})
    kind, size = check_cluster(cluster, workers)
    if resume is not None:
        check_no_run_options(strategy, param, symbols, data)
        options = stored_options(data_dir, check_run_id(resume), source)
    else:
        if strategy is None:
            raise InputError("--strategy: required (or --resume RUN_ID)")
        options = {
            "strategy": strategy,
            "params": list(param or []),
            "metrics": list(metric or ["sharpe"]),
            "trials": trials,
            "sampler": sampler or "",
            "seed": seed,
            "prune": prune,
            "pruner": pruner,
            "folds": folds,
            "oos_fraction": oos_fraction,
            "anchored": anchored,
            "parallel": parallel or (size if isinstance(size, int) else None),
            "config": {
                "cash": cash,
                "commission": commission,
                "slippage_bps": slippage_bps,
                "periods_per_year": periods_per_year,
            },
            "data": data_ref(symbols, interval, start, end, source, data),
        }
    spec_draft = _spec(options, datasets=())
    spec_draft.check()  # bad options fail before any data is read
    axes = heatmap_axes(heatmap, list(spec_draft.params))
    datasets = load_datasets(options["data"], data_dir, source)
    # The search space, the strategy and the folds too: nothing is said or stored before.
    plan = plan_optimization(_spec(options, datasets=tuple(datasets)), datasets)
    # Its interruption line says what was kept: no library records after a Ctrl-C.
    with (
        silence_logs_on_interrupt(),
        open_run(data_dir, db_url, cluster, workers) as (
            store,
            executor,
        ),
    ):
        if options["parallel"] is None:  # a Dask cluster: its size is known once connected
            options["parallel"] = executor.workers
        spec = _spec(options, datasets=tuple(datasets))
        err_console().print(
            f"optimize {spec.strategy} ({kind}): {spec.trials} trials × "
            f"{len(datasets)} dataset(s){f' × {spec.folds} folds' if spec.folds else ''}, "
            f"{spec.sampler_name}, {spec.parallel} at a time"
        )
        try:
            with _progress() as progress:
                outcome = run_optimization(
                    spec,
                    datasets,
                    executor,
                    store,
                    options=options,
                    progress=progress,
                    plan=plan,
                )
        except KeyboardInterrupt:  # the progress bar is gone: the line stays last
            run_id = optimization_run_id(spec, datasets, options)
            if not store.has_run(run_id):
                raise  # stopped before the run began: nothing to resume
            stored = len(store.done_batches(run_id))
            exit_interrupted(
                f"interrupted: {stored} batches stored; run the same command or "
                f"--resume {run_id} to continue"
            )
        if resume is not None and outcome.run_id != resume:
            err_console().print(
                f"note: the data changed since run {resume}; this is run {outcome.run_id}"
            )
        _print_outcome(outcome, spec)
        run_dir = store.run_dir(outcome.run_id)
    _write_outputs(outcome, run_dir, json_out, report, axes)


def _spec(options: dict[str, Any], *, datasets: tuple[str, ...]) -> OptimizeSpec:
    from algotrade.cli.costs import parse_costs  # noqa: PLC0415
    from algotrade.research.evaluate import EvalConfig  # noqa: PLC0415
    from algotrade.research.objectives import parse_objectives  # noqa: PLC0415
    from algotrade.research.optimize import OptimizeSpec  # noqa: PLC0415
    from algotrade.research.optimize_spec import PRUNERS, SAMPLERS  # noqa: PLC0415

    if options["sampler"] and options["sampler"] not in SAMPLERS:
        raise InputError(f"--sampler: expected tpe or nsga2, got {options['sampler']!r}")
    if options["pruner"] not in PRUNERS:
        raise InputError(f"--pruner: expected median or halving, got {options['pruner']!r}")
    config = options["config"]
    if config["periods_per_year"] < 1:
        raise InputError("--periods-per-year: must be a positive integer")
    costs = parse_costs(config["cash"], config["commission"], config["slippage_bps"])
    return OptimizeSpec(
        strategy=options["strategy"],
        params=tuple(options["params"]),
        objectives=tuple(parse_objectives(options["metrics"])),
        datasets=datasets or ("(not loaded yet)",),
        trials=options["trials"],
        sampler=options["sampler"],
        seed=options["seed"],
        prune=options["prune"],
        pruner=options["pruner"],
        folds=options["folds"],
        oos_fraction=options["oos_fraction"],
        anchored=options["anchored"],
        parallel=options["parallel"] or 1,
        config=EvalConfig(
            cash=costs.cash,
            commission=costs.commission,
            slippage_bps=costs.slippage_bps,
            periods_per_year=config["periods_per_year"],
        ),
    )


@contextmanager
def _progress() -> Iterator[ProgressCallback]:
    """Trials done per study: a live bar on a terminal, a line per wave otherwise."""
    if not err_console().is_terminal:

        def line(study: str, done: int, total: int) -> None:
            if done == total or done * 10 // total != (done - 1) * 10 // total:
                err_console().print(f"{study}: {done}/{total} trials")  # about every tenth

        yield line
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("trials"),
        TimeRemainingColumn(),
        console=err_console(),
        transient=True,
    ) as progress:
        tasks: dict[str, Any] = {}

        def update(study: str, done: int, total: int) -> None:
            if study not in tasks:
                tasks[study] = progress.add_task(study, total=total)
            progress.update(tasks[study], completed=done, total=total)

        yield update


def _print_outcome(outcome: OptimizeOutcome, spec: OptimizeSpec) -> None:
    console = Console()
    labels = [objective.label for objective in spec.objectives]
    for study in outcome.studies:
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(study.counts.items()))
        title = "best trial" if len(labels) == 1 else f"Pareto front ({len(study.best)} points)"
        table = Table(title=f"{study.name}: {title} — trials: {counts}")
        table.add_column("trial", justify="right")
        table.add_column("parameters")
        for label in labels:
            table.add_column(label, justify="right")
        for point in study.best:
            table.add_row(
                str(point["number"]),
                escape(json.dumps(point["params"], sort_keys=True)),
                *(cell(value) for value in point["values"]),
            )
        console.print(table)
        for kind, reason in sorted(study.reasons.items()):
            err_console().print(f"{study.name}: {kind} trials, e.g.: {escape(reason)}")
    if outcome.walkforward is not None:
        _print_walkforward(console, outcome.walkforward)
    err_console().print(
        f"{outcome.evaluated} backtests run, {outcome.reused} answered from the cache; "
        f"run {outcome.run_id}"
    )


def _print_walkforward(console: Console, summary: WalkForwardSummary) -> None:
    label = summary.objective.label
    table = Table(title=f"walk-forward by {label}: each fold's in-sample best, out of sample")
    for column in ("fold", "parameters", "in-sample", "out-of-sample", "note"):
        table.add_column(column)
    for result in summary.results:
        table.add_row(
            str(result.fold.index),
            escape(json.dumps(result.params, sort_keys=True)),
            cell(result.is_value),
            cell(result.oos_value),
            escape(result.note),
        )
    table.add_row("mean", "", cell(summary.is_mean), cell(summary.oos_mean), "")
    console.print(table)
    if summary.oos_total_return is not None:
        console.print(f"compounded out-of-sample return: {summary.oos_total_return:.2%}")


def _write_outputs(
    outcome: OptimizeOutcome,
    run_dir: Path,
    json_out: Path | None,
    report: Path | None,
    heatmap: tuple[str, str] | None,
) -> None:
    if json_out is not None:
        document = {"path": str(run_dir), **outcome.to_json()}
        json_out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(json_out, json.dumps(document, indent=2, default=str) + "\n")
        err_console().print(f"wrote {json_out}")
    if report is not None:
        from algotrade.research.report import write_run_report  # noqa: PLC0415 (plotly)

        report.parent.mkdir(parents=True, exist_ok=True)
        write_run_report(run_dir, report, heatmap=heatmap)
        err_console().print(f"wrote {report}")

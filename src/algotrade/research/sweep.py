"""A parameter sweep: every parameter set of a space × every dataset × every window.

``plan_sweep`` turns the space, the datasets and the walk-forward folds into batches with
stable ids and a spec whose digest is the run id; ``run_sweep`` runs the batches not stored yet
on an executor, storing each as it finishes (so an interrupted sweep resumes where it stopped),
then ranks the parameter sets and, with folds, reports each fold's in-sample winner out of
sample (``research.walkforward``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from algotrade.data.bars import BarData
from algotrade.research.evaluate import Batch, EvalConfig, ResultRow, Window
from algotrade.research.executors import Executor
from algotrade.research.objectives import Objective
from algotrade.research.run_store import RunStore, run_id_for
from algotrade.research.space import ParameterSpace, SpaceSample
from algotrade.research.walkforward import (
    Fold,
    ParamScore,
    WalkForwardSummary,
    folds,
    save_summary,
    score_params,
    summarize,
)

DEFAULT_BATCH_SIZE = 8
BatchCallback = Callable[[int, int, list[ResultRow]], None]
"""Called after each stored batch with (batches stored, batches in the run, its rows)."""


class SweepInterrupted(Exception):
    """Raise from a batch callback to stop a sweep early; it is marked interrupted."""


@dataclass(frozen=True, slots=True)
class SweepPlan:
    run_id: str
    spec: dict[str, Any]
    batches: list[Batch]
    sample: SpaceSample
    folds: list[Fold]
    objective: Objective


@dataclass(frozen=True, slots=True)
class SweepOutcome:
    run_id: str
    run_dir: Path
    total_batches: int
    skipped_batches: int  # stored by an earlier, interrupted run
    rows: list[ResultRow]
    ranking: list[ParamScore]  # parameter sets best first (OOS windows with folds)
    walkforward: WalkForwardSummary | None


def dataset_fingerprint(bars: BarData) -> dict[str, Any]:
    """Rows, first/last bar and a digest of the bar values: a run resumed on different data
    is a different run."""
    digest = hashlib.sha256()
    frame = bars.frame
    for name in ("ts", "open", "high", "low", "close", "volume"):
        digest.update(np.ascontiguousarray(frame[name].to_numpy()).tobytes())
    return {
        "bars": len(bars),
        "start_ns": bars.start_ns,
        "end_ns": bars.end_ns,
        "sha256": digest.hexdigest(),
    }


def strategy_fingerprint(strategy: str) -> str | None:
    """A digest of a strategy file's bytes (a changed file is a different run); ``None`` for
    a built-in."""
    if not strategy.endswith(".py"):
        return None
    return hashlib.sha256(Path(strategy).read_bytes()).hexdigest()


def plan_sweep(
    strategy: str,
    space: ParameterSpace,
    datasets: Mapping[str, BarData],
    *,
    objective: Objective,
    config: EvalConfig,
    samples: int | None = None,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    fold_count: int | None = None,
    oos_fraction: float = 0.25,
    options: Mapping[str, Any] | None = None,
) -> SweepPlan:
    """The batches of a sweep and its run id. ``options`` are the command's own (where the
    data came from, ...): stored in the spec, so ``--resume`` can rebuild the run."""
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    sample = space.grid() if samples is None else space.random(samples, seed)
    fold_list: list[Fold] = []
    windows: list[tuple[str, Window]] = [("", (None, None))]
    if fold_count is not None:
        times = np.concatenate([bars.frame["ts"].to_numpy() for bars in datasets.values()])
        fold_list = folds(None, None, fold_count, oos_fraction, ts=times)
        windows = [
            (tag, window)
            for fold in fold_list
            for tag, window in ((fold.is_tag, fold.is_window), (fold.oos_tag, fold.oos_window))
        ]
    spec = {
        "strategy": strategy,
        "strategy_sha256": strategy_fingerprint(strategy),
        "space": space.to_json(),
        "samples": samples,
        "seed": seed if samples is not None else None,
        "metric": objective.label,
        "config": config.to_json(),
        "batch_size": batch_size,
        "folds": fold_count,
        "oos_fraction": oos_fraction if fold_count is not None else None,
        "windows": [[tag, start, end] for tag, (start, end) in windows],
        "options": dict(options or {}),
        "datasets": {key: dataset_fingerprint(bars) for key, bars in datasets.items()},
    }
    batches = []
    sets = sample.param_sets
    for d_index, key in enumerate(datasets):
        for w_index, (tag, window) in enumerate(windows):
            for chunk, offset in enumerate(range(0, len(sets), batch_size)):
                batches.append(
                    Batch(
                        batch_id=f"d{d_index:04d}-w{w_index:03d}-c{chunk:06d}",
                        strategy=strategy,
                        param_sets=sets[offset : offset + batch_size],
                        dataset=key,
                        window=window,
                        config=config,
                        tag=tag,
                    )
                )
    return SweepPlan(run_id_for("sweep", spec), spec, batches, sample, fold_list, objective)


def run_sweep(
    plan: SweepPlan,
    datasets: Mapping[str, BarData],
    executor: Executor,
    store: RunStore,
    *,
    on_batch: BatchCallback | None = None,
) -> SweepOutcome:
    """Run the plan's batches that ``store`` does not hold yet; see the module docstring.

    A ``KeyboardInterrupt`` or ``SweepInterrupted`` marks the run interrupted, any other
    exception failed; finished batches stay stored either way.
    """
    total = len(plan.batches)
    done = store.begin(plan.run_id, plan.spec, kind="sweep", total_batches=total)
    try:  # from here on the run is "running" in the store: it must end marked
        todo = [batch for batch in plan.batches if batch.batch_id not in done]
        stored = total - len(todo)
        if todo:
            needed = {batch.dataset for batch in todo}
            executor.put_data({key: bars for key, bars in datasets.items() if key in needed})
            results = executor.run(todo)
            try:
                for rows in results:
                    store.write_part(plan.run_id, rows[0].batch_id, rows)
                    stored += 1
                    if on_batch is not None:
                        on_batch(stored, total, rows)
            finally:
                # Now, not whenever the generator is collected: an interrupted run's executor
                # cancels what is still queued before the interruption goes on.
                close = getattr(results, "close", None)
                if close is not None:
                    close()
        # The final store too: a Ctrl-C while it ranks and marks the run done leaves the run
        # marked interrupted, not "running".
        outcome = _conclude(plan, store, total, skipped=total - len(todo))
    except (KeyboardInterrupt, SweepInterrupted):
        store.finish(plan.run_id, "interrupted")
        raise
    except BaseException:
        store.finish(plan.run_id, "failed")
        raise
    return outcome


def _conclude(plan: SweepPlan, store: RunStore, total: int, *, skipped: int) -> SweepOutcome:
    """Rank the stored rows, store the walk-forward summary and mark the run done."""
    rows = store.rows(plan.run_id)
    ranking = rank(rows, plan.objective, oos=bool(plan.folds))
    summary = None
    if plan.folds:
        summary = summarize(
            plan.folds,
            rows,
            plan.objective,
            anchored=False,
            oos_fraction=float(plan.spec["oos_fraction"]),
        )
        save_summary(store.run_dir(plan.run_id), summary)
    best = ranking[0] if ranking else None
    store.finish(
        plan.run_id,
        "done",
        best_metric=plan.objective.metric,
        best_value=None if best is None else best.value,
    )
    return SweepOutcome(
        run_id=plan.run_id,
        run_dir=store.run_dir(plan.run_id),
        total_batches=total,
        skipped_batches=skipped,
        rows=rows,
        ranking=ranking,
        walkforward=summary,
    )


def rank(rows: Sequence[ResultRow], objective: Objective, *, oos: bool) -> list[ParamScore]:
    """Parameter sets best first by the mean objective over datasets (and, with ``oos``,
    over every fold's out-of-sample window)."""
    wanted = [row for row in rows if (row.tag.startswith("oos:") if oos else row.tag == "")]
    return score_params(wanted, objective)


def ranking_frame(ranking: Sequence[ParamScore], n: int) -> pl.DataFrame:
    """The first ``n`` of ``ranking`` as a table: param_<name> columns, the score, metrics."""
    records = []
    for score in ranking[:n]:
        record: dict[str, Any] = {f"param_{k}": v for k, v in score.params.items()}
        record["score"] = score.value
        record["datasets"] = score.datasets
        record.update(score.metrics)
        record["error"] = score.error
        records.append(record)
    return pl.DataFrame(records, strict=False) if records else pl.DataFrame()

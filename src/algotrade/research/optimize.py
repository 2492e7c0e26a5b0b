"""``algotrade optimize``: Optuna studies whose trials run on the shared research executor.

- Samplers: TPE for one objective, NSGA-II (a Pareto front) for several; either can be chosen.
- Ask and tell: a wave of ``parallel`` trials is asked, each trial-step becomes one ``Batch``
  per dataset (research.optimize_eval), the executor runs them, and the trials are told
  (research.optimize_study). Rows are stored as each batch finishes. A parameter set proposed
  again is answered from the cache (no backtest) and still counts as a trial.
- Pruning (one objective only; Optuna cannot prune multi-objective studies): the steps of a
  trial are its datasets (several symbols: step ``s`` reports the mean over the first ``s+1``
  symbols) or, for one symbol, growing prefixes of its window (⅓, ⅔, all of it: the last step
  is the full evaluation, so a surviving trial's value is exactly the unpruned one). The median
  pruner or successive halving decides after each step.
- Walk-forward (``folds``): one study per fold on its in-sample window; the fold's best trial
  (with several objectives: the Pareto point best on the first) is evaluated on its
  out-of-sample window, and ``walkforward.json`` holds IS vs OOS per fold.
- Resumable: each study lives in ``optuna.sqlite`` in the run folder (Optuna's RDB storage) and
  every finished batch in the run store. Running again continues: finished trials stay, a trial
  the interruption cut short is asked again with the same parameters and its finished batches
  come from the store, not from a new backtest.

Determinism: trials are asked in waves and told in trial order once a wave step has all its
rows, so with ``seed`` and the same ``parallel`` the same trials are proposed whatever the number
of workers or the order results came back in. (A resumed run reseeds its sampler with ``seed``
plus the trials already done, so it proposes new points; it does not replay the uninterrupted
sequence.) Each evaluation is deterministic in any case (research.evaluate).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from algotrade.atomic_file import write_atomic
from algotrade.core.errors import InputError
from algotrade.data.bars import BarData
from algotrade.research.executors import Executor
from algotrade.research.optimize_eval import TrialEvaluator
from algotrade.research.optimize_space import SearchSpace, parse_search_space
from algotrade.research.optimize_spec import OptimizeOutcome, OptimizeSpec, StudyOutcome
from algotrade.research.optimize_study import PREFIX_STEPS, ProgressCallback, StudyDriver
from algotrade.research.run_store import RunStore, run_id_for
from algotrade.research.sweep import dataset_fingerprint, strategy_fingerprint
from algotrade.research.walkforward import (
    Fold,
    FoldResult,
    WalkForwardSummary,
    folds,
    save_summary,
    select_fold,
)
from algotrade.strategies.registry import get_strategy_class

STORAGE_FILE = "optuna.sqlite"
OUTCOME_FILE = "optimize.json"

__all__ = [
    "OptimizeOutcome",
    "OptimizePlan",
    "OptimizeSpec",
    "optimization_run_id",
    "plan_optimization",
    "run_optimization",
]


def run_document(
    spec: OptimizeSpec, datasets: Mapping[str, BarData], options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The run's ``run.json`` spec: ``spec``, fingerprints of the bars and of a strategy file
    (other data or another file is another run) and the command's ``options`` (what
    ``--resume`` rebuilds the run from). Its digest is the run id."""
    document = spec.to_json()
    document["data"] = {key: dataset_fingerprint(datasets[key]) for key in spec.datasets}
    document["strategy_sha256"] = strategy_fingerprint(spec.strategy)
    document["options"] = dict(options or {})
    return document


def optimization_run_id(
    spec: OptimizeSpec, datasets: Mapping[str, BarData], options: Mapping[str, Any] | None = None
) -> str:
    return run_id_for("optimize", run_document(spec, datasets, options))


@dataclass(frozen=True, slots=True)
class OptimizePlan:
    """What ``spec`` searches, over which bar times and folds: checked, nothing run yet."""

    space: SearchSpace
    times: np.ndarray  # every dataset's bar times, the folds' clock
    folds: list[Fold]


def plan_optimization(spec: OptimizeSpec, datasets: Mapping[str, BarData]) -> OptimizePlan:
    """Check every input of ``spec`` against the strategy and ``datasets`` (options, search
    space, datasets, folds): ``InputError`` naming the option, before anything is stored or
    said. ``run_optimization`` starts with it; a command calls it first to fail early."""
    spec.check()
    space = parse_search_space(get_strategy_class(spec.strategy), spec.params)
    missing = [key for key in spec.datasets if key not in datasets]
    if missing:
        raise InputError(f"--symbols: no bars for {', '.join(missing)}")
    times = np.concatenate([datasets[key].frame["ts"].to_numpy() for key in spec.datasets])
    fold_list = (
        folds(*spec.window, spec.folds, spec.oos_fraction, spec.anchored, ts=times)
        if spec.folds
        else []
    )
    return OptimizePlan(space, times, fold_list)


def run_optimization(
    spec: OptimizeSpec,
    datasets: Mapping[str, BarData],
    executor: Executor,
    store: RunStore,
    *,
    options: Mapping[str, Any] | None = None,
    progress: ProgressCallback | None = None,
    enqueue: Sequence[Mapping[str, Any]] = (),
    plan: OptimizePlan | None = None,
) -> OptimizeOutcome:
    """Run (or continue: same spec, same data, same run) the optimization ``spec``.

    ``enqueue``: Optuna parameter values to try first (tests and known-good starting points).
    ``plan``: ``plan_optimization(spec, datasets)`` when the caller checked the inputs already
    (the strategy is not loaded twice).
    A ``KeyboardInterrupt`` marks the run interrupted, any other error failed; finished trials
    and batches stay stored either way, and running the same spec again continues.
    """
    plan = plan or plan_optimization(spec, datasets)
    space, times, fold_list = plan.space, plan.times, plan.folds
    document = run_document(spec, datasets, options)
    run_id = run_id_for("optimize", document)
    run_dir = store.run_dir(run_id)
    store.begin(run_id, document, kind="optimize", total_batches=_planned(spec, fold_list))
    try:  # from here on the run is "running" in the store: it must end marked
        executor.put_data({key: datasets[key] for key in spec.datasets})
        evaluator = TrialEvaluator(
            strategy=spec.strategy,
            config=spec.config,
            executor=executor,
            store=store,
            run_id=run_id,
        )
        evaluator.load_stored()
        storage = f"sqlite:///{run_dir / STORAGE_FILE}"
        optuna.logging.set_verbosity(logging.WARNING)
        driver = StudyDriver(spec, space, evaluator, times, progress)
        if fold_list:
            outcomes, summary = _walk_forward(driver, storage, fold_list, enqueue)
            save_summary(run_dir, summary)
        else:
            outcomes = [driver.run(storage, "main", spec.window, "", enqueue)]
            summary = None
        # The final store too: a Ctrl-C while it is written leaves the run marked interrupted,
        # not "running".
        outcome = OptimizeOutcome(run_id, outcomes, summary, evaluator.evaluated, evaluator.reused)
        write_atomic(run_dir / OUTCOME_FILE, json.dumps(outcome.to_json(), indent=2) + "\n")
        if summary is not None:
            best = summary.oos_mean
        else:
            best = outcomes[0].best[0]["values"][0] if outcomes[0].best else None
        store.finish(run_id, "done", best_metric=spec.objectives[0].metric, best_value=best)
    except KeyboardInterrupt:
        store.finish(run_id, "interrupted")
        raise
    except BaseException:
        store.finish(run_id, "failed")  # finished trials and batches stay: rerun to continue
        raise
    return outcome


def _planned(spec: OptimizeSpec, fold_list: list[Fold]) -> int:
    """Batches the run will need at most (the summary row's progress denominator)."""
    studies = max(1, len(fold_list))
    steps = PREFIX_STEPS if spec.prune and len(spec.datasets) == 1 else 1
    return studies * spec.trials * len(spec.datasets) * steps + len(fold_list) * len(spec.datasets)


def _walk_forward(
    driver: StudyDriver,
    storage: str,
    fold_list: list[Fold],
    enqueue: Sequence[Mapping[str, Any]],
) -> tuple[list[StudyOutcome], WalkForwardSummary]:
    spec = driver.spec
    objective = spec.objectives[0]
    outcomes = []
    results: list[FoldResult] = []
    for fold in fold_list:
        outcome = driver.run(storage, f"fold{fold.index}", fold.is_window, fold.is_tag, enqueue)
        outcomes.append(outcome)
        if not outcome.best:
            results.append(FoldResult(fold, None, None, None, note="no trial completed"))
            continue
        best = outcome.best[0]["params"]
        is_rows = driver.rows(best, fold.is_window, fold.is_tag)
        oos_rows = driver.rows(best, fold.oos_window, fold.oos_tag)
        results.append(select_fold(fold, is_rows, oos_rows, objective))
    summary = WalkForwardSummary(objective, spec.anchored, spec.oos_fraction, results)
    return outcomes, summary

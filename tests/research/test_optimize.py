"""algotrade optimize's engine: Optuna studies on the research executor (in process here)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import polars as pl
import pytest

from algotrade.backtest.metrics import compute_metrics
from algotrade.backtest.runner import run_backtest
from algotrade.core.errors import InputError
from algotrade.data.bars import BarData
from algotrade.data.synthetic import generate_bars
from algotrade.research.evaluate import Batch, EvalConfig, ResultRow, evaluate_batch, slice_window
from algotrade.research.objectives import params_key, parse_objective
from algotrade.research.optimize import (
    OUTCOME_FILE,
    STORAGE_FILE,
    OptimizeSpec,
    run_optimization,
)
from algotrade.research.run_store import RunStore
from algotrade.research.walkforward import load_summary
from algotrade.strategies.ma_crossover import MACrossover

HOUR = 3_600_000_000_000
CONFIG = EvalConfig(cash=Decimal(10_000), commission=Decimal("0.0005"), periods_per_year=365)
BARS = generate_bars(500, symbol="SYN", seed=11, interval_ns=HOUR, volatility=0.01)
SHARPE = parse_objective("sharpe")
DRAWDOWN = parse_objective("max_drawdown")  # minimised


class InProcessExecutor:
    """The executor protocol, in this process: counts every backtest it runs and can yield a
    wave's results in reverse (a stand-in for workers finishing out of order) or stop with a
    KeyboardInterrupt after ``interrupt_after`` batches (a stand-in for Ctrl-C)."""

    def __init__(self, *, reverse: bool = False, interrupt_after: int | None = None) -> None:
        self.data: dict[str, BarData] = {}
        self.runs: list[tuple[str, str, Any]] = []  # (params key, dataset, window) per backtest
        self.reverse = reverse
        self.interrupt_after = interrupt_after

    @property
    def workers(self) -> int:
        return 1

    def put_data(self, datasets: Mapping[str, BarData]) -> None:
        self.data = dict(datasets)

    def run(self, batches: Iterable[Batch]) -> Iterator[list[ResultRow]]:
        ordered = list(batches)
        if self.reverse:
            ordered.reverse()
        for batch in ordered:
            if self.interrupt_after is not None and len(self.runs) >= self.interrupt_after:
                raise KeyboardInterrupt
            for params in batch.param_sets:
                self.runs.append((params_key(params), batch.dataset, batch.window))
            yield evaluate_batch(batch, self.data[batch.dataset])

    def data_loads(self) -> dict[str, dict[str, int]]:
        return {}

    def close(self) -> None:
        pass


def spec(**changes: Any) -> OptimizeSpec:
    base: dict[str, Any] = {
        "strategy": "ma_crossover",
        "params": ("fast=2:20", "slow=10:60"),
        "objectives": (SHARPE,),
        "datasets": ("SYN",),
        "trials": 16,
        "seed": 7,
        "config": CONFIG,
        "synthetic": True,
    }
    base.update(changes)
    return OptimizeSpec(**base)


def alone(params: dict[str, Any], bars: BarData, window: tuple[int | None, int | None]) -> dict:
    sliced = slice_window(bars, window)
    assert sliced is not None
    result = run_backtest(sliced, MACrossover(params), CONFIG.backtest_config())
    return compute_metrics(result, periods_per_year=CONFIG.periods_per_year)


def trial_params(store: RunStore, run_id: str, study: str = "main") -> list[dict[str, Any]]:
    storage = f"sqlite:///{store.run_dir(run_id) / STORAGE_FILE}"
    loaded = optuna.load_study(study_name=study, storage=storage)
    return [trial.user_attrs["params"] for trial in loaded.trials]


def test_tpe_best_trial_equals_running_its_parameters_alone(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    executor = InProcessExecutor()
    outcome = run_optimization(spec(), {"SYN": BARS}, executor, store)
    study = outcome.studies[0]
    assert sum(study.counts.values()) == 16
    assert study.counts.get("complete", 0) >= 8
    best = study.best[0]
    expected = alone(best["params"], BARS, (None, None))["sharpe"]
    assert best["values"] == [expected]
    # It is the best of every backtest the run stored (maximising sharpe).
    stored = [row for row in store.rows(outcome.run_id) if row.metrics.get("sharpe") is not None]
    assert max(row.metrics["sharpe"] for row in stored) == expected  # type: ignore[type-var]
    # The same parameter set is never backtested twice.
    assert len(executor.runs) == len(set(executor.runs)) == outcome.evaluated
    document = json.loads((store.run_dir(outcome.run_id) / OUTCOME_FILE).read_text())
    assert document["studies"][0]["best"][0]["params"] == best["params"]


def test_same_seed_same_trials_whatever_order_results_come_back(tmp_path: Path) -> None:
    first, second = RunStore(tmp_path / "a"), RunStore(tmp_path / "b")
    one = run_optimization(spec(parallel=3), {"SYN": BARS}, InProcessExecutor(), first)
    two = run_optimization(spec(parallel=3), {"SYN": BARS}, InProcessExecutor(reverse=True), second)
    assert one.run_id == two.run_id  # same spec, same data: the same run id
    assert trial_params(first, one.run_id) == trial_params(second, two.run_id)
    assert one.studies[0].best == two.studies[0].best


def test_repeated_proposals_are_answered_from_the_cache(tmp_path: Path) -> None:
    executor = InProcessExecutor()
    outcome = run_optimization(
        spec(params=("fast=3,5", "slow=20"), trials=10), {"SYN": BARS}, executor, RunStore(tmp_path)
    )
    assert len(executor.runs) <= 2  # two distinct parameter sets in the whole space
    assert outcome.reused >= 8


def dominates(a: list[float], b: list[float], signs: list[float]) -> bool:
    """a dominates b when no worse on every objective and better on one (signs: +1 max)."""
    no_worse = all(s * x >= s * y for x, y, s in zip(a, b, signs, strict=True))
    better = any(s * x > s * y for x, y, s in zip(a, b, signs, strict=True))
    return no_worse and better


def test_nsga2_pareto_front_is_non_dominated(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    outcome = run_optimization(
        spec(objectives=(SHARPE, DRAWDOWN), trials=24), {"SYN": BARS}, InProcessExecutor(), store
    )
    assert outcome.studies[0].counts.get("complete", 0) >= 10
    front = outcome.studies[0].best
    assert front
    # Every evaluated parameter set's (sharpe, drawdown), recomputed from the stored rows.
    points = {
        params_key(row.params): [row.metrics["sharpe"], row.metrics["max_drawdown"]]
        for row in store.rows(outcome.run_id)
        if row.metrics.get("sharpe") is not None and row.metrics.get("max_drawdown") is not None
    }
    signs = [1.0, -1.0]
    for point in front:
        values = point["values"]
        assert values == points[params_key(point["params"])]
        assert not any(dominates(other, values, signs) for other in points.values())
    # And every non-dominated evaluated point is on the front.
    front_keys = {params_key(point["params"]) for point in front}
    for key, values in points.items():
        if not any(dominates(other, values, signs) for other in points.values()):
            assert key in front_keys or any(points[k] == values for k in front_keys)


HOLD_STRATEGY = '''
from decimal import Decimal
from pydantic import Field
from algotrade.core.strategy import Strategy, StrategyParams


class HoldParams(StrategyParams):
    qty: int = Field(default=1, ge=0, le=10)


class Hold(Strategy):
    """Buys qty units on the first bar and holds them."""

    name = "hold"
    Params = HoldParams

    def on_bar(self, bar):
        if not getattr(self, "_done", False):
            self._done = True
            self.ctx.target_position(bar.symbol, Decimal(self.params.qty))
'''


def rising_bars(count: int) -> BarData:
    close = 100.0 + np.arange(count, dtype=np.float64)
    frame = pl.DataFrame(
        {
            "symbol": ["UP"] * count,
            "ts": 1_704_067_200 * 10**9 + np.arange(count, dtype=np.int64) * HOUR,
            "open": close,
            "high": close + 0.5,
            "low": close - 0.5,
            "close": close,
            "volume": np.full(count, 10.0),
        }
    )
    return BarData.from_frame(frame, "rising")


def test_pruning_prunes_trials_worse_than_the_median_at_a_step(tmp_path: Path) -> None:
    # Prices only rise, so a larger holding returns more over every prefix of the window: after
    # five completed trials holding 6..10 units, holding 0..2 is below their median (8) at the
    # first step and must be pruned.
    strategy = tmp_path / "hold.py"
    strategy.write_text(HOLD_STRATEGY)
    executor = InProcessExecutor()
    outcome = run_optimization(
        spec(
            strategy=str(strategy),
            params=("qty=0:10",),
            objectives=(parse_objective("total_return"),),
            datasets=("UP",),
            trials=8,
            prune=True,
        ),
        {"UP": rising_bars(90)},
        executor,
        RunStore(tmp_path / "data"),
        enqueue=[{"qty": q} for q in (10, 9, 8, 7, 6, 0, 1, 2)],
    )
    assert outcome.studies[0].counts == {"complete": 5, "pruned": 3}
    # A pruned trial ran its first step (a third of the window) only.
    full = (None, None)
    pruned_runs = [run for run in executor.runs if run[0] in ('{"qty":0}', '{"qty":1}')]
    assert pruned_runs
    assert all(window != full for _, _, window in pruned_runs)
    assert outcome.studies[0].best[0]["params"] == {"qty": 10}


def test_pruning_steps_over_several_symbols(tmp_path: Path) -> None:
    datasets = {
        "A": generate_bars(300, symbol="A", seed=1, interval_ns=HOUR, volatility=0.01),
        "B": generate_bars(300, symbol="B", seed=2, interval_ns=HOUR, volatility=0.01),
    }
    executor = InProcessExecutor()
    outcome = run_optimization(
        spec(datasets=("A", "B"), trials=20, prune=True), datasets, executor, RunStore(tmp_path)
    )
    counts = outcome.studies[0].counts
    assert sum(counts.values()) == 20
    best = outcome.studies[0].best[0]
    # The told value is the mean over both symbols of the full window.
    expected = [
        (alone(best["params"], datasets["A"], (None, None))["sharpe"])
        + alone(best["params"], datasets["B"], (None, None))["sharpe"]
    ]
    assert best["values"] == pytest.approx([expected[0] / 2], rel=1e-12)


def test_prune_refused_for_several_objectives(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--prune: Optuna prunes single-objective"):
        run_optimization(
            spec(objectives=(SHARPE, DRAWDOWN), prune=True),
            {"SYN": BARS},
            InProcessExecutor(),
            RunStore(tmp_path),
        )


def test_resume_after_interruption_does_not_rerun_finished_work(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    options = spec(parallel=4, trials=12)
    interrupted = InProcessExecutor(interrupt_after=6)  # mid-way through the second wave
    with pytest.raises(KeyboardInterrupt):
        run_optimization(options, {"SYN": BARS}, interrupted, store)
    assert len(interrupted.runs) == 6
    resumed = InProcessExecutor()
    outcome = run_optimization(options, {"SYN": BARS}, resumed, store)
    # Nothing the first run finished is run again...
    assert not set(interrupted.runs) & set(resumed.runs)
    assert len(resumed.runs) == len(set(resumed.runs))
    # ...and the study has the twelve trials asked for (the cut-short ones asked again).
    assert sum(outcome.studies[0].counts.values()) == 12
    assert outcome.reused >= 2  # the cut-short wave's finished batches came from the store
    assert store.load_run(outcome.run_id)["spec"]["trials"] == 12
    again = InProcessExecutor()
    rerun = run_optimization(options, {"SYN": BARS}, again, store)
    assert again.runs == []  # a finished run run again does nothing
    assert rerun.studies[0].best == outcome.studies[0].best


class CtrlCWhenDone(RunStore):
    """A Ctrl-C (its KeyboardInterrupt) comes as the run is marked done: the final store."""

    def finish(self, run_id: str, status: str, **summary: Any) -> None:
        if status == "done":
            raise KeyboardInterrupt
        super().finish(run_id, status, **summary)


def test_a_ctrl_c_as_the_run_is_marked_done_leaves_it_interrupted(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'algotrade.db'}"
    with CtrlCWhenDone(tmp_path, db) as store, pytest.raises(KeyboardInterrupt):
        run_optimization(spec(trials=4), {"SYN": BARS}, InProcessExecutor(), store)
    with RunStore(tmp_path, db) as store:
        (summary,) = store.runs()
    assert summary.status == "interrupted"  # was "running"


def test_walk_forward_reports_each_folds_winner_out_of_sample(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    outcome = run_optimization(
        spec(trials=10, folds=2, oos_fraction=0.3), {"SYN": BARS}, InProcessExecutor(), store
    )
    summary = outcome.walkforward
    assert summary is not None
    assert [s.name for s in outcome.studies] == ["fold0", "fold1"]
    assert load_summary(store.run_dir(outcome.run_id)) == summary
    for study, result in zip(outcome.studies, summary.results, strict=True):
        assert result.params == study.best[0]["params"]
        assert result.is_value == study.best[0]["values"][0]
        oos = alone(result.params, BARS, result.fold.oos_window)
        assert result.oos_value == oos["sharpe"]
        # The study never saw the OOS window: every IS backtest ended where OOS starts.
    is_rows = [row for row in store.rows(outcome.run_id) if row.tag.startswith("is:")]
    for row in is_rows:
        fold = summary.results[int(row.tag.split(":")[1])].fold
        assert row.window == fold.is_window


@pytest.mark.slow
def test_local_pool_of_two_workers_proposes_the_same_trials_as_in_process(tmp_path: Path) -> None:
    from algotrade.research.executors import make_executor

    options = spec(parallel=3, trials=9)
    alone_store, pool_store = RunStore(tmp_path / "a"), RunStore(tmp_path / "b")
    expected = run_optimization(options, {"SYN": BARS}, InProcessExecutor(), alone_store)
    with make_executor("local", workers=2) as executor:
        outcome = run_optimization(options, {"SYN": BARS}, executor, pool_store)
    assert trial_params(pool_store, outcome.run_id) == trial_params(alone_store, expected.run_id)
    assert outcome.studies[0].best == expected.studies[0].best

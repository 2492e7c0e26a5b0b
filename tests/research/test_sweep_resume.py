"""A sweep stopped after k batches resumes without running those k again, and ends with the
rows an uninterrupted sweep gives; walk-forward windows and the ranking."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from algotrade.data.bars import BarData
from algotrade.data.synthetic import generate_bars
from algotrade.research.evaluate import Batch, EvalConfig, ResultRow, evaluate_batch
from algotrade.research.executor_local import LocalExecutor
from algotrade.research.objectives import Objective
from algotrade.research.run_store import RunStore
from algotrade.research.space import parse_space
from algotrade.research.sweep import SweepInterrupted, SweepPlan, plan_sweep, run_sweep
from algotrade.research.walkforward import WALKFORWARD_FILE
from algotrade.strategies.ma_crossover import MACrossover

HOUR_NS = 3_600_000_000_000
DATASETS = {
    "sim:AAA:1h": generate_bars(1_200, symbol="AAA", seed=21, interval_ns=HOUR_NS),
    "sim:BBB:1h": generate_bars(1_200, symbol="BBB", seed=22, interval_ns=HOUR_NS),
}
SHARPE = Objective("sharpe", "max")


class CountingExecutor:
    """A real local pool that records every batch it is asked to run."""

    def __init__(self, workers: int = 2) -> None:
        self.inner = LocalExecutor(workers)
        self.ran: list[str] = []

    @property
    def workers(self) -> int:
        return self.inner.workers

    def put_data(self, datasets: object) -> None:
        self.inner.put_data(datasets)  # type: ignore[arg-type]

    def run(self, batches: Iterable[Batch]) -> Iterator[list[ResultRow]]:
        listed = list(batches)
        self.ran.extend(batch.batch_id for batch in listed)
        return self.inner.run(listed)

    def data_loads(self) -> object:
        return self.inner.data_loads()

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> CountingExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcessExecutor:
    """The executor protocol, in this process."""

    workers = 1

    def __init__(self) -> None:
        self.data: dict[str, BarData] = {}

    def put_data(self, datasets: Mapping[str, BarData]) -> None:
        self.data = dict(datasets)

    def run(self, batches: Iterable[Batch]) -> Iterator[list[ResultRow]]:
        for batch in batches:
            yield evaluate_batch(batch, self.data[batch.dataset])

    def data_loads(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass

    def __enter__(self) -> InProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CtrlCWhenDone(RunStore):
    """A Ctrl-C (its KeyboardInterrupt) comes as the run is marked done: the final store."""

    def finish(self, run_id: str, status: str, **summary: Any) -> None:
        if status == "done":
            raise KeyboardInterrupt
        super().finish(run_id, status, **summary)


def _plan(folds: int | None = None) -> SweepPlan:
    space = parse_space(MACrossover, ["fast=3:9:3", "slow=10,20"])
    return plan_sweep(
        "ma_crossover",
        space,
        DATASETS,
        objective=SHARPE,
        config=EvalConfig(periods_per_year=365),
        batch_size=2,
        fold_count=folds,
        oos_fraction=0.25,
    )


def _mean_sharpe(rows: list[ResultRow], tag: str, params: dict[str, int]) -> float | None:
    values = [r.metrics.get("sharpe") for r in rows if r.tag == tag and r.params == params]
    assert len(values) == len(DATASETS)
    if any(value is None for value in values):
        return None
    return sum(v for v in values if v is not None) / len(values)


def _direct(plan: SweepPlan) -> list[ResultRow]:
    rows = [row for b in plan.batches for row in evaluate_batch(b, DATASETS[b.dataset])]
    return sorted(rows, key=lambda r: r.batch_id)


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_from_where_it_stopped(tmp_path: Path) -> None:
    plan = _plan()
    assert len(plan.batches) == 6  # 6 parameter sets in pairs × 2 datasets
    stop_after = 2

    def stop(done: int, total: int, rows: list[ResultRow]) -> None:
        if done == stop_after:
            raise SweepInterrupted

    db = f"sqlite:///{tmp_path / 'algotrade.db'}"
    first = CountingExecutor()
    with RunStore(tmp_path, db) as store, first:
        with pytest.raises(SweepInterrupted):
            run_sweep(plan, DATASETS, first, store, on_batch=stop)
        stored_first = store.done_batches(plan.run_id)
        (summary,) = store.runs()
    assert len(stored_first) == stop_after
    assert (summary.status, summary.done_batches) == ("interrupted", stop_after)

    again = _plan()  # the same command again: the same run id
    assert again.run_id == plan.run_id
    second = CountingExecutor()
    with RunStore(tmp_path, db) as store, second:
        outcome = run_sweep(again, DATASETS, second, store)
        (summary,) = store.runs()
    assert sorted(second.ran) == sorted({b.batch_id for b in plan.batches} - stored_first)
    assert outcome.skipped_batches == stop_after
    assert (summary.status, summary.done_batches) == ("done", 6)
    assert outcome.rows == _direct(plan)
    assert summary.best_value == outcome.ranking[0].value


@pytest.mark.slow
def test_walk_forward_sweep_evaluates_every_window_and_reports_oos(tmp_path: Path) -> None:
    plan = _plan(folds=2)
    tags = {batch.tag for batch in plan.batches}
    assert tags == {"is:0", "oos:0", "is:1", "oos:1"}
    with RunStore(tmp_path) as store, LocalExecutor(2) as executor:
        outcome = run_sweep(plan, DATASETS, executor, store)
    assert outcome.rows == _direct(plan)
    assert outcome.walkforward is not None
    assert (outcome.run_dir / WALKFORWARD_FILE).exists()
    for result in outcome.walkforward.results:
        fold = result.fold
        assert fold.is_window[1] == fold.oos_window[0]
        assert result.params is not None
        assert result.oos_value is not None
        # The fold's winner has the best mean in-sample sharpe over both datasets ...
        means = {
            str(params): _mean_sharpe(outcome.rows, fold.is_tag, params)
            for params in plan.sample.param_sets
        }
        defined = [value for value in means.values() if value is not None]
        assert result.is_value == pytest.approx(max(defined))
        assert means[str(result.params)] == pytest.approx(max(defined))
        # ... and its out-of-sample value is that same set's OOS mean.
        assert result.oos_value == pytest.approx(
            _mean_sharpe(outcome.rows, fold.oos_tag, result.params)
        )
    scores = [score.value for score in outcome.ranking if score.value is not None]
    assert scores == sorted(scores, reverse=True)


def test_plan_ids_are_stable_and_cover_every_combination() -> None:
    plan = _plan()
    assert plan.run_id == _plan().run_id
    assert len({b.batch_id for b in plan.batches}) == len(plan.batches)
    for key in DATASETS:
        sets = [p for b in plan.batches if b.dataset == key for p in b.param_sets]
        assert sets == plan.sample.param_sets
    other = plan_sweep(
        "ma_crossover",
        parse_space(MACrossover, ["fast=3:9:3", "slow=10,20"]),
        {"sim:AAA:1h": generate_bars(1_200, symbol="AAA", seed=99, interval_ns=HOUR_NS)},
        objective=SHARPE,
        config=EvalConfig(periods_per_year=365),
    )
    assert other.run_id != plan.run_id  # other data: another run


def test_a_ctrl_c_as_the_run_is_marked_done_leaves_it_interrupted_and_resumable(
    tmp_path: Path,
) -> None:
    plan = _plan()
    db = f"sqlite:///{tmp_path / 'algotrade.db'}"
    with CtrlCWhenDone(tmp_path, db) as store, pytest.raises(KeyboardInterrupt):
        run_sweep(plan, DATASETS, InProcessExecutor(), store)
    with RunStore(tmp_path, db) as store:
        (summary,) = store.runs()
        assert (summary.status, summary.done_batches) == ("interrupted", 6)  # was "running"
        outcome = run_sweep(_plan(), DATASETS, InProcessExecutor(), store)
        (summary,) = store.runs()
    assert (outcome.skipped_batches, summary.status) == (6, "done")

"""Executors: the local pool and a Dask LocalCluster give exactly the rows of standalone
backtests, ship each dataset to a worker once, and survive a worker process that dies."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from algotrade.backtest.metrics import compute_metrics
from algotrade.backtest.runner import run_backtest
from algotrade.core.errors import InputError
from algotrade.data.bars import BarData
from algotrade.data.synthetic import generate_bars
from algotrade.research.evaluate import Batch, EvalConfig, ResultRow, numeric_metrics
from algotrade.research.executor_local import LocalExecutor
from algotrade.research.executors import Executor, check_cluster, make_executor
from algotrade.strategies.registry import get_strategy_class

DATASETS = {
    "sim:AAA:1m": generate_bars(1_500, symbol="AAA", seed=11),
    "sim:BBB:1m": generate_bars(1_500, symbol="BBB", seed=12),
}
CONFIG = EvalConfig(periods_per_year=365)
PARAM_SETS = [{"fast": f, "slow": s} for f in (3, 5, 8) for s in (13, 21)]

# A strategy that kills its own worker process the first time it runs with k == 2 (a marker
# file records that it did); every other run is an ordinary, deterministic strategy.
KILLER = """
import os, signal
from pathlib import Path
from decimal import Decimal
from algotrade.core.strategy import Strategy, StrategyParams

MARKER = Path(__file__).with_name("killed")

class P(StrategyParams):
    k: int = 0

class Killer(Strategy):
    name = "killer"
    Params = P

    def on_start(self):
        if self.params.k == 2 and not MARKER.exists():
            MARKER.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        self._n = 0

    def on_bar(self, bar):
        self._n += 1
        if self._n % (5 + self.params.k) == 0:
            self.ctx.target_position(bar.symbol, Decimal(self._n % 3 - 1))
"""


def _batches(strategy: str, param_sets: list[dict[str, int]], size: int) -> list[Batch]:
    return [
        Batch(f"{key[4:7]}-{i:02d}", strategy, param_sets[i : i + size], key, (None, None), CONFIG)
        for key in DATASETS
        for i in range(0, len(param_sets), size)
    ]


def _standalone(batches: list[Batch]) -> list[ResultRow]:
    """Each backtest run alone, straight through run_backtest and compute_metrics."""
    rows = []
    for batch in batches:
        cls = get_strategy_class(batch.strategy)
        for params in batch.param_sets:
            result = run_backtest(DATASETS[batch.dataset], cls(params), CONFIG.backtest_config())
            metrics = numeric_metrics(compute_metrics(result, periods_per_year=365))
            rows.append(ResultRow(batch.batch_id, params, batch.dataset, (None, None), "", metrics))
    return rows


def _run(executor: Executor, batches: list[Batch], data: dict[str, BarData]) -> list[ResultRow]:
    executor.put_data(data)
    finished = list(executor.run(batches))
    assert len(finished) == len(batches)
    return sorted((row for rows in finished for row in rows), key=lambda r: r.batch_id)


def _assert_data_sent_once(executor: Executor, batches: int) -> None:
    loads = executor.data_loads()
    assert 1 <= len(loads) < batches  # some worker ran several batches
    for worker in loads.values():
        assert set(worker.received.values()) == {1}, worker
        assert set(worker.decoded.values()) == {1}, worker


@pytest.mark.slow
def test_local_pool_and_dask_cluster_equal_standalone_backtests() -> None:
    batches = _batches("ma_crossover", PARAM_SETS, size=2)  # 6 batches
    expected = _standalone(batches)
    with LocalExecutor(2) as pool:
        local_rows = _run(pool, batches, DATASETS)
        _assert_data_sent_once(pool, len(batches))
    with make_executor("local:2") as dask:
        dask_rows = _run(dask, batches, DATASETS)
        _assert_data_sent_once(dask, len(batches))
    assert local_rows == expected
    assert dask_rows == expected
    assert all(row.error is None and row.metrics["trades"] for row in expected)


@pytest.mark.slow
def test_dask_sweep_completes_when_a_worker_process_is_killed(tmp_path: Path) -> None:
    strategy = tmp_path / "killer.py"
    strategy.write_text(KILLER)
    param_sets = [{"k": k} for k in range(6)]
    batches = _batches(str(strategy), param_sets, size=1)
    with make_executor("local:2") as dask:
        rows = _run(dask, batches, DATASETS)
        dask.client.wait_for_workers(2, timeout=30)  # the replacement of the dead one included
        # Ctrl-C is the run's: every worker ignores it, also one its nanny started later.
        assert set(dask.client.run(_ignores_sigint).values()) == {True}
    assert (tmp_path / "killed").exists()  # a worker did die mid-sweep
    assert rows == _standalone(batches)  # the marker exists now: nothing dies here


def _ignores_sigint() -> bool:
    return signal.getsignal(signal.SIGINT) is signal.SIG_IGN


@pytest.mark.slow
def test_a_local_cluster_does_not_warn_when_port_8787_is_taken(
    recwarn: pytest.WarningsRecorder,
) -> None:
    # Its scheduler serves no dashboard: it has no reason to want Dask's dashboard port.
    with socket.socket() as taken:
        try:
            taken.bind(("127.0.0.1", 8787))
            taken.listen()
        except OSError:
            pass  # something else has it: the case under test all the same
        with make_executor("local:1") as dask:
            assert dask.workers == 1
    assert [str(w.message) for w in recwarn if "8787" in str(w.message)] == []


@pytest.mark.slow
def test_local_pool_reruns_the_batches_of_a_dead_worker(tmp_path: Path) -> None:
    strategy = tmp_path / "killer.py"
    strategy.write_text(KILLER)
    batches = _batches(str(strategy), [{"k": k} for k in range(4)], size=1)
    with LocalExecutor(2, retries=2) as pool:
        rows = _run(pool, batches, DATASETS)
    assert (tmp_path / "killed").exists()
    assert rows == _standalone(batches)


def test_cluster_names_are_checked_before_anything_starts() -> None:
    assert check_cluster("local", 3) == ("local", 3)
    assert check_cluster("local:4") == ("dask-local", 4)
    assert check_cluster("dask:local:2") == ("dask-local", 2)
    assert check_cluster("tcp://10.0.0.5:8786") == ("dask", "tcp://10.0.0.5:8786")
    for bad, message in [
        ("cloud", "--cluster: expected local, local:N"),
        ("local:0", "--cluster: expected"),
    ]:
        with pytest.raises(InputError, match=message):
            check_cluster(bad)
    with pytest.raises(InputError, match="--workers: must be at least 1"):
        check_cluster("local", 0)
    with pytest.raises(InputError, match="--workers: not used with --cluster local:N"):
        check_cluster("local:2", 2)


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from algotrade.research import executor_dask

    monkeypatch.setattr(executor_dask, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(InputError, match=r"--cluster tcp://127\.0\.0\.1:9: cannot reach the Dask"):
        make_executor("tcp://127.0.0.1:9")

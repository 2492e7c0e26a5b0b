"""Sweep throughput on 1 and 2 local workers and on a 2-worker Dask LocalCluster.

Data is SIMULATED (seeded random-walk 1-minute bars from ``algotrade.data.synthetic``). The
full run is 1,000 ``ma_crossover`` backtests of 100,000 bars each (4 datasets × 250 parameter
sets, batches of 10). Each configuration is timed from creating the executor to the last
batch's rows, shipping the datasets to the workers included; the local pool starts its
processes on the first batch, the Dask LocalCluster before (``startup_s``; the overhead is also
reported without it, as a sweep pointed at a running cluster does not pay it). Reported:
backtests/s, bars/s, scaling efficiency of the second worker (throughput(2) / (2 ·
throughput(1))), Dask's overhead against the local pool with the same workers, and each worker
process's peak resident memory (``VmHWM`` read from /proc for the pids the workers report,
before the executor is closed).

    .venv/bin/python benchmarks/sweep_scaling.py            # full: ~10 minutes on 2 cores
    .venv/bin/python benchmarks/sweep_scaling.py --quick    # 40 backtests of 20,000 bars
    .venv/bin/python benchmarks/sweep_scaling.py --ingest   # then ingest: catalog and COPY

``--ingest`` then runs ``benchmarks/warm_ingest.py`` (bars/s appended to the catalog and
copied into PostgreSQL), so one command measures the whole research path.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algotrade.data.synthetic import generate_bars
from algotrade.research.evaluate import Batch, EvalConfig
from algotrade.research.executors import Executor, make_executor


@dataclass(frozen=True)
class Setup:
    datasets: int
    bars: int
    fast: list[int]
    slow: list[int]
    batch_size: int


FULL = Setup(
    datasets=4, bars=100_000, fast=list(range(2, 52)), slow=[60, 80, 100, 120, 140], batch_size=10
)
QUICK = Setup(datasets=4, bars=20_000, fast=[3, 5], slow=[30, 40, 50, 60, 70], batch_size=2)


def peak_rss_mb(pid: int) -> float | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def build(setup: Setup) -> tuple[dict[str, Any], list[Batch]]:
    datasets = {
        f"sim:S{i}:1m": generate_bars(setup.bars, symbol=f"S{i}", seed=100 + i)
        for i in range(setup.datasets)
    }
    param_sets = [{"fast": f, "slow": s} for f in setup.fast for s in setup.slow]
    config = EvalConfig()
    batches = [
        Batch(
            f"{key}-{offset:05d}",
            "ma_crossover",
            param_sets[offset : offset + setup.batch_size],
            key,
            (None, None),
            config,
        )
        for key in datasets
        for offset in range(0, len(param_sets), setup.batch_size)
    ]
    return datasets, batches


def measure(
    name: str,
    cluster: str,
    workers: int | None,
    datasets: dict[str, Any],
    batches: list[Batch],
    bars: int,
) -> dict[str, Any]:
    started = time.perf_counter()
    executor: Executor = make_executor(cluster, workers=workers)
    with executor:
        ready = time.perf_counter()
        executor.put_data(datasets)
        backtests = 0
        errors = 0
        for rows in executor.run(batches):
            backtests += len(rows)
            errors += sum(1 for row in rows if row.error)
        finished = time.perf_counter()
        loads = executor.data_loads()
        rss = {worker: peak_rss_mb(int(worker.rsplit(":", 1)[1])) for worker in loads}
    elapsed = finished - started
    result = {
        "name": name,
        "startup_s": round(ready - started, 2),
        "elapsed_s": round(elapsed, 2),
        "run_s": round(finished - ready, 2),
        "backtests": backtests,
        "errors": errors,
        "backtests_per_s": round(backtests / elapsed, 3),
        "bars_per_s": round(backtests * bars / elapsed),
        "workers_seen": len(loads),
        "received_per_worker": sorted({n for w in loads.values() for n in w.received.values()}),
        "peak_rss_mb_per_worker": sorted(round(v, 1) for v in rss.values() if v is not None),
    }
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 backtests of 20,000 bars")
    parser.add_argument("--out", type=Path, help="also write the results as JSON")
    parser.add_argument(
        "--ingest", action="store_true", help="then measure ingest (benchmarks/warm_ingest.py)"
    )
    args = parser.parse_args()
    setup = QUICK if args.quick else FULL
    datasets, batches = build(setup)
    total = sum(len(batch.param_sets) for batch in batches)
    print(
        f"SIMULATED data: {total} backtests of {setup.bars:,} bars, {len(batches)} batches; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    one = measure("local pool, 1 worker", "local", 1, datasets, batches, setup.bars)
    two = measure("local pool, 2 workers", "local", 2, datasets, batches, setup.bars)
    dask = measure("dask LocalCluster, 2 workers", "local:2", None, datasets, batches, setup.bars)
    summary = {
        "data": "SIMULATED",
        "backtests": total,
        "bars_per_backtest": setup.bars,
        "batch_size": setup.batch_size,
        "scaling_efficiency_2_workers": round(
            two["backtests_per_s"] / (2 * one["backtests_per_s"]), 3
        ),
        "dask_overhead_vs_local_pool": round(dask["elapsed_s"] / two["elapsed_s"] - 1, 3),
        "dask_overhead_without_cluster_start": round(dask["run_s"] / two["elapsed_s"] - 1, 3),
        "load_average_after": round(os.getloadavg()[0], 2),
        "runs": [one, two, dask],
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}), flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    if args.ingest:
        ingest = Path(__file__).with_name("warm_ingest.py")
        subprocess.run([sys.executable, str(ingest)], check=True)


if __name__ == "__main__":
    main()

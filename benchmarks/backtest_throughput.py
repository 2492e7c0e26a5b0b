"""End-to-end backtest throughput and peak memory for ``ma_crossover``.

Generates N seeded SIMULATED 1-minute bars, writes them to a file (not timed), then measures
in a fresh child process: load the file + run the backtest with 0.1% commission. Peak memory
is the child's high-water resident set size, ``VmHWM`` from /proc (``ru_maxrss`` would be
wrong here: Linux carries it across fork+exec from the parent that generated the data). It
includes the interpreter and libraries; the value right after imports is reported too.

    .venv/bin/python benchmarks/backtest_throughput.py --bars 1000000 --format parquet
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def child(path: Path, fast: int, slow: int) -> dict[str, float]:
    from algotrade.backtest.runner import BacktestConfig, run_backtest
    from algotrade.data.loader import load_bars
    from algotrade.strategies.ma_crossover import MACrossover

    rss_after_imports = peak_rss_mb()
    started = time.perf_counter()
    data = load_bars([str(path)])
    loaded = time.perf_counter()
    result = run_backtest(
        data,
        MACrossover({"fast": fast, "slow": slow, "qty": 1}),
        BacktestConfig(commission=Decimal("0.001")),
    )
    finished = time.perf_counter()
    bars = len(data)
    return {
        "bars": bars,
        "fills": len(result.fills),
        "load_s": loaded - started,
        "run_s": finished - loaded,
        "total_s": finished - started,
        "bars_per_s": bars / (finished - started),
        "run_bars_per_s": bars / (finished - loaded),
        "rss_after_imports_mb": rss_after_imports,
        "peak_rss_mb": peak_rss_mb(),
        "final_equity": float(result.final_equity),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--fast", type=int, default=10)
    parser.add_argument("--slow", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.fast, args.slow)))
        return

    from algotrade.data.loader import save_bars
    from algotrade.data.synthetic import generate_bars

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"bench.{args.format}"
        save_bars(generate_bars(args.bars, seed=args.seed), path)
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    str(path),
                    "--fast",
                    str(args.fast),
                    "--slow",
                    str(args.slow),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            runs.append(json.loads(out.stdout))
    best = max(runs, key=lambda r: r["bars_per_s"])
    print(
        f"SIMULATED data: {args.bars:,} 1-minute bars ({args.format}), ma_crossover "
        f"{args.fast}/{args.slow}, commission 0.1%, best of {args.repeat}"
    )
    for key, value in best.items():
        print(f"  {key:22s} {value:,.3f}" if isinstance(value, float) else f"  {key:22s} {value:,}")
    rates = ", ".join(f"{run['bars_per_s']:,.0f}" for run in runs)
    print(f"  all runs bars/s: {rates}")


if __name__ == "__main__":
    main()

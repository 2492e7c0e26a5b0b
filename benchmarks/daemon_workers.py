"""Fan-out with and without bot worker processes (issue 14, target 5): ``daemon.bot_workers``.

In a fresh child process per run (asyncio, ``BotService`` over a temporary SQLite store, the
activity writer running, the daemon's collector policy): ``--bots`` paper bots (default 1,000)
on ONE shared SIMULATED sim stream whose timer is parked; the benchmark makes each bar itself
(``stream.next_bar``) and times from ``stream.dispatch(bar)`` until every bot decided on it:

- ``--workers 0``: the bots run in the service's process; dispatch returns when the last bot
  decided (what ``daemon_scale.py`` calls "one bar to all bots");
- ``--workers N``: the bots run in N worker processes; the time runs until every worker has
  told the service it handled the bar (its bots decided, and what they booked was sent).

Strategies as in ``daemon_scale.py``: ``ma-mixed`` = ``ma_crossover`` fast 5..14 / slow 3 x
fast (bots trade on different bars; issue 14's fan-out figure), ``flip`` = every bot orders on
every bar (BENCHMARK-ONLY strategy). Bars come back-to-back (``await asyncio.sleep(0)`` between
them, so the writer runs) or one every ``@s`` seconds. Also recorded: CPU seconds of the
service's process and of the workers, and their peak RSS.

    .venv/bin/python benchmarks/daemon_workers.py [--workers 0,2] [--runs ma-mixed,flip@0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench_child import run_script_child
from flip_strategy_source import FLIP_STRATEGY


def pct(values: Any, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, clock ticks of 10 ms


def proc_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(n_bots: str, n_bars: str, strategy: str, interval: str, workers: str) -> dict[str, Any]:
    return asyncio.run(_run(int(n_bots), int(n_bars), strategy, float(interval), int(workers)))


async def _run(
    n_bots: int, n_bars: int, strategy: str, interval: float, workers: int
) -> dict[str, Any]:
    from algotrade.daemon.bot_config import BotConfig
    from algotrade.daemon.heap import settle_after_start
    from algotrade.daemon.service import BotService
    from algotrade.store.store import Store

    tmp = Path(tempfile.mkdtemp(prefix="daemon-workers-"))
    try:
        if strategy == "flip":
            path = tmp / "bench_flip.py"
            path.write_text(FLIP_STRATEGY)
            params_of = lambda i: (str(path), {})  # noqa: E731
        else:
            params_of = lambda i: (  # noqa: E731
                "ma_crossover",
                {"fast": 5 + i % 10, "slow": 3 * (5 + i % 10), "qty": 1},
            )
        configs = []
        for i in range(n_bots):
            name, params = params_of(i)
            configs.append(
                BotConfig.model_validate(
                    {
                        "bot_id": f"bot-{i:05d}",
                        "symbol": "SIM-LAT",
                        "strategy": name,
                        "params": params,
                        "feed_options": {"seed": 7, "tick_seconds": 86400, "volatility": 0.002},
                        "initial_capital": "1000000",
                        "commission": "0.0005",
                        "warmup_periods": 0,
                    }
                ).model_dump(mode="json")
            )
        store = Store(f"sqlite:///{tmp / 'bots.db'}")
        await asyncio.to_thread(store.open)
        await asyncio.to_thread(store.insert_bots, configs)
        service = BotService(store, bot_workers=workers)
        await service.start()
        t = time.perf_counter()
        await asyncio.gather(*(service.start_bot(c["bot_id"]) for c in configs))
        start_all_s = time.perf_counter() - t
        settle_after_start()
        bots = list(service._bots.values())

        def orders_sent() -> int:
            total = 0
            for bot in bots:
                engine = bot.engine
                total += max(bot.order_count, engine.order_sequence if engine else 0)
            return total

        stream = next(iter(service.hub._streams.values()))
        # Loop lag seen by an independent task (every 1 ms) between the bars' dispatches: how
        # long anything else on the service's loop (taking activity, writing, publishing, the
        # API) held it. Dispatch itself is not in it (the probe cannot run during it).
        lags: list[float] = []
        counting = [False]
        dispatched_at = [0.0]  # when the last dispatch returned

        async def lag_probe() -> None:
            while True:
                t = time.perf_counter()
                await asyncio.sleep(0.001)
                if counting[0] and t >= dispatched_at[0]:
                    lags.append((time.perf_counter() - t - 0.001) * 1000)

        probe = asyncio.create_task(lag_probe())
        gc_pauses: list[float] = []  # ms, the service's process
        gc_started = [0.0]

        def on_gc(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                gc_started[0] = time.perf_counter()
            elif counting[0]:
                gc_pauses.append((time.perf_counter() - gc_started[0]) * 1000)

        gc.callbacks.append(on_gc)
        warmup = 45  # the slowest moving average fills before bars are counted
        dispatch_ms: list[float] = []
        bar_orders: list[int] = []
        pids = [link.process.pid for link in service.workers.links]
        cpu_main0 = time.process_time()
        cpu_workers0 = sum(proc_cpu_s(pid) for pid in pids)
        wall0 = time.perf_counter()
        due = time.perf_counter()
        sent = orders_sent()
        ts = 1_800_000_000 * 10**9
        for n in range(warmup + n_bars):
            if n == warmup:
                dispatch_ms.clear()
                bar_orders.clear()
                cpu_main0 = time.process_time()
                cpu_workers0 = sum(proc_cpu_s(pid) for pid in pids)
                wall0 = time.perf_counter()
            ts += 60 * 10**9
            bar = stream.next_bar(ts)
            t0 = time.perf_counter_ns()
            stream.dispatch(bar)
            dispatched_at[0] = time.perf_counter()
            counting[0] = n >= warmup
            if workers:
                await service.workers.handled()
            dispatch_ms.append((time.perf_counter_ns() - t0) / 1e6)
            now_sent = orders_sent()
            bar_orders.append(now_sent - sent)
            sent = now_sent
            if interval:
                due += interval
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            else:
                await asyncio.sleep(0)
        wall = time.perf_counter() - wall0
        probe.cancel()
        gc.callbacks.remove(on_gc)
        cpu_main = time.process_time() - cpu_main0
        cpu_workers = sum(proc_cpu_s(pid) for pid in pids) - cpu_workers0
        workers_hwm = [proc_hwm_mb(pid) for pid in pids]
        await service.writer.flush()
        stored = 0
        for c in configs[:50]:
            stored += (await asyncio.to_thread(store.fills, c["bot_id"], limit=0)).total
        booked = sum(b.status().fill_count for b in bots[:50])
        await service.shutdown(timeout=60)
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ms = np.array(dispatch_ms)
    trading = np.array([m for m, k in zip(dispatch_ms, bar_orders, strict=True) if k])
    quiet = np.array([m for m, k in zip(dispatch_ms, bar_orders, strict=True) if not k])
    return {
        "strategy": strategy,
        "workers": workers,
        "bots": n_bots,
        "bars": n_bars,
        "pacing": f"every {interval:g} s" if interval else "back-to-back",
        "start_all_s": start_all_s,
        "orders": int(sum(bar_orders)),
        "dispatch_ms": {"p50": pct(ms, 50), "p99": pct(ms, 99), "max": float(ms.max())},
        "trading_bars": len(trading),
        "trading_ms": {"p50": pct(trading, 50), "p99": pct(trading, 99)},
        "quiet_bars": len(quiet),
        "quiet_ms": {"p50": pct(quiet, 50), "p99": pct(quiet, 99)},
        "loop_lag_ms": {"p99": pct(lags, 99), "max": max(lags, default=float("nan"))},
        "gc_ms": {"count": len(gc_pauses), "max": max(gc_pauses, default=0.0)},
        "wall_s": wall,
        "cpu_main_s": cpu_main,
        "cpu_workers_s": cpu_workers,
        "rss_main_hwm_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_workers_hwm_mb": workers_hwm,
        "fills_first_50_bots_stored_vs_shown": [stored, booked],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=1_000)
    parser.add_argument("--bars", type=int, default=300)
    parser.add_argument("--workers", default="0,2", help="comma-separated worker counts")
    parser.add_argument(
        "--runs", default="ma-mixed", help="strategy[@seconds between bars], comma-separated"
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    results = []
    for run in args.runs.split(","):
        strategy, _, interval = run.partition("@")
        for _ in range(args.repeat):
            for workers in args.workers.split(","):
                result = run_script_child(
                    __file__,
                    "--child",
                    str(args.bots),
                    str(args.bars),
                    strategy,
                    interval or "0",
                    workers,
                )
                results.append(result)
                d, tr, q = result["dispatch_ms"], result["trading_ms"], result["quiet_ms"]
                print(
                    f"{strategy:8} {result['pacing']:14} workers={workers}: bar → every bot "
                    f"decided p50 {d['p50']:.2f} / p99 {d['p99']:.2f} / max {d['max']:.2f} ms; "
                    f"trading bars ({result['trading_bars']}) p50 {tr['p50']:.2f} p99 "
                    f"{tr['p99']:.2f}; quiet ({result['quiet_bars']}) p50 {q['p50']:.2f}; "
                    f"{result['orders']} orders; CPU main {result['cpu_main_s']:.2f} s + "
                    f"workers {result['cpu_workers_s']:.2f} s in {result['wall_s']:.2f} s; "
                    f"RSS main {result['rss_main_hwm_mb']:.0f} MB + workers "
                    f"{sum(result['rss_workers_hwm_mb']):.0f} MB; loop held between bars p99 "
                    f"{result['loop_lag_ms']['p99']:.1f} / max "
                    f"{result['loop_lag_ms']['max']:.1f} ms; {result['gc_ms']['count']} "
                    f"collections, longest {result['gc_ms']['max']:.1f} ms",
                    flush=True,
                )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"args": vars(args) | {"json": str(args.json)}, "results": results},
                indent=1,
                default=str,
            )
        )


if __name__ == "__main__":
    sys.exit(main())

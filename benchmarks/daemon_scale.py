"""Daemon at scale: restore of N stored bots, tick → order latency, ``GET /api/bots`` throughput.

Three measurements, each in fresh processes, loopback only:

1. Restore. N bots (``--bots``, default 10,000) are written straight into a new SQLite store
   (``Store.insert_bots``; ``ma_crossover`` on the SIMULATED sim feed, 20 symbols). Every
   ``--active-every``-th bot also gets an account, one position, two filled orders and two
   fills (``record_activity_batch``), and every 10th is stored as ``running`` (a daemon that
   went down with running bots: restore demotes them to ``stopped`` in one write). Each run
   works on a fresh copy of that file and measures
   a) in a fresh child process: process start → store open → ``BotService.restore()``
      returned, with the child's VmRSS / VmHWM;
   b) the real daemon ``python -m algotrade daemon --data-dir ... --port ...``: process start
      → ``GET /api/health`` answers with ``bots == N`` (polled every 10 ms), the daemon's
      VmRSS / VmHWM from ``/proc/<pid>/status``, its CPU use while idle for
      ``--idle-seconds`` (no request, no running bot) and the SIGTERM → exit time.
2. Tick → order latency. In a fresh child process (asyncio, ``BotService`` over a temporary
   SQLite store, activity writer running) ``--running`` bots (default 1,000) run on ONE shared
   sim stream. The stream's own timer is parked (``tick_seconds`` 86400); the benchmark drives
   ``stream.dispatch(stream.next_bar(now))`` itself: back-to-back for ``--bars`` bars with
   ``await asyncio.sleep(0)`` between bars so the writer runs (a stress test: bars come as
   fast as the bots take them), or paced, one bar every ``@s`` seconds for ``--paced-bars``
   bars (``flip@1`` = the sim feed's default 1 s tick). Per bot-order it records the
   time from the start of ``dispatch`` to the moment that bot's engine calls ``venue.submit``
   (``engine.venue.submit`` is wrapped after start), and the bot's own share (its handler's
   entry → submit). Strategies: ``flip`` = a BENCHMARK-ONLY strategy (written to a temp .py
   file and loaded like any user strategy) that targets -1/+1 on alternate bars, so every bot
   sends one market order on every bar; ``ma`` = ``ma_crossover`` fast 2 / slow 3 (all bots
   have the same parameters, so they all trade on the same bars: a worst case);
   ``ma-mixed`` = ``ma_crossover`` with the restored bots' spread of parameters (fast 5..14,
   slow 3 x fast), so bots trade on different bars and most bars send no order. Also
   recorded: the time to dispatch one bar to all bots (= a bar's arrival to the last bot's
   decision; issue 14 target: p99 <= 10 ms for 1,000 bots), split into quiet bars (no bot
   sent an order or had a fill: the per-bar path of a bot that trades nothing, target
   <= 10 us a bot) and trading bars, GC pauses (``gc.callbacks``), and the activity writer's
   commits and event-loop time (its methods wrapped by the benchmark).
3. API throughput. The real daemon with K stored bots (``--api-bots``, default 1,000; and 10
   to separate framework overhead from serialisation) is loaded from a separate process with
   32 concurrent keep-alive connections for ``--api-seconds`` (default 10 s): ``wrk`` when it
   is installed (``apt-get install wrk``), else an ``httpx.AsyncClient`` load process (which
   saturates before the daemon does). ``GET /api/bots`` and ``GET /api/health``; req/s,
   p50/p99, response size and the daemon's CPU use (CPU-ms per request = CPU / req/s).

    .venv/bin/python benchmarks/daemon_scale.py [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from bench_child import clean_env, run_script_child
from flip_strategy_source import FLIP_STRATEGY  # a sibling module: the script folder is on sys.path

SYMBOLS = [f"SIM-{i:02d}" for i in range(20)]
T0_NS = 1_763_700_000 * 10**9


# --------------------------------------------------------------------------- small helpers
def proc_status_mb(pid: int | str = "self") -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float] | np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def run_child(mode: str, *args: str) -> dict[str, Any]:
    return run_script_child(__file__, "--child", mode, repr(time.time()), *args)


# --------------------------------------------------------------------------- the stored bots
def bot_config(i: int, **changes: Any) -> dict[str, Any]:
    from algotrade.daemon.bot_config import BotConfig

    fast = 5 + i % 10
    raw: dict[str, Any] = {
        "bot_id": f"bot-{i:05d}",
        "symbol": SYMBOLS[i % len(SYMBOLS)],
        "strategy": "ma_crossover",
        "params": {"fast": fast, "slow": 3 * fast, "qty": 1},
        "interval": "1m",
        "feed": "sim",
        "feed_options": {"seed": 1 + i % 3, "tick_seconds": 1.0, "volatility": 0.002},
        "initial_capital": "10000",
        "commission": "0.0005",
        "warmup_periods": 3 * fast,
    }
    raw.update(changes)
    return BotConfig.model_validate(raw).model_dump(mode="json")


def trading_history(bot_id: str, symbol: str, k: int) -> Any:
    """An account, one position (+1), two filled market orders (buy 2, sell 1), two fills."""
    from algotrade.store.records import (
        AccountRecord,
        Activity,
        FillRecord,
        OrderRecord,
        PositionRecord,
    )

    price = Decimal(100) + Decimal(k % 500) / 100
    fee = (price * Decimal("0.0005")).quantize(Decimal("0.00000001"))
    orders, fills = [], []
    for n, (side, qty) in enumerate((("buy", Decimal(2)), ("sell", Decimal(1))), start=1):
        ts = T0_NS + n * 60 * 10**9
        coid = f"{bot_id}-{n}"
        orders.append(
            OrderRecord(
                bot_id=bot_id,
                client_order_id=coid,
                venue_order_id=f"P{n}",
                symbol=symbol,
                side=side,
                type="market",
                qty=qty,
                limit_price=None,
                stop_price=None,
                tif="gtc",
                reduce_only=False,
                status="filled",
                filled_qty=qty,
                avg_fill_price=price,
                fees=fee * qty,
                reason="",
                tag="",
                created_ts=ts,
                updated_ts=ts + 10**9,
            )
        )
        fills.append(
            FillRecord(
                bot_id=bot_id,
                trade_id=f"T{n}",
                client_order_id=coid,
                venue_order_id=f"P{n}",
                symbol=symbol,
                side=side,
                qty=qty,
                price=price,
                fee=fee * qty,
                liquidity="taker",
                ts=ts + 10**9,
            )
        )
    fees = fee * 3
    position = PositionRecord(
        bot_id=bot_id, symbol=symbol, qty=Decimal(1), avg_price=price, realized_pnl=Decimal(0),
        fees=fees,
    )  # fmt: skip
    account = AccountRecord(
        bot_id=bot_id,
        initial_cash=Decimal(10000),
        cash=Decimal(10000) - price - fees,
        realized_pnl=Decimal(0),
        fees_paid=fees,
        updated_ts=T0_NS + 3 * 60 * 10**9,
    )
    return Activity(orders=orders, fills=fills, positions=[position], account=account)


def build_store(path: Path, n_bots: int, active_every: int, running_every: int) -> dict[str, Any]:
    """A SQLite store with ``n_bots`` bots; returns what it holds and how long it took."""
    from algotrade.store.store import Store

    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{path}")
    store.open()
    try:
        configs = [bot_config(i) for i in range(n_bots)]
        store.insert_bots(configs)
        active = [
            (c["bot_id"], trading_history(c["bot_id"], c["symbol"], i))
            for i, c in enumerate(configs)
            if active_every and i % active_every == 0
        ]
        for start in range(0, len(active), 2000):
            store.record_activity_batch(active[start : start + 2000])
        running = [
            (c["bot_id"], "running", {"started_at": "2026-11-21T00:00:00Z"})
            for i, c in enumerate(configs)
            if running_every and i % running_every == 0
        ]
        store.set_bot_states(running)
    finally:
        store.close()  # the last connection checkpoints the WAL into the file
    return {
        "bots": n_bots,
        "with_history": len(active),
        "stored_running": len(running),
        "db_mb": path.stat().st_size / 1e6,
        "build_s": time.perf_counter() - started,
    }


# --------------------------------------------------------------------------- 1. restore
def child_restore(started: float, db: str) -> dict[str, Any]:
    entered = time.time()
    from algotrade.daemon.service import BotService
    from algotrade.store.store import Store

    imported = time.time()

    async def main() -> dict[str, Any]:
        store = Store(f"sqlite:///{db}")
        await asyncio.to_thread(store.open)
        opened = time.time()
        service = BotService(store)
        reads: dict[str, float] = {}
        for name in ("load_bots_checked", "fills_by_bot", "order_fill_counts", "equity_before"):
            reads[name] = 0.0
            setattr(store, name, timed(getattr(store, name), reads, name))
        writes: dict[str, float] = {"set_bot_states": 0.0}
        store.set_bot_states = timed(store.set_bot_states, writes, "set_bot_states")  # type: ignore[method-assign]
        restore_started = time.time()
        resume = await service.restore()
        restored = time.time()
        memory = proc_status_mb()
        bots = len(await service.list_bots())
        await service.shutdown(timeout=30)
        store.close()
        return {
            "bots": bots,
            "to_resume": sum(resume.values()),
            "interpreter_s": entered - started,
            "imports_s": imported - entered,
            "store_open_s": opened - imported,
            "restore_s": restored - restore_started,
            "restore_reads_s": sum(reads.values()),
            "restore_demote_write_s": writes["set_bot_states"],
            "restore_loop_s": (restored - restore_started)
            - (sum(reads.values()) + writes["set_bot_states"]),
            "reads": reads,
            "total_s": restored - started,
            "rss_mb": memory["VmRSS"],
            "hwm_mb": memory["VmHWM"],
        }

    return asyncio.run(main())


def timed(func: Callable[..., Any], into: dict[str, float], name: str) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            into[name] += time.perf_counter() - t

    return wrapper


class Daemon:
    """``python -m algotrade daemon`` on a data directory, loopback, no API keys."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**clean_env(), **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, expect_bots: int, timeout: float = 120.0) -> float:
        """Start and wait until health reports ``expect_bots``; returns seconds from spawn."""
        import httpx

        self.data_dir.mkdir(parents=True, exist_ok=True)
        out = (self.data_dir.parent / f"daemon-{self.port}.out").open("ab")
        err = (self.data_dir.parent / f"daemon-{self.port}.err").open("ab")
        command = [sys.executable, "-m", "algotrade", "daemon"]
        command += ["--data-dir", str(self.data_dir), "--port", str(self.port)]
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=self.env
        )
        out.close()
        err.close()
        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() - started < timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"daemon exited with {self.proc.returncode}")
                try:
                    health = client.get(f"{self.url}/api/health")
                    if health.status_code == 200 and health.json()["bots"] == expect_bots:
                        return time.perf_counter() - started
                except httpx.HTTPError:
                    pass
                time.sleep(0.01)
        self.kill()
        raise RuntimeError(f"daemon did not report {expect_bots} bots within {timeout} s")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def terminate(self, timeout: float = 60.0) -> float:
        assert self.proc is not None
        started = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout)
        return time.perf_counter() - started

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def measure_restore(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    template = work / "restore-template" / "algotrade.db"
    built = build_store(template, args.bots, args.active_every, 10)
    print(
        f"  store: {built['bots']:,} bots, {built['with_history']:,} with history, "
        f"{built['stored_running']:,} stored running, {built['db_mb']:.1f} MB, "
        f"built in {built['build_s']:.1f} s",
        flush=True,
    )
    in_process: list[dict[str, Any]] = []
    daemon_runs: list[dict[str, Any]] = []
    for run in range(args.repeat):
        copy = work / f"restore-{run}" / "algotrade.db"
        copy.parent.mkdir()
        shutil.copy2(template, copy)
        in_process.append(run_child("restore", str(copy)))
        r = in_process[-1]
        print(
            f"  in-process run {run + 1}: {r['total_s']:.2f} s from process start "
            f"(restore() {r['restore_s']:.2f} s), RSS {r['rss_mb']:.0f} MB",
            flush=True,
        )
        data_dir = work / f"daemon-restore-{run}" / "data"
        data_dir.mkdir(parents=True)
        shutil.copy2(template, data_dir / "algotrade.db")
        daemon = Daemon(data_dir)
        try:
            healthy = daemon.start(expect_bots=args.bots)
            memory = proc_status_mb(daemon.pid)
            cpu_before, t = cpu_seconds(daemon.pid), time.perf_counter()
            time.sleep(args.idle_seconds)  # no request, no running bot: background work only
            idle_cpu = (cpu_seconds(daemon.pid) - cpu_before) / (time.perf_counter() - t)
            stop_s = daemon.terminate()
        finally:
            daemon.kill()
        daemon_runs.append(
            {
                "healthy_s": healthy,
                "rss_mb": memory["VmRSS"],
                "hwm_mb": memory["VmHWM"],
                "idle_cpu": idle_cpu,
                "sigterm_s": stop_s,
                "exit_code": daemon.proc.returncode if daemon.proc else None,
            }
        )
        d = daemon_runs[-1]
        print(
            f"  daemon run {run + 1}: healthy with {args.bots:,} bots after "
            f"{d['healthy_s']:.2f} s, RSS {d['rss_mb']:.0f} MB (HWM {d['hwm_mb']:.0f}), "
            f"idle CPU {d['idle_cpu']:.0%}, SIGTERM → exit {d['sigterm_s']:.2f} s",
            flush=True,
        )
    return {
        "store": built,
        "in_process": in_process,
        "in_process_best": min(in_process, key=lambda r: r["total_s"]),
        "daemon": daemon_runs,
        "daemon_best": min(daemon_runs, key=lambda r: r["healthy_s"]),
    }


# --------------------------------------------------------------------------- 2. latency
def child_latency(
    started: float,
    n_bots: str,
    n_bars: str,
    strategy: str,
    warmup: str,
    interval: str,
    switch_interval: str = "0",
    profile_to: str = "",
) -> dict[str, Any]:
    if float(switch_interval):  # an experiment: how long a thread may hold the GIL
        sys.setswitchinterval(float(switch_interval))
    return asyncio.run(
        _latency(int(n_bots), int(n_bars), strategy, int(warmup), float(interval), profile_to)
    )


async def _latency(
    n_bots: int, n_bars: int, strategy: str, warmup_bars: int, interval: float, profile_to: str
) -> dict[str, Any]:
    from algotrade.daemon.actor import BotActor
    from algotrade.daemon.heap import settle_after_start
    from algotrade.daemon.service import BotService
    from algotrade.store.store import Store

    tmp = Path(tempfile.mkdtemp(prefix="daemon-scale-latency-"))
    try:
        if strategy == "flip":
            path = tmp / "bench_flip.py"
            path.write_text(FLIP_STRATEGY)
            name, params = str(path), {}
        else:
            name, params = "ma_crossover", {"fast": 2, "slow": 3, "qty": 1}
        mixed = strategy == "ma-mixed"
        store = Store(f"sqlite:///{tmp / 'bots.db'}")
        await asyncio.to_thread(store.open)
        configs = [
            bot_config(
                i,
                symbol="SIM-LAT",
                strategy=name,
                params={"fast": 5 + i % 10, "slow": 3 * (5 + i % 10), "qty": 1}
                if mixed
                else params,
                # One shared stream; its own timer is parked, the benchmark dispatches.
                feed_options={"seed": 7, "tick_seconds": 86400, "volatility": 0.002},
                initial_capital="1000000",
                warmup_periods=0,
            )
            for i in range(n_bots)
        ]
        await asyncio.to_thread(store.insert_bots, configs)
        service = BotService(store)
        await service.start()
        t = time.perf_counter()
        await asyncio.gather(*(service.start_bot(c["bot_id"]) for c in configs))
        start_all_s = time.perf_counter() - t
        # As the daemon does once its bots run (daemon/runtime.py): without it this process
        # would measure the interpreter's default collector thresholds, not the daemon's.
        settle_after_start()
        stream = service.hub.stream_of(configs[0]["bot_id"])
        assert stream is not None
        assert len(stream.subscribers) == n_bots

        # ---- instrumentation (the benchmark's own wrappers; library code is unchanged)
        clock = time.perf_counter_ns
        dispatch_start = [0]
        entry: dict[str, int] = {}
        since_dispatch: list[int] = []
        own: list[int] = []
        position_of: list[int] = []
        order_of = {bot_id: k for k, bot_id in enumerate(stream.subscribers)}

        def wrap_submit(bot_id: str, submit: Callable[[Any], None]) -> Callable[[Any], None]:
            position = order_of[bot_id]

            def timed_submit(order: Any) -> None:
                now = clock()
                since_dispatch.append(now - dispatch_start[0])
                own.append(now - entry[bot_id])
                position_of.append(position)
                submit(order)

            return timed_submit

        def wrap_handler(bot_id: str, handler: Callable[[Any], None]) -> Callable[[Any], None]:
            def timed_handler(bar: Any) -> None:
                entry[bot_id] = clock()
                handler(bar)

            return timed_handler

        for bot_id, actor in service._bots.items():
            assert actor.engine is not None
            venue = actor.engine.venue
            venue.submit = wrap_submit(bot_id, venue.submit)  # type: ignore[method-assign,assignment]
        for bot_id in list(stream.subscribers):
            stream.subscribers[bot_id] = wrap_handler(bot_id, stream.subscribers[bot_id])

        # Writer: event-loop time spent draining bots and publishing per commit; the commit
        # itself runs on the store thread (it competes for the GIL with the dispatch).
        writer_loop = {"drain": 0.0, "publish": 0.0}
        commits: list[tuple[float, int]] = []
        drain, publish = BotActor.drain_activity, BotActor.on_committed

        def timed_drain(self: Any) -> Any:
            t = time.perf_counter()
            try:
                return drain(self)
            finally:
                writer_loop["drain"] += time.perf_counter() - t

        def timed_publish(self: Any, activity: Any) -> None:
            t = time.perf_counter()
            try:
                publish(self, activity)
            finally:
                writer_loop["publish"] += time.perf_counter() - t

        record = store.record_activity_batch

        committing = [0]  # > 0 while the store thread is inside a commit

        def timed_record(items: Any) -> None:
            t = time.perf_counter()
            committing[0] += 1
            try:
                record(items)
            finally:
                committing[0] -= 1
            commits.append((time.perf_counter() - t, len(items)))

        BotActor.drain_activity = timed_drain  # type: ignore[method-assign]
        BotActor.on_committed = timed_publish  # type: ignore[method-assign]
        store.record_activity_batch = timed_record  # type: ignore[method-assign]
        gc_pauses: list[tuple[int, float]] = []
        gc_started = [0.0]

        def on_gc(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                gc_started[0] = time.perf_counter()
            else:
                gc_pauses.append((info["generation"], time.perf_counter() - gc_started[0]))

        gc.callbacks.append(on_gc)

        # ---- the bars
        dispatch_ns: list[int] = []
        bar_orders: list[int] = []  # orders sent on each counted bar
        bar_flags: list[str] = []  # C: a commit ran on the store thread meanwhile; G: a GC ran
        quiet_ns: list[int] = []  # bars on which no bot sent an order or had a fill
        actors = list(service._bots.values())

        def fills_booked() -> int:
            return sum(actor.fill_count for actor in actors)

        fills_seen = fills_booked()
        late_ns: list[int] = []  # paced runs: dispatch start − the bar's scheduled time
        counted_from = 0
        t_bars = time.perf_counter()
        due = clock()
        # --profile: cProfile over the counted dispatches only (the times above then include
        # the profiler's own cost; use the profile for shares, not for absolute figures).
        profiler = cProfile.Profile() if profile_to else None
        for n in range(warmup_bars + n_bars):
            if n == warmup_bars:  # warm-up bars are not counted
                counted_from = len(since_dispatch)
                dispatch_ns.clear()
                bar_orders.clear()
                bar_flags.clear()
                quiet_ns.clear()
                late_ns.clear()
                gc_pauses.clear()
                writer_loop.update(drain=0.0, publish=0.0)
                commits.clear()
                t_bars = time.perf_counter()
            bar = stream.next_bar(time.time_ns())
            orders_before = len(since_dispatch)
            commit_seen, gc_seen = len(commits) + committing[0], len(gc_pauses)
            dispatch_start[0] = t0 = clock()
            if profiler is not None and n >= warmup_bars:
                profiler.enable()
                stream.dispatch(bar)
                profiler.disable()
            else:
                stream.dispatch(bar)
            dispatch_ns.append(clock() - t0)
            bar_orders.append(len(since_dispatch) - orders_before)
            bar_flags.append(
                ("C" if committing[0] or commit_seen != len(commits) else "")
                + ("G" if gc_seen != len(gc_pauses) else "")
            )
            fills_now = fills_booked()  # outside the timed dispatch
            if len(since_dispatch) == orders_before and fills_now == fills_seen:
                quiet_ns.append(dispatch_ns[-1])
            fills_seen = fills_now
            if interval:
                late_ns.append(t0 - due)
                due += int(interval * 1e9)
                await asyncio.sleep(max(0.0, (due - clock()) / 1e9))
            else:
                await asyncio.sleep(0)
        bars_s = time.perf_counter() - t_bars
        if profiler is not None:
            profiler.dump_stats(profile_to)
        gc.callbacks.remove(on_gc)
        flushed = time.perf_counter()
        await service.writer.flush()
        flush_s = time.perf_counter() - flushed
        BotActor.drain_activity, BotActor.on_committed = drain, publish  # type: ignore[method-assign]
        orders_stored = 0
        for c in configs[:10]:
            orders_stored += (await asyncio.to_thread(store.orders, c["bot_id"], limit=0)).total
        await service.shutdown(timeout=60)
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    lat = np.array(since_dispatch[counted_from:]) / 1e6  # ms
    own_ms = np.array(own[counted_from:]) / 1e6
    positions = np.array(position_of[counted_from:])
    dispatch_ms = np.array(dispatch_ns) / 1e6
    quiet_ms = np.array(quiet_ns) / 1e6
    by_position = {}
    for label, k in (("first", 0), ("middle", n_bots // 2), ("last", n_bots - 1)):
        chosen = lat[positions == k]
        by_position[label] = float(np.median(chosen)) if len(chosen) else float("nan")
    n_commits = len(commits)
    late_ms = np.array(late_ns) / 1e6
    gen2 = [p for g, p in gc_pauses if g == 2]
    return {
        "strategy": {
            "flip": "bench_flip (every bar)",
            "ma": "ma_crossover 2/3",
            "ma-mixed": "ma_crossover 5..14/15..42",
        }[strategy],
        "pacing": f"every {interval:g} s" if interval else "back-to-back (sleep(0))",
        "bots": n_bots,
        "bars": n_bars,
        "start_all_s": start_all_s,
        "orders": len(lat),
        "orders_per_bar": len(lat) / n_bars,
        "tick_to_order_ms": {
            "p50": pct(lat, 50),
            "p99": pct(lat, 99),
            "max": float(lat.max()) if len(lat) else float("nan"),
        },
        "own_ms": {"p50": pct(own_ms, 50), "p99": pct(own_ms, 99), "max": float(own_ms.max())},
        "by_subscriber_position_p50_ms": by_position,
        "dispatch_ms": {
            "p50": pct(dispatch_ms, 50),
            "p99": pct(dispatch_ms, 99),
            "max": float(dispatch_ms.max()),
        },
        "per_bot_us": float(np.median(dispatch_ms)) * 1000 / n_bots,
        "quiet_bars": len(quiet_ms),
        "quiet_dispatch_ms": {
            "p50": pct(quiet_ms, 50),
            "p99": pct(quiet_ms, 99),
            "min": float(quiet_ms.min()) if len(quiet_ms) else float("nan"),
        },
        "quiet_per_bot_us": pct(quiet_ms, 50) * 1000 / n_bots,
        "bars_s": bars_s,
        "bar_late_ms": {
            "p50": pct(late_ms, 50),
            "p99": pct(late_ms, 99),
            "max": float(late_ms.max()) if len(late_ms) else float("nan"),
        },
        "gc": {
            "collections": len(gc_pauses),
            "gen2_collections": len(gen2),
            "gen2_max_pause_ms": max(gen2, default=0.0) * 1000,
            "max_pause_ms": max((p for _, p in gc_pauses), default=0.0) * 1000,
            "total_ms": sum(p for _, p in gc_pauses) * 1000,
            "pauses": [[g, round(p * 1000, 2)] for g, p in gc_pauses],  # [generation, ms]
        },
        "writer": {
            "commits": n_commits,
            "bots_per_commit": sum(n for _, n in commits) / n_commits if n_commits else 0,
            "commit_ms_mean": 1000 * sum(s for s, _ in commits) / n_commits if n_commits else 0,
            "loop_drain_ms_per_commit": 1000 * writer_loop["drain"] / max(n_commits, 1),
            "loop_publish_ms_per_commit": 1000 * writer_loop["publish"] / max(n_commits, 1),
            "final_flush_s": flush_s,
        },
        "orders_stored_first_10_bots": orders_stored,
        # Each counted bar: [orders sent on it, its dispatch in ms, C if a commit ran on the
        # store thread meanwhile + G if the collector ran] (where the p99 comes from).
        "per_bar": [
            [k, round(float(ms), 3), flags]
            for k, ms, flags in zip(bar_orders, dispatch_ms, bar_flags, strict=True)
        ],
    }


def measure_latency(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    for run in args.latency_runs.split(","):
        strategy, _, interval = run.partition("@")
        r = run_child(
            "latency",
            str(args.running),
            str(args.paced_bars if interval else args.bars),
            strategy,
            str(args.warmup_bars),
            interval or "0",
            str(args.switch_interval),
            str(args.profile / f"latency-{run}.pstats") if args.profile else "",
        )
        results.append(r)
        t, g, w = r["tick_to_order_ms"], r["gc"], r["writer"]
        q = r["quiet_dispatch_ms"]
        late = r["bar_late_ms"]["p99"]
        print(
            f"  {r['strategy']}, bars {r['pacing']}: {r['orders']:,} orders over {r['bars']} "
            f"bars\n    tick→order p50 {t['p50']:.2f} ms p99 {t['p99']:.2f} ms max "
            f"{t['max']:.2f} ms; the bot's own share p99 {r['own_ms']['p99']:.3f} ms; one bar "
            f"to all bots p50 {r['dispatch_ms']['p50']:.1f} ms ({r['per_bot_us']:.1f} µs/bot) "
            f"p99 {r['dispatch_ms']['p99']:.1f} ms"
            + ("" if math.isnan(late) else f"; bar late p99 {late:.1f} ms")  # NaN: back-to-back
            + (
                f"\n    quiet bars ({r['quiet_bars']}): one bar to all bots p50 "
                f"{q['p50']:.2f} ms p99 {q['p99']:.2f} ms ({r['quiet_per_bot_us']:.2f} µs/bot)"
                if r["quiet_bars"]
                else "\n    no quiet bar (every bar had an order or a fill)"
            )
            + f"\n    gen2 GC {g['gen2_collections']}× (max {g['gen2_max_pause_ms']:.0f} ms); "
            f"writer {w['commits']} commits of {w['bots_per_commit']:.0f} bots, commit "
            f"{w['commit_ms_mean']:.0f} ms, on the loop {w['loop_drain_ms_per_commit']:.0f} + "
            f"{w['loop_publish_ms_per_commit']:.0f} ms; final flush {w['final_flush_s']:.1f} s",
            flush=True,
        )
    return results


# --------------------------------------------------------------------------- 3. API load
def child_load(started: float, url: str, seconds: str, concurrency: str) -> dict[str, Any]:
    return asyncio.run(_load(url, float(seconds), int(concurrency)))


async def _load(url: str, seconds: float, concurrency: int) -> dict[str, Any]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors = 0
    received = 0
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
        await client.get(url)
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors, received
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                try:
                    response = await client.get(url)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - t)
                received += len(response.content)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(latencies, 50) * 1000,
        "p99_ms": pct(latencies, 99) * 1000,
        "mb_per_s": received / elapsed / 1e6,
    }


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    assert match, text
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk_load(url: str, seconds: float, concurrency: int) -> dict[str, Any]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    requests = re.search(r"(\d+) requests in ([\d.]+)(\w+),", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if not (requests and rps and p50 and p99 and transfer):
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    scale = {"B": 1e-6, "KB": 1024 / 1e6, "MB": 1024**2 / 1e6, "GB": 1024**3 / 1e6}
    return {
        "requests": int(requests.group(1)),
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
        "rps": float(rps.group(1)),
        "p50_ms": _wrk_ms(p50.group(1)),
        "p99_ms": _wrk_ms(p99.group(1)),
        "mb_per_s": float(transfer.group(1)) * scale[transfer.group(2)],
    }


def measure_api(work: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    import httpx

    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "httpx"
    results = []
    for n_bots in sorted({args.api_bots, 10}, reverse=True):
        data_dir = work / f"daemon-api-{n_bots}" / "data"
        build_store(data_dir / "algotrade.db", n_bots, args.active_every, 0)
        daemon = Daemon(data_dir)
        try:
            daemon.start(expect_bots=n_bots)
            for path in ("/api/bots", "/api/health"):
                url = daemon.url + path
                body = httpx.get(url, timeout=30).content
                wrk_load(url, 1, args.concurrency) if client == "wrk" else None  # warm-up
                cpu_before, t = cpu_seconds(daemon.pid), time.perf_counter()
                if client == "wrk":
                    load = wrk_load(url, args.api_seconds, args.concurrency)
                else:
                    load = run_child("load", url, str(args.api_seconds), str(args.concurrency))
                cpu = (cpu_seconds(daemon.pid) - cpu_before) / (time.perf_counter() - t)
                results.append(
                    {
                        "bots": n_bots,
                        "path": path,
                        "client": client,
                        "concurrency": args.concurrency,
                        "response_bytes": len(body),
                        "daemon_cpu": cpu,
                        "daemon_cpu_ms_per_request": 1000 * cpu / load["rps"],
                        **load,
                    }
                )
                r = results[-1]
                print(
                    f"  GET {path} with {n_bots:,} bots ({len(body):,} B): {r['rps']:,.0f} req/s, "
                    f"p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms, errors {r['errors']}, "
                    f"daemon CPU {cpu:.0%} = {r['daemon_cpu_ms_per_request']:.2f} ms/request "
                    f"[{client}, C={args.concurrency}]",
                    flush=True,
                )
            daemon.terminate()
        finally:
            daemon.kill()
    return results


# --------------------------------------------------------------------------- summary
def summary(results: dict[str, Any], args: argparse.Namespace) -> None:
    rows: list[tuple[str, str, str, str]] = []

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    if "restore" in results:
        best = results["restore"]["in_process_best"]
        daemon = results["restore"]["daemon_best"]
        hwm = max(r["hwm_mb"] for r in results["restore"]["daemon"])
        rows += [
            (
                f"restore {args.bots:,} bots, in-process (start→restored)",
                f"{best['total_s']:.2f} s (restore() {best['restore_s']:.2f} s)",
                "< 3 s",
                met(best["total_s"] < 3),
            ),
            (
                "restore, real daemon (start→health bots==N)",
                f"{daemon['healthy_s']:.2f} s",
                "≤ 3 s",
                met(daemon["healthy_s"] <= 3),
            ),
            (
                "daemon RSS after restore (VmRSS / VmHWM)",
                f"{daemon['rss_mb']:.0f} / {hwm:.0f} MB",
                "≤ 500 MB",
                met(hwm <= 500),
            ),
            ("daemon idle CPU after restore", f"{daemon['idle_cpu']:.0%} of a core", "", ""),
            ("daemon SIGTERM → exit", f"{daemon['sigterm_s']:.2f} s", "", ""),
        ]
    for r in results.get("latency", []):
        t = r["tick_to_order_ms"]
        rows += [
            (
                f"tick→order, {r['bots']:,} bots, {r['strategy']}, {r['pacing']}",
                f"p50 {t['p50']:.2f} / p99 {t['p99']:.2f} / max {t['max']:.2f} ms",
                "",
                "",
            ),
            (
                "  one bar to all bots (dispatch = last decision)",
                f"p50 {r['dispatch_ms']['p50']:.2f} / p99 {r['dispatch_ms']['p99']:.2f} ms",
                "p99 ≤ 10 ms",
                met(r["dispatch_ms"]["p99"] <= 10),
            ),
        ]
        if r["quiet_bars"]:
            q = r["quiet_dispatch_ms"]
            rows.append(
                (
                    f"  quiet bars ({r['quiet_bars']}: no order, no fill)",
                    f"p50 {q['p50']:.2f} / p99 {q['p99']:.2f} ms = "
                    f"{r['quiet_per_bot_us']:.2f} µs/bot",
                    "≤ 10 µs/bot",
                    met(r["quiet_per_bot_us"] <= 10),
                )
            )
    for r in results.get("api", []):
        target = "≥ 5,000 req/s" if r["path"] == "/api/bots" else ""
        rows.append(
            (
                f"GET {r['path']}, {r['bots']:,} bots ({r['response_bytes']:,} B) [{r['client']}]",
                f"{r['rps']:,.0f} req/s, p50 {r['p50_ms']:.1f} / p99 {r['p99_ms']:.1f} ms, "
                f"{r['daemon_cpu_ms_per_request']:.2f} CPU-ms/req",
                target,
                met(r["rps"] >= 5000) if target else "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print()
    print("Summary (SIMULATED bots and prices; 2-core shared machine)")
    for row in rows:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=10_000, help="bots to restore")
    parser.add_argument("--active-every", type=int, default=2, help="every k-th bot has history")
    parser.add_argument("--repeat", type=int, default=3, help="restore runs (best reported)")
    parser.add_argument("--idle-seconds", type=float, default=3.0, help="daemon idle CPU window")
    parser.add_argument("--running", type=int, default=1_000, help="bots on one sim stream")
    parser.add_argument("--bars", type=int, default=200, help="bars of a back-to-back run")
    parser.add_argument("--paced-bars", type=int, default=50, help="bars of a paced (@) run")
    parser.add_argument("--warmup-bars", type=int, default=5)
    parser.add_argument(
        "--latency-runs",
        default="flip,ma,ma-mixed,flip@1",
        help="strategy[@seconds between bars], comma-separated; strategies: flip, ma, ma-mixed; "
        "no @ = back-to-back with sleep(0) (--bars), @s = one bar every s seconds (--paced-bars)",
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=0.0,
        help="experiment: sys.setswitchinterval in the latency child (0 = Python's 5 ms)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="folder: cProfile each latency run's counted dispatches to latency-<run>.pstats",
    )
    parser.add_argument("--api-bots", type=int, default=1_000)
    parser.add_argument("--api-seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--client", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument("--only", default="restore,latency,api", help="parts to run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, started, *rest = args.child
        children: dict[str, Callable[..., dict[str, Any]]] = {
            "restore": child_restore,
            "latency": child_latency,
            "load": child_load,
        }
        run = children[mode]
        print(json.dumps(run(float(started), *rest)))
        return

    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    parts = set(args.only.split(","))
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "args": dict(vars(args))}
    results["args"]["json"] = str(args.json) if args.json else None
    with tempfile.TemporaryDirectory(prefix="daemon-scale-") as tmp:
        work = Path(tmp)
        if "restore" in parts:
            print(f"1. Restore {args.bots:,} stored bots (best of {args.repeat})", flush=True)
            results["restore"] = measure_restore(work, args)
        if "latency" in parts:
            print(f"2. Tick → order, {args.running:,} running bots on one sim stream", flush=True)
            results["latency"] = measure_latency(args)
        if "api" in parts:
            print(f"3. API throughput, {args.concurrency} connections", flush=True)
            results["api"] = measure_api(work, args)
    summary(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()

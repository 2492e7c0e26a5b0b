"""Persistence and publishing off the event loop (issue 14, target 4).

1,000 bots on ONE shared sim stream, each ordering on every bar (``bench_flip``: a
BENCHMARK-ONLY strategy targeting -1/+1 on alternate bars, so one market order and one fill
per bot and bar). Measured, each scenario in a fresh child process:

0. Commits alone: ``Store.record_activity_batch`` with nothing else running, 20 commits of
   1,000 bots × (order, fill, position, account, equity point): fills/s.

1. In process (``BotService`` over a temporary store, the activity writer running), the
   benchmark dispatches the bars itself like ``benchmarks/daemon_scale.py``: back-to-back
   (``await asyncio.sleep(0)`` between bars: bars come as fast as the bots take them) and
   paced (one bar a second). On SQLite and on PostgreSQL (``--pg-url``; skipped when the
   server does not answer). Reported:

   - the event loop held by the activity writer: every step of the writer's tasks (the code
     between two awaits) is timed by wrapping their coroutines, so each figure is one
     uninterrupted hold of the loop; within each step the time spent draining bots
     (``BotActor.drain_activity``) and publishing (``BotActor.on_committed``) is added up;
     max and p99 per step, and the total;
   - commits: count, fills per commit, commit time (``Store.record_activity_batch``, on the
     store thread) mean/max, and fills/s = fills committed / time inside commits;
   - end to end: fills committed / (first bar → final flush returned), and the final flush;
   - a WebSocket-like subscriber (orders, fills, status of every bot) that JSON-encodes each
     event as ``api/ws.py`` does: events received, and whether it was dropped (queue full).

2. SIGTERM under that load: the real daemon (``python -m algotrade daemon``) with the 1,000
   bots in its config file (``auto_resume``; the stream ticks every ``--ticks`` s), WebSocket
   client recording every fill it is told, SIGTERM after ``--load-seconds``: the time to exit,
   the exit code, and every acknowledged fill looked up in the store afterwards.

    .venv/bin/python benchmarks/daemon_persistence.py [--bots 1000] [--bars 200] [--json out]
"""

from __future__ import annotations

import argparse
import asyncio
import collections.abc
import gc
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Generator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from bench_child import clean_env, run_script_child
from flip_strategy_source import FLIP_STRATEGY  # a sibling module: the script folder is on sys.path

PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def run_child(*args: str) -> dict[str, Any]:
    return run_script_child(__file__, "--child", *args)


def bot_config(i: int, strategy_path: str, tick_seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "bot_id": f"bot-{i:05d}",
        "symbol": "SIM-LAT",
        "strategy": strategy_path,
        "params": {},
        "interval": "1m",
        "feed": "sim",
        "feed_options": {"seed": 7, "tick_seconds": tick_seconds, "volatility": 0.002},
        "initial_capital": "1000000",
        "commission": "0.0005",
        "warmup_periods": 0,
        **extra,
    }


# --------------------------------------------------------------------------- PostgreSQL
def pg_available(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def pg_fresh_database(url: str) -> tuple[str, Callable[[], None]]:
    """A new empty database on the server of ``url``, and the function that drops it."""
    import psycopg

    name = f"bench_persist_{os.getpid()}_{int(time.time())}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url.rsplit("/", 1)[0] + "/" + name, drop


# --------------------------------------------------------------------------- loop holds
class StepTimer:
    """Times every step of the coroutines it wraps: one step is one uninterrupted hold of the
    event loop. ``drain``/``publish`` collect the parts of the current step spent there."""

    def __init__(self) -> None:
        self.steps: list[float] = []
        self.drain: list[float] = []
        self.publish: list[float] = []
        self.gc: list[float] = []
        self.cpu: list[float] = []  # the loop thread's CPU time in each step (no GIL waits)
        self.gc_pauses: list[tuple[int, float]] = []  # all of the process, any thread
        self._drain = 0.0
        self._publish = 0.0
        self._gc = 0.0
        self._gc_started = 0.0
        self._in_step = False
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        pause = time.perf_counter() - self._gc_started
        self.gc_pauses.append((info["generation"], pause))
        if self._in_step:
            self._gc += pause

    def clear(self) -> None:
        self.steps.clear()
        self.drain.clear()
        self.publish.clear()
        self.gc.clear()
        self.cpu.clear()
        self.gc_pauses.clear()

    def add_drain(self, seconds: float) -> None:
        self._drain += seconds

    def add_publish(self, seconds: float) -> None:
        self._publish += seconds

    def wrap(self, coro: Any) -> Any:
        timer = self

        class Timed(collections.abc.Coroutine):  # type: ignore[type-arg]
            def send(self, value: Any) -> Any:
                return timer._step(coro.send, value)

            def throw(self, *args: Any) -> Any:
                return timer._step(coro.throw, *args)

            def close(self) -> None:
                coro.close()

            def __await__(self) -> Generator[Any, None, Any]:
                return coro.__await__()  # type: ignore[no-any-return]

        return Timed()

    def _step(self, call: Callable[..., Any], *args: Any) -> Any:
        self._drain = self._publish = self._gc = 0.0
        self._in_step = True
        cpu = time.thread_time()
        started = time.perf_counter()
        try:
            return call(*args)
        finally:
            self._in_step = False
            self.steps.append(time.perf_counter() - started)
            self.cpu.append(time.thread_time() - cpu)
            self.drain.append(self._drain)
            self.publish.append(self._publish)
            self.gc.append(self._gc)

    def figures(self) -> dict[str, float]:
        ms = 1000.0
        return {
            "steps": len(self.steps),
            "hold_max_ms": max(self.steps, default=0.0) * ms,
            "hold_p99_ms": pct(self.steps, 99) * ms,
            "hold_total_s": sum(self.steps),
            "drain_max_ms": max(self.drain, default=0.0) * ms,
            "drain_p99_ms": pct(self.drain, 99) * ms,
            "drain_total_s": sum(self.drain),
            "publish_max_ms": max(self.publish, default=0.0) * ms,
            "publish_p99_ms": pct(self.publish, 99) * ms,
            "publish_total_s": sum(self.publish),
            "steps_over_10ms": sum(1 for s in self.steps if s > 0.010),
            "cpu_max_ms": max(self.cpu, default=0.0) * ms,
            "cpu_p99_ms": pct(self.cpu, 99) * ms,
            "steps_cpu_over_10ms": sum(1 for c in self.cpu if c > 0.010),
            # Garbage collections that ran inside a writer step (any allocation may start
            # one; a full collection of a heap of 1,000 bots takes tens of ms).
            "gc_in_steps_max_ms": max(self.gc, default=0.0) * ms,
            "gen2_collections": sum(1 for g, _ in self.gc_pauses if g == 2),
            "gen2_max_ms": max((p for g, p in self.gc_pauses if g == 2), default=0.0) * ms,
            "gen2_total_s": sum(p for g, p in self.gc_pauses if g == 2),
        }


# --------------------------------------------------------------------------- in process
def child_inprocess(
    backend: str, n_bots: str, n_bars: str, interval: str, slice_ms: str = "0"
) -> dict[str, Any]:
    return asyncio.run(
        _inprocess(backend, int(n_bots), int(n_bars), float(interval), float(slice_ms))
    )


async def _inprocess(
    backend: str, n_bots: int, n_bars: int, interval: float, slice_ms: float
) -> dict[str, Any]:
    from algotrade.daemon.actor import BotActor
    from algotrade.daemon.bus import Topic
    from algotrade.daemon.service import BotService
    from algotrade.daemon.writer import ActivityWriter
    from algotrade.store.store import Store

    tmp = Path(tempfile.mkdtemp(prefix="daemon-persistence-"))
    drop_db: Callable[[], None] | None = None
    try:
        strategy_path = tmp / "bench_flip.py"
        strategy_path.write_text(FLIP_STRATEGY)
        if backend == "sqlite":
            url = f"sqlite:///{tmp / 'bots.db'}"
        else:
            url, drop_db = pg_fresh_database(backend)
        store = Store(url)
        await asyncio.to_thread(store.open)
        configs = [bot_config(i, str(strategy_path), 86400) for i in range(n_bots)]
        from algotrade.daemon.bot_config import BotConfig

        configs = [BotConfig.model_validate(c).model_dump(mode="json") for c in configs]
        await asyncio.to_thread(store.insert_bots, configs)

        timer = StepTimer()
        service = BotService(store)
        if slice_ms:
            service.writer._slice_seconds = slice_ms / 1000
        spawn = service.supervisor.spawn

        def timed_spawn(coro: Any, *, name: str, **kwargs: Any) -> Any:
            if name.startswith("activity-writer"):
                coro = timer.wrap(coro)
            return spawn(coro, name=name, **kwargs)

        service.supervisor.spawn = timed_spawn  # type: ignore[method-assign]
        await service.start()
        await asyncio.gather(*(service.start_bot(c["bot_id"]) for c in configs))
        stream = service.hub.stream_of(configs[0]["bot_id"])
        assert stream is not None
        assert len(stream.subscribers) == n_bots

        drain, publish = BotActor.drain_activity, BotActor.on_committed

        def timed_drain(self: Any) -> Any:
            t = time.perf_counter()
            try:
                return drain(self)
            finally:
                timer.add_drain(time.perf_counter() - t)

        def timed_publish(self: Any, activity: Any) -> None:
            t = time.perf_counter()
            try:
                publish(self, activity)
            finally:
                timer.add_publish(time.perf_counter() - t)

        commits: list[tuple[float, int, int]] = []  # seconds, bots, fills
        record = store.record_activity_batch

        def timed_record(items: Any) -> Any:
            t = time.perf_counter()
            result = record(items)
            fills = sum(len(activity.fills) for _, activity in items)
            commits.append((time.perf_counter() - t, len(items), fills))
            return result

        BotActor.drain_activity = timed_drain  # type: ignore[method-assign]
        BotActor.on_committed = timed_publish  # type: ignore[method-assign]
        store.record_activity_batch = timed_record  # type: ignore[method-assign]
        assert isinstance(service.writer, ActivityWriter)

        # A WebSocket-like subscriber: every order, fill and status, JSON-encoded like ws.py.
        subscription = service.bus.subscribe((Topic.ORDERS, Topic.FILLS, Topic.STATUS))
        received = [0]

        async def consume() -> None:
            while not subscription.dropped:
                message = await subscription.queue.get()
                json.dumps(
                    {"type": "event", "topic": message.topic, "data": message.data},
                    separators=(",", ":"),
                    default=str,
                )
                received[0] += 1

        consumer = asyncio.create_task(consume())

        # Loop lag seen by an independent task (every 1 ms): what any other client would feel.
        lags: list[float] = []

        async def lag_probe() -> None:
            while True:
                t = time.perf_counter()
                await asyncio.sleep(0.001)
                lags.append(time.perf_counter() - t - 0.001)

        probe = asyncio.create_task(lag_probe())

        # The running daemon's collector policy (runtime.py does this after start-up).
        from algotrade.daemon.heap import settle_after_start

        settle_after_start()
        dispatch_s: list[float] = []
        timer.clear()
        commits.clear()
        t_bars = time.perf_counter()
        due = time.perf_counter()
        for _ in range(n_bars):
            bar = stream.next_bar(time.time_ns())
            t0 = time.perf_counter()
            stream.dispatch(bar)
            dispatch_s.append(time.perf_counter() - t0)
            if interval:
                due += interval
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            else:
                await asyncio.sleep(0)
        bars_s = time.perf_counter() - t_bars
        flushed = time.perf_counter()
        await service.writer.flush()
        flush_s = time.perf_counter() - flushed
        total_s = time.perf_counter() - t_bars
        probe.cancel()
        BotActor.drain_activity, BotActor.on_committed = drain, publish  # type: ignore[method-assign]
        booked = sum(actor.fill_count for actor in service._bots.values())
        counts = await asyncio.to_thread(store.order_fill_counts)
        stored = sum(fills for _, fills in counts.values())
        consumer.cancel()
        dropped = subscription.dropped
        await service.shutdown(timeout=60)
        store.close()
    finally:
        if drop_db is not None:
            drop_db()
        shutil.rmtree(tmp, ignore_errors=True)

    commit_s = [s for s, _, _ in commits]
    fills_committed = sum(f for _, _, f in commits)
    return {
        "backend": "sqlite" if backend == "sqlite" else "postgresql",
        "pacing": f"every {interval:g} s" if interval else "back-to-back",
        "bots": n_bots,
        "bars": n_bars,
        "fills_booked": booked,
        "fills_stored": stored,
        "bars_s": bars_s,
        "dispatch_ms_p50": pct(dispatch_s, 50) * 1000,
        "writer_loop": timer.figures(),
        "loop_lag_ms": {"p99": pct(lags, 99) * 1000, "max": max(lags, default=0.0) * 1000},
        "commits": {
            "count": len(commits),
            "fills_per_commit_mean": fills_committed / max(len(commits), 1),
            "fills_per_commit_max": max((f for _, _, f in commits), default=0),
            "commit_ms_mean": 1000 * sum(commit_s) / max(len(commits), 1),
            "commit_ms_max": 1000 * max(commit_s, default=0.0),
            "fills_per_s_in_commit": fills_committed / sum(commit_s) if commit_s else 0.0,
        },
        "fills_per_s_end_to_end": stored / total_s,
        "final_flush_s": flush_s,
        "subscriber": {"received": received[0], "dropped": dropped},
    }


# --------------------------------------------------------------------------- commits alone
def child_commits(backend: str, n_bots: str, rounds: str) -> dict[str, Any]:
    """``Store.record_activity_batch`` alone, nothing else running: ``rounds`` commits of
    ``n_bots`` bots × (order, fill, position, account, equity point) — what one bar of
    ``bench_flip`` gives the writer."""
    from algotrade.daemon.bot_config import BotConfig
    from algotrade.store.records import (
        AccountRecord,
        Activity,
        EquityRecord,
        FillRecord,
        OrderRecord,
        PositionRecord,
    )
    from algotrade.store.store import Store

    tmp = Path(tempfile.mkdtemp(prefix="daemon-persistence-commits-"))
    drop_db: Callable[[], None] | None = None
    try:
        if backend == "sqlite":
            url = f"sqlite:///{tmp / 'bots.db'}"
        else:
            url, drop_db = pg_fresh_database(backend)
        store = Store(url)
        store.open()
        bots = [f"bot-{i:05d}" for i in range(int(n_bots))]
        store.insert_bots(
            [
                BotConfig.model_validate(bot_config(i, "ma_crossover", 1.0)).model_dump(mode="json")
                for i in range(len(bots))
            ]
        )
        price, fee, cash = Decimal("60123.45678"), Decimal("0.0601234"), Decimal("999000.12")
        batches = []
        for r in range(int(rounds)):
            items = []
            ts = 1_763_700_000 * 10**9 + r
            for b in bots:
                coid = f"{b}-{r + 1}"
                qty = Decimal(2 if r else 1)
                side = "buy" if r % 2 else "sell"
                orders = [
                    OrderRecord(b, coid, f"v{coid}", "SIM-LAT", side, "market", qty, None, None,
                                "gtc", False, "filled", qty, price, fee, "", "", ts, ts)
                ]  # fmt: skip
                fills = [
                    FillRecord(b, f"{coid}-F1", coid, f"v{coid}", "SIM-LAT", side, qty, price,
                               fee, "taker", ts)
                ]  # fmt: skip
                position = PositionRecord(b, "SIM-LAT", Decimal(1 - 2 * (r % 2)), price,
                                          fee, fee)  # fmt: skip
                account = AccountRecord(b, Decimal(1000000), cash, fee, fee, ts)
                point = EquityRecord(b, ts, cash, cash, fee, fee, fee)
                items.append((b, Activity(orders, fills, [position], account, [point])))
            batches.append(items)
        seconds = []
        for items in batches:
            t = time.perf_counter()
            store.record_activity_batch(items)
            seconds.append(time.perf_counter() - t)
        store.close()
    finally:
        if drop_db is not None:
            drop_db()
        shutil.rmtree(tmp, ignore_errors=True)
    fills = len(bots) * len(batches)
    return {
        "backend": "sqlite" if backend == "sqlite" else "postgresql",
        "commits": len(batches),
        "fills_per_commit": len(bots),
        "commit_ms_mean": 1000 * sum(seconds) / len(seconds),
        "fills_per_s": fills / sum(seconds),
    }


def show_commits(r: dict[str, Any]) -> None:
    print(
        f"  {r['backend']}, commits alone: {r['commits']} commits of {r['fills_per_commit']:,} "
        f"bots × (order, fill, position, account, equity): {r['commit_ms_mean']:.0f} ms each, "
        f"{r['fills_per_s']:,.0f} fills/s",
        flush=True,
    )


# --------------------------------------------------------------------------- SIGTERM
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_sigterm(backend: str, n_bots: str, tick: str, load_seconds: str) -> dict[str, Any]:
    return asyncio.run(_sigterm(backend, int(n_bots), float(tick), float(load_seconds)))


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


async def _sigterm(backend: str, n_bots: int, tick: float, load_seconds: float) -> dict[str, Any]:
    import httpx
    import websockets

    tmp = Path(tempfile.mkdtemp(prefix="daemon-persistence-term-"))
    drop_db: Callable[[], None] | None = None
    proc: subprocess.Popen[bytes] | None = None
    try:
        strategy_path = tmp / "bench_flip.py"
        strategy_path.write_text(FLIP_STRATEGY)
        data_dir = tmp / "data"
        lines = []
        if backend != "sqlite":
            url, drop_db = pg_fresh_database(backend)
            lines += ["[database]", f"url = {json.dumps(url)}", ""]
        for i in range(n_bots):
            config = bot_config(i, str(strategy_path), tick, auto_resume=True)
            lines.append("[[bots]]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in config.items()]
            lines.append("")
        config_path = tmp / "daemon.toml"
        config_path.write_text("\n".join(lines))
        port = free_port()
        err = (tmp / "daemon.err").open("w")
        command = [sys.executable, "-m", "algotrade", "daemon", "--data-dir", str(data_dir)]
        command += ["--config", str(config_path), "--port", str(port)]
        proc = subprocess.Popen(command, stdout=err, stderr=err, env=clean_env())
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                try:
                    health = (await client.get("/api/health")).json()
                    running = health.get("by_state", {}).get("running", 0)
                    if health.get("bots") == n_bots and running == n_bots:
                        break
                except (httpx.HTTPError, ValueError):
                    pass
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError(f"daemon not up: {(tmp / 'daemon.err').read_text()[-2000:]}")
        told: dict[tuple[str, str], dict[str, Any]] = {}
        closed: list[str] = []
        told_count: dict[str, int] = {}  # bot → the highest fill_count its status told

        async def listen(bot_id: str) -> None:
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
                request = {"op": "subscribe", "topics": ["fills", "status"], "bot_id": bot_id}
                await ws.send(json.dumps(request))
                try:
                    async for text in ws:
                        message = json.loads(text)
                        if message.get("type") != "event":
                            continue
                        data = message["data"]
                        if message.get("topic") == "fills":
                            told[(data["bot_id"], data["trade_id"])] = data
                        elif "fill_count" in data:
                            bot = data["bot_id"]
                            told_count[bot] = max(told_count.get(bot, 0), data["fill_count"])
                except websockets.ConnectionClosed as exc:
                    closed.append(f"{bot_id}: {exc.rcvd.code if exc.rcvd else '?'}")

        async def poll_statuses() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                while True:
                    for status in (await client.get("/api/bots")).json():
                        bot = status["bot_id"]
                        told_count[bot] = max(told_count.get(bot, 0), status["fill_count"])

        # Every fill of a few bots (one socket each: a socket on "*" cannot keep up with
        # 1,000 bots' fills and is closed 1013, as documented), every bot's fill count
        # from GET /api/bots and the status events.
        watched = [f"bot-{i:05d}" for i in range(0, n_bots, max(1, n_bots // 5))]
        tasks = [asyncio.create_task(listen(bot_id)) for bot_id in [*watched, "*"]]
        tasks.append(asyncio.create_task(poll_statuses()))
        await asyncio.sleep(load_seconds)
        told_before = len(told)
        sent = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 60)
        exit_s = time.perf_counter() - sent
        await asyncio.wait(tasks, timeout=5)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if backend == "sqlite":
            db = sqlite3.connect(data_dir / "algotrade.db")
            rows = db.execute("SELECT bot_id, trade_id, qty, price, fee, ts FROM fills").fetchall()
            db.close()
        else:
            import psycopg

            with psycopg.connect(url) as conn:
                query = "SELECT bot_id, trade_id, qty, price, fee, ts FROM fills"
                rows = conn.execute(query).fetchall()
        stored = {(r[0], r[1]): r for r in rows}
        missing = [key for key in told if key not in stored]
        stored_per_bot: dict[str, int] = {}
        for bot, _ in stored:
            stored_per_bot[bot] = stored_per_bot.get(bot, 0) + 1

        def same(row: tuple[Any, ...], fill: dict[str, Any]) -> bool:  # money as numbers
            told = (Decimal(fill["qty"]), Decimal(fill["price"]), Decimal(fill["fee"]))
            return (Decimal(row[2]), Decimal(row[3]), Decimal(row[4])) == told and int(
                row[5]
            ) == int(fill["ts"])

        differing = [
            key for key, fill in told.items() if key in stored and not same(stored[key], fill)
        ]
        return {
            "backend": "sqlite" if backend == "sqlite" else "postgresql",
            "bots": n_bots,
            "tick_s": tick,
            "load_seconds": load_seconds,
            "exit_code": code,
            "exit_s": exit_s,
            "fills_told": len(told),
            "bots_fill_count_told": len(told_count),
            "fill_count_told_total": sum(told_count.values()),
            "fill_count_told_above_stored": sum(
                1 for bot, n in told_count.items() if n > stored_per_bot.get(bot, 0)
            ),
            "fills_told_before_sigterm": told_before,
            "fills_stored": len(stored),
            "told_not_stored": len(missing),
            "told_differs_from_stored": len(differing),
            "ws_closed": closed,
            "stderr_tail": (tmp / "daemon.err").read_text()[-600:],
        }
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if drop_db is not None:
            drop_db()
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- main
def show_inprocess(r: dict[str, Any]) -> None:
    w, c = r["writer_loop"], r["commits"]
    dropped = " (DROPPED: queue full)" if r["subscriber"]["dropped"] else ""
    lines = [
        f"  {r['backend']}, {r['pacing']}: {r['fills_booked']:,} fills booked, "
        f"{r['fills_stored']:,} stored; bars took {r['bars_s']:.1f} s "
        f"(dispatch p50 {r['dispatch_ms_p50']:.0f} ms)",
        f"    loop held by the writer: max {w['hold_max_ms']:.1f} ms, "
        f"p99 {w['hold_p99_ms']:.1f} ms, {w['steps_over_10ms']} of {w['steps']} steps > 10 ms; "
        f"total {w['hold_total_s']:.2f} s",
        f"      draining max {w['drain_max_ms']:.1f} ms (total {w['drain_total_s']:.2f} s), "
        f"publishing max {w['publish_max_ms']:.1f} ms (total {w['publish_total_s']:.2f} s)",
        f"      the loop thread's CPU in a step: max {w['cpu_max_ms']:.1f} ms, "
        f"p99 {w['cpu_p99_ms']:.1f} ms, {w['steps_cpu_over_10ms']} > 10 ms (wall − CPU: "
        "waiting for the GIL, GC)",
        f"      GC: max {w['gc_in_steps_max_ms']:.0f} ms inside a writer step; "
        f"{w['gen2_collections']} full collections in the process, max "
        f"{w['gen2_max_ms']:.0f} ms",
        f"    commits {c['count']} of {c['fills_per_commit_mean']:.0f} fills "
        f"(max {c['fills_per_commit_max']:,}), {c['commit_ms_mean']:.0f} ms mean / "
        f"{c['commit_ms_max']:.0f} ms max: {c['fills_per_s_in_commit']:,.0f} fills/s in commits,"
        f" {r['fills_per_s_end_to_end']:,.0f} fills/s end to end",
        f"    final flush {r['final_flush_s']:.2f} s; loop lag p99 {r['loop_lag_ms']['p99']:.1f} ms"
        f" max {r['loop_lag_ms']['max']:.1f} ms; subscriber {r['subscriber']['received']:,} "
        f"events{dropped}",
    ]
    print("\n".join(lines), flush=True)


def show_sigterm(r: dict[str, Any]) -> None:
    print(
        f"  {r['backend']}: SIGTERM after {r['load_seconds']:g} s of load (tick {r['tick_s']:g} s):"
        f" exit {r['exit_code']} in {r['exit_s']:.2f} s; {r['fills_told']:,} fills told, "
        f"{r['fills_stored']:,} stored, {r['told_not_stored']} told but not stored, "
        f"{r['told_differs_from_stored']} differing; statuses told {r['fill_count_told_total']:,} "
        f"fills of {r['bots_fill_count_told']} bots, {r['fill_count_told_above_stored']} bots "
        f"told more than stored; ws closed {r['ws_closed']}",
        flush=True,
    )
    if r["exit_code"] != 0:
        print(r["stderr_tail"])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, *rest = sys.argv[2:]
        runner = {
            "inprocess": child_inprocess,
            "sigterm": child_sigterm,
            "commits": child_commits,
        }[mode]
        print(json.dumps(runner(*rest)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bots", type=int, default=1000)
    parser.add_argument("--bars", type=int, default=200, help="back-to-back bars")
    parser.add_argument("--paced-bars", type=int, default=20, help="bars at one a second")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--runs", default="commits,inprocess,paced,sigterm")
    parser.add_argument(
        "--ticks",
        default="0.25,0.05",
        help="SIGTERM runs: sim ticks, s (1,000 bots: 0.25 = 4,000 fills/s offered; 0.05 = "
        "20,000, more than the bars' path of one process takes on 2 cores)",
    )
    parser.add_argument("--load-seconds", type=float, default=8.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--slice-ms", default="0", help="override the writer's slice (0: its own)")
    args = parser.parse_args()
    results: dict[str, Any] = {"load_average": os.getloadavg(), "runs": []}
    backends = []
    for name in args.backends.split(","):
        if name == "sqlite":
            backends.append("sqlite")
        elif pg_available(args.pg_url):
            backends.append(args.pg_url)
        else:
            print(f"  PostgreSQL at {args.pg_url} does not answer: skipped")
    runs = args.runs.split(",")
    for backend in backends:
        if "commits" in runs:
            r = run_child("commits", backend, str(args.bots), "20")
            show_commits(r)
            results["runs"].append(r)
        if "inprocess" in runs:
            r = run_child("inprocess", backend, str(args.bots), str(args.bars), "0", args.slice_ms)
            show_inprocess(r)
            results["runs"].append(r)
        if "paced" in runs:
            r = run_child(
                "inprocess", backend, str(args.bots), str(args.paced_bars), "1", args.slice_ms
            )
            show_inprocess(r)
            results["runs"].append(r)
        for tick in args.ticks.split(",") if "sigterm" in runs else []:
            r = run_child("sigterm", backend, str(args.bots), tick, str(args.load_seconds))
            show_sigterm(r)
            results["runs"].append(r)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

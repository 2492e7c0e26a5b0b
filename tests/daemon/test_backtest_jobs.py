"""Backtests in a real daemon: the event loop keeps answering while one runs (it runs in a
worker process), a sim bot keeps trading meanwhile, SIGTERM does not wait for the backtest,
and after a restart the interrupted job is listed as failed."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from testkit.daemon_process import DaemonProcess, wait_until

pytestmark = pytest.mark.slow

ADMIN_KEY = "bt-admin-key-0123456789"
KEYS_ENV = {"ALGOTRADE_API_KEYS": f"admin:{ADMIN_KEY},trader:bt-trader-key-0123456789"}
# About 10 s of backtest in the worker: a loop blocked by it would stall every call below.
LARGE = {"strategy": "ma_crossover", "synthetic": {"bars": 3_000_000, "seed": 2}}
# A generous bound for one request on an idle loop; the backtest alone takes far longer.
ANSWER_WITHIN_S = 2.0


def job(daemon: DaemonProcess, job_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = daemon.ok("GET", f"/api/backtests/{job_id}")
    return answer


def worker_pids(daemon: DaemonProcess) -> list[int]:
    assert daemon.proc is not None
    found = subprocess.run(
        ["pgrep", "-P", str(daemon.proc.pid), "-f", "multiprocessing.spawn"],
        capture_output=True,
        text=True,
        check=False,
    )
    return [int(pid) for pid in found.stdout.split()]


def test_the_loop_answers_while_a_large_backtest_runs(tmp_path: Path) -> None:
    daemon = DaemonProcess(tmp_path / "data", env=KEYS_ENV, api_key=ADMIN_KEY).start()
    try:
        daemon.ok(
            "POST",
            "/api/bots",
            json={
                "bot_id": "sim1",
                "symbol": "SIM-1",
                "strategy": "ma_crossover",
                "params": {"fast": 2, "slow": 5, "qty": 1},
                "feed": "sim",
                "feed_options": {"seed": 1, "tick_seconds": 0.05, "volatility": 0.01},
            },
        )
        daemon.ok("PUT", "/api/bots/sim1/start")
        started = daemon.ok("POST", "/api/backtests", json=LARGE)
        job_id = started["job_id"]
        wait_until(lambda: job(daemon, job_id)["state"] == "running", 30, "the backtest to run")
        heartbeat_before = daemon.ok("GET", "/api/bots/sim1")["status"]["heartbeat"]

        slowest = 0.0
        for _ in range(20):
            began = time.monotonic()
            assert daemon.call("GET", "/api/version").status_code == 200
            slowest = max(slowest, time.monotonic() - began)
        # Every call was answered while the backtest was still running in its worker.
        assert job(daemon, job_id)["state"] == "running"
        assert slowest < ANSWER_WITHIN_S, f"/api/version took {slowest:.2f} s"
        # The bot kept getting bars on the loop meanwhile.
        wait_until(
            lambda: daemon.ok("GET", "/api/bots/sim1")["status"]["heartbeat"] != heartbeat_before,
            10,
            "the sim bot's heartbeat to move",
        )
        workers = worker_pids(daemon)
        assert workers, "the backtest runs in a child process of the daemon"

        # SIGTERM while it still runs: the worker is killed, not waited for (after the restart
        # the job is "interrupted", not done).
        assert job(daemon, job_id)["state"] == "running"
        code, _, stderr = daemon.terminate(timeout=20)
        assert code == 0, stderr
        wait_until(lambda: not any(_alive(pid) for pid in workers), 10, "the worker to exit")
    finally:
        daemon.kill()

    again = DaemonProcess(tmp_path / "data", env=KEYS_ENV, api_key=ADMIN_KEY).start()
    try:
        listed = {j["job_id"]: j for j in again.ok("GET", "/api/backtests")}
        assert listed[job_id]["state"] == "failed"
        assert "interrupted" in listed[job_id]["error"]
        tiny = {"strategy": "rsi", "synthetic": {"bars": 500}}
        new_id = again.ok("POST", "/api/backtests", json=tiny)["job_id"]
        wait_until(lambda: job(again, new_id)["state"] == "done", 60, "a new backtest to finish")
        report = again.call("GET", f"/api/backtests/{new_id}/report")
        assert report.status_code == 200
        assert "SIMULATED DATA" in report.text
    finally:
        again.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False

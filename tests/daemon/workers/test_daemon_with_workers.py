"""The real daemon with ``daemon.bot_workers``: bots trade in its workers, the API shows them
as any bot, ``kill -9`` of the daemon leaves no worker behind and loses no acknowledged fill,
SIGTERM exits 0 with the workers gone."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from testkit.daemon_process import ControlledDaemonProcess, wait_until

pytestmark = pytest.mark.slow

WORKERS_ENV = {"ALGOTRADE__DAEMON__BOT_WORKERS": "2"}


def bot(index: int) -> dict[str, Any]:
    return {
        "bot_id": f"w{index}",
        "symbol": f"SIM-{index % 2}",
        "strategy": "ma_crossover",
        "params": {"fast": 2, "slow": 3 + index, "qty": "0.5"},
        "feed_options": {"seed": 5, "tick_seconds": 0.02, "volatility": 0.01},
        "initial_capital": "10000",
        "auto_resume": True,
    }


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def worker_pids(daemon: ControlledDaemonProcess) -> list[int]:
    workers = daemon.ok("GET", "/api/health")["bot_workers"]
    assert [w["alive"] for w in workers] == [True, True]
    return [w["pid"] for w in workers]


def books(daemon: ControlledDaemonProcess) -> dict[str, dict[str, Any]]:
    return {b["bot_id"]: b for b in daemon.ok("GET", "/api/bots")}


def test_bots_in_workers_survive_kill_9_of_the_daemon(tmp_path: Path) -> None:
    daemon = ControlledDaemonProcess(tmp_path / "data", None, env=WORKERS_ENV)
    daemon.start()
    try:
        for i in range(4):
            daemon.ok("POST", "/api/bots", json=bot(i))
            daemon.ok("PUT", f"/api/bots/w{i}/start")
        pids = worker_pids(daemon)
        assert sorted(w["bots"] for w in daemon.ok("GET", "/api/health")["bot_workers"]) == [2, 2]
        wait_until(lambda: all(b["fill_count"] >= 5 for b in books(daemon).values()), 30, "fills")
        told = books(daemon)  # acknowledged: committed before shown
        daemon.sigkill()
        # The workers see the daemon's end of their socket close, and end.
        wait_until(lambda: not any(alive(pid) for pid in pids), 10, "workers to end")

        daemon.launch()
        daemon.wait_healthy(30)
        again = books(daemon)
        for bot_id, before in told.items():
            assert again[bot_id]["fill_count"] >= before["fill_count"]
            assert again[bot_id]["state"] == "running"  # auto_resume, in a worker again
        new_pids = worker_pids(daemon)
        assert not set(new_pids) & set(pids)
        for i in range(4):
            daemon.ok("PUT", f"/api/bots/w{i}/stop")

        def shown_as_stored() -> bool:
            # A status shows what committed; the last commit may still be telling it.
            return all(
                status["fill_count"] == len(daemon.all_pages(f"/api/bots/{bot_id}/fills"))
                for bot_id, status in books(daemon).items()
            )

        wait_until(shown_as_stored, 10, "statuses to show every stored fill")
        for bot_id in books(daemon):
            stored = daemon.all_pages(f"/api/bots/{bot_id}/fills")
            assert len({f["trade_id"] for f in stored}) == len(stored)
        code = daemon.sigterm(timeout=20)
        assert code == 0, daemon.stderr()
        assert not any(alive(pid) for pid in new_pids)
        assert "ended unexpectedly" not in daemon.stderr()
    finally:
        daemon.kill()
        daemon.close_logs()


def test_a_worker_killed_stops_the_daemon_with_exit_1_and_the_reason(tmp_path: Path) -> None:
    daemon = ControlledDaemonProcess(tmp_path / "data", None, env=WORKERS_ENV)
    daemon.start()
    try:
        daemon.ok("POST", "/api/bots", json=bot(0))
        daemon.ok("PUT", "/api/bots/w0/start")
        first, second = worker_pids(daemon)
        os.kill(first, signal.SIGKILL)
        assert daemon.proc is not None
        code = daemon.proc.wait(timeout=30)
        assert code == 1
        err = daemon.stderr()
        assert "bot worker 0" in err
        assert "ended unexpectedly (exit code -9)" in err
        wait_until(lambda: not alive(second), 10, "the other worker to end")
        daemon.start()
        assert books(daemon)["w0"]["state"] == "running"
    finally:
        daemon.kill()
        daemon.close_logs()

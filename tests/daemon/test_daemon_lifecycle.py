"""The daemon process: single instance, clear startup errors, limits, restore at scale."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from testkit.daemon_process import DaemonProcess, free_port

pytestmark = pytest.mark.slow


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "algotrade", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_second_daemon_on_same_data_dir_names_the_holder(tmp_path: Path) -> None:
    first = DaemonProcess(tmp_path / "data").start()
    try:
        result = run_cli(
            "daemon", "--data-dir", str(tmp_path / "data"), "--port", str(free_port()), cwd=tmp_path
        )
        assert result.returncode == 1
        assert f"PID {first.proc.pid}" in one_line_error(result)  # type: ignore[union-attr]
    finally:
        first.kill()


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "daemon", "--data-dir", str(tmp_path / "d"), "--port", str(port), cwd=tmp_path
        )
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in one_line_error(result)


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("[api]\nport = 'abc'\n", "api.port"),
        ("[api]\nprot = 1\n", "api.prot"),
        ("[daemon]\nmax_bots = 0\n", "daemon.max_bots"),
        ("[api\n", "line 1"),
    ],
)
def test_malformed_config_exits_2_naming_the_key(tmp_path: Path, toml: str, needle: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    result = run_cli(
        "daemon", "--config", str(config), "--data-dir", str(tmp_path / "d"), cwd=tmp_path
    )
    assert result.returncode == 2
    line = one_line_error(result)
    assert needle in line
    assert "bad.toml" in line


def test_malformed_environment_setting_exits_2(tmp_path: Path) -> None:
    result = run_cli(
        "daemon",
        "--data-dir",
        str(tmp_path / "d"),
        cwd=tmp_path,
        env={"ALGOTRADE__API__PORT": "lots"},
    )
    assert result.returncode == 2
    assert "ALGOTRADE__API__PORT" in one_line_error(result)


def test_refuses_public_bind_without_keys(tmp_path: Path) -> None:
    result = run_cli("daemon", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "d"), cwd=tmp_path)
    assert result.returncode == 2
    assert "without API keys" in one_line_error(result)


def test_max_bots_over_http(tmp_path: Path) -> None:
    daemon = DaemonProcess(tmp_path / "data", env={"ALGOTRADE__DAEMON__MAX_BOTS": "2"}).start()
    try:
        for i in range(2):
            daemon.ok(
                "POST", "/api/bots", json={"bot_id": f"b{i}", "symbol": "S", "strategy": "rsi"}
            )
        response = daemon.call(
            "POST", "/api/bots", json={"bot_id": "b2", "symbol": "S", "strategy": "rsi"}
        )
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "bot_limit"
        assert "max_bots" in error["message"]
    finally:
        daemon.kill()


def test_thousand_bots_restored_and_sigterm_within_ten_seconds(tmp_path: Path) -> None:
    daemon = DaemonProcess(tmp_path / "data").start()
    try:
        with httpx.Client(base_url=daemon.url, timeout=30) as client:
            for i in range(1000):
                response = client.post(
                    "/api/bots",
                    json={
                        "bot_id": f"bot-{i:04d}",
                        "symbol": f"SIM-{i % 10}",
                        "strategy": "ma_crossover",
                        "params": {"fast": 3, "slow": 8},
                        "feed_options": {"seed": i % 10, "tick_seconds": 0.05},
                        "auto_resume": True,
                    },
                )
                assert response.status_code == 201, response.text
            for i in range(0, 1000, 2):  # half of them running when the daemon goes down
                assert client.put(f"/api/bots/bot-{i:04d}/start").status_code == 200
    except BaseException:
        daemon.kill()
        raise
    code, elapsed, stderr = daemon.terminate()
    assert code == 0, stderr
    assert elapsed < 10, f"SIGTERM with 500 running bots took {elapsed:.1f} s"

    started = time.monotonic()
    daemon = DaemonProcess(tmp_path / "data", daemon.port).start(timeout=60)
    try:
        bots = daemon.ok("GET", "/api/bots")
        assert len(bots) == 1000
        states = {b["bot_id"]: b["state"] for b in bots}
        assert all(states[f"bot-{i:04d}"] == "running" for i in range(0, 1000, 2))  # auto_resume
        assert all(states[f"bot-{i:04d}"] == "stopped" for i in range(1, 1000, 2))
        assert time.monotonic() - started < 60
    finally:
        code, elapsed, stderr = daemon.terminate()
    assert code == 0, stderr


def test_sighup_reloads_and_never_stops_the_daemon(tmp_path: Path) -> None:
    # Closing the terminal or SSH session that started the daemon sends SIGHUP; its default
    # action killed the daemon (exit 129, no shutdown). Now it reloads (docs/reload.md).
    import signal

    from algotrade.daemon.runtime import SIGHUP_MESSAGE
    from testkit.daemon_process import wait_until

    daemon = DaemonProcess(tmp_path / "data").start()
    try:
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: SIGHUP_MESSAGE in daemon.stderr(), 10, "the SIGHUP log line")
        assert daemon.proc.poll() is None
        assert httpx.get(f"{daemon.url}/api/health", timeout=5).status_code == 200
    except BaseException:
        daemon.kill()
        raise
    code, _, stderr = daemon.terminate()
    assert code == 0, stderr
    assert "stopped" in stderr.splitlines()[-1]

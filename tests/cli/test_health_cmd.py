"""``algotrade health``: exit 0 only for a daemon that answers healthy, 1 with one line else."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.conftest import RunMain
from testkit.daemon_process import DaemonProcess, free_port
from testkit.http_stub import serving


def unhealthy_line(outcome_stderr: str, *needles: str) -> None:
    lines = [line for line in outcome_stderr.splitlines() if line.strip()]
    assert len(lines) == 1, outcome_stderr
    assert lines[0].startswith("unhealthy: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.slow
def test_a_running_daemon_is_healthy_and_a_stopped_one_is_not(
    tmp_path: Path, run_main: RunMain
) -> None:
    daemon = DaemonProcess(tmp_path / "data").start()
    try:
        healthy = run_main("health", "--url", daemon.url)
        assert healthy.code == 0, healthy
        assert (healthy.stdout, healthy.stderr) == ("", "")  # quiet for probes
        from_env = run_main("health", "--verbose", env={"ALGOTRADE_DAEMON_URL": daemon.url})
        assert from_env.code == 0
        assert json.loads(from_env.stdout)["state"] == "running"
    finally:
        assert daemon.terminate()[0] == 0
    gone = run_main("health", "--url", daemon.url)
    assert gone.code == 1
    unhealthy_line(gone.stderr, f"{daemon.url}/api/health", "unreachable")


class _Answer(http.server.BaseHTTPRequestHandler):
    status = 200
    body = b""

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def answering() -> Iterator[type[_Answer]]:
    """A local server whose answer the test sets (``status``, ``body``); its URL on ``url``."""

    class Handler(_Answer):
        pass

    with serving(Handler) as url:
        Handler.url = url  # type: ignore[attr-defined]
        yield Handler


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (500, b'{"error": {"code": "internal"}}', "answered HTTP 500"),
        (200, b"<html>not the daemon</html>", "not a health document"),
        (200, b'{"status": "ok", "state": "stopping"}', "state is 'stopping'"),
        (200, b'{"status": "degraded", "state": "running"}', "status is 'degraded'"),
    ],
)
def test_answers_that_are_not_healthy_exit_1(
    run_main: RunMain, answering: type[_Answer], status: int, body: bytes, reason: str
) -> None:
    answering.status, answering.body = status, body
    outcome = run_main("health", "--url", answering.url)  # type: ignore[attr-defined]
    assert outcome.code == 1
    unhealthy_line(outcome.stderr, reason)


def test_nothing_listening_and_a_bad_url_exit_1(run_main: RunMain) -> None:
    closed = run_main("health", "--url", f"http://127.0.0.1:{free_port()}", "--timeout", "1")
    assert closed.code == 1
    unhealthy_line(closed.stderr, "unreachable")
    bad = run_main("health", "--url", "127.0.0.1:8080")
    assert bad.code == 1
    unhealthy_line(bad.stderr, "--url: expected http://HOST:PORT")


def test_the_probe_imports_nothing_of_the_daemon_stack() -> None:
    script = (
        "import sys\n"
        "from algotrade.cli.main import main\n"
        "sys.argv = ['algotrade', 'health', '--url', 'http://127.0.0.1:9', '--timeout', '0.5']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('fastapi', 'sqlalchemy', 'polars', 'uvicorn', 'plotly')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"

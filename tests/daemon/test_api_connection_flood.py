"""A flood of idle connections to a real daemon: health and admin requests are still served.

Idle and half-sent connections were held for good: 22,000 of them (no key needed) used up the
daemon's file descriptors, after which /api/health timed out. The daemon now raises its soft
open-file limit to the hard one, and caps its API connections below it, closing the ones that
have waited longest for a request first (api/server.py).
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from testkit.daemon_process import DaemonProcess

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX resource limits")

FLOOD = 2000  # loopback connections; bounded so the test stays cheap
DAEMON_START_LIMIT = 512  # a soft limit well below the flood, as `ulimit -n` often is


@contextmanager
def soft_open_file_limit(limit: int) -> Iterator[None]:
    """This process's soft RLIMIT_NOFILE set to ``limit`` meanwhile (children inherit it)."""
    import resource  # POSIX only (the module is skipped on Windows)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < limit:
        pytest.skip(f"the hard open-file limit ({hard}) is below {limit}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def soft_limit_of(pid: int) -> int | None:
    limits = Path(f"/proc/{pid}/limits")
    if not limits.exists():
        return None
    for line in limits.read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return None


def test_health_and_admin_requests_are_served_through_a_flood(tmp_path: Path) -> None:
    with soft_open_file_limit(DAEMON_START_LIMIT):
        daemon = DaemonProcess(tmp_path / "data").start()
    assert daemon.proc is not None
    raised = soft_limit_of(daemon.proc.pid)
    assert raised is None or raised > DAEMON_START_LIMIT, "the daemon kept its small soft limit"

    idle: list[socket.socket] = []
    try:
        with soft_open_file_limit(FLOOD + 500):  # this test's own end of the connections
            for _ in range(FLOOD):
                idle.append(socket.create_connection(("127.0.0.1", daemon.port), timeout=10))
            started = time.monotonic()
            health = httpx.get(f"{daemon.url}/api/health", timeout=10)
            assert health.status_code == 200
            bots = httpx.get(f"{daemon.url}/api/bots", timeout=10)  # an admin call (no keys)
            assert bots.status_code == 200
            assert time.monotonic() - started < 5
            for sock in idle:
                sock.close()
            idle.clear()
    except BaseException:
        for sock in idle:
            sock.close()
        daemon.kill()
        raise
    code, _, stderr = daemon.terminate()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert len(stderr.splitlines()) < 50, "the flood flooded the log"

"""Run a real daemon process for scenario tests and talk to it over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any

import httpx

# The one HTTP client of every request made here. ``httpx.get`` and its kin build a client, and
# with it a TLS context, per call: about 20 ms of CPU each, so polling health every 20 ms took
# half a core from the daemon starting beside it (0.6 s of CPU per start). Otherwise it behaves
# as a client per request did: no keep-alive (each request opens its own connection, none
# outlives the daemon it was made to), no limit on connections at once, and no cookie kept (a
# session cookie one test was given must not sign in the next request).
HTTP = httpx.Client(
    limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
    cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DaemonProcess:
    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *extra: str,
        env: dict[str, str] | None = None,
        api_key: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.extra = extra
        self.env = {**os.environ, **(env or {})}
        self.api_key = api_key
        self.proc: subprocess.Popen[str] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> DaemonProcess:
        """Spawn the daemon and wait until ``GET /api/health`` answers (killed if it does not
        within ``timeout``)."""
        self.launch()
        try:
            self.wait_healthy(timeout)
        except AssertionError:
            self.kill()
            raise
        return self

    def launch(self) -> None:
        """Spawn the daemon and return at once."""
        # Output goes to files: an unread pipe fills up (64 KiB of access logs) and then
        # blocks the daemon on its next log line.
        self.close_logs()  # those of the previous run of this process object
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stdout = (self.data_dir.parent / f"daemon-{self.port}.out").open("a")
        self._stderr_path = self.data_dir.parent / f"daemon-{self.port}.err"
        self._stderr = self._stderr_path.open("a")
        self._stderr_offset = self._stderr_path.stat().st_size
        self.launched_at = time.monotonic()
        command = [sys.executable, "-m", "algotrade", "daemon", "--data-dir", str(self.data_dir)]
        self.proc = subprocess.Popen(
            [*command, "--port", str(self.port), *self.extra],
            stdout=self._stdout,
            stderr=self._stderr,
            text=True,
            env=self.env,
            stdin=subprocess.DEVNULL,
        )

    def wait_healthy(self, timeout: float) -> float:
        """Seconds from ``launch`` until ``GET /api/health`` answered 200 (polled every 20 ms);
        ``AssertionError`` when the daemon exits or does not answer within ``timeout``."""
        assert self.proc is not None, "launch() first"
        deadline = self.launched_at + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}: {self.stderr()}")
            if self.healthy():
                return time.monotonic() - self.launched_at
            time.sleep(0.02)
        raise AssertionError(f"daemon did not answer /api/health within {timeout} s")

    def healthy(self) -> bool:
        """Whether ``GET /api/health`` answers 200 right now."""
        try:
            return HTTP.get(f"{self.url}/api/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def close_logs(self) -> None:
        for name in ("_stdout", "_stderr"):
            handle = getattr(self, name, None)
            if handle is not None and not handle.closed:
                handle.close()

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key} if self.api_key else {}

    def call(self, method: str, path: str, *, timeout: float = 10, **kwargs: Any) -> httpx.Response:
        return HTTP.request(
            method, f"{self.url}{path}", headers=self.headers, timeout=timeout, **kwargs
        )

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code < 300, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        return response.json() if response.content else None

    def all_pages(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self.ok("GET", f"{path}?offset={len(items)}&limit=1000")
            items += page["items"]
            if len(items) >= page["total"] or not page["items"]:
                return items

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stderr(self) -> str:
        """What this run of the daemon wrote to stderr."""
        self._stderr.flush()
        with self._stderr_path.open() as fh:
            fh.seek(self._stderr_offset)
            return fh.read()

    def terminate(self, timeout: float = 15.0) -> tuple[int, float, str]:
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout)
        return self.proc.returncode, time.monotonic() - started, self.stderr()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class ControlledDaemonProcess(DaemonProcess):
    """A daemon process killed or stopped at any moment, even during start-up (crash soaks):
    the caller launches it, times how long it takes to become healthy, and signals it."""

    def sigkill(self) -> None:
        """``kill -9`` and reap: nothing gets a chance to flush."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def sigterm(self, timeout: float) -> int | None:
        """SIGTERM and wait; the exit code, or None (and ``kill -9``) when it did not exit."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.sigkill()
            return None

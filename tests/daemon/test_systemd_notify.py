"""The notify protocol (sd_notify(3)) over a real datagram socket: in-process for the
notifier's rules, and from a real daemon process for READY, STATUS, WATCHDOG and STOPPING."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from algotrade.daemon.systemd_notify import SystemdNotifier, bot_count_status
from testkit.daemon_process import DaemonProcess


class NotifySocket:
    """What systemd listens on: an AF_UNIX datagram socket; records each message's arrival."""

    def __init__(self, path: Path | str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        address: str | bytes = path if isinstance(path, str) else str(path)
        if isinstance(address, str) and address.startswith("@"):
            address = b"\0" + address[1:].encode()
        self.sock.bind(address)
        self.address = str(path)

    def receive(self, timeout: float) -> tuple[float, dict[str, str]] | None:
        self.sock.settimeout(timeout)
        try:
            payload = self.sock.recv(4096)
        except TimeoutError:
            return None
        fields = dict(line.split("=", 1) for line in payload.decode().splitlines())
        return time.monotonic(), fields

    def wait_for(self, key: str, timeout: float) -> list[tuple[float, dict[str, str]]]:
        """Every message up to and including the first that has ``key``."""
        seen: list[tuple[float, dict[str, str]]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.receive(max(0.01, deadline - time.monotonic()))
            if message is None:
                break
            seen.append(message)
            if key in message[1]:
                return seen
        raise AssertionError(f"no {key} within {timeout} s; got {[m[1] for m in seen]}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    listener = NotifySocket(tmp_path / "notify.sock")
    yield listener
    listener.close()


# -- the notifier ------------------------------------------------------------------------------


def test_messages_reach_the_socket(notify_socket: NotifySocket) -> None:
    notifier = SystemdNotifier(notify_socket.address)
    notifier.ready("3 bots:\n2 running")
    notifier.reloading("reloading")
    notifier.stopping()
    messages = [notify_socket.receive(1.0) for _ in range(3)]
    ready, reloading, stopping = (message[1] for message in messages if message is not None)
    assert ready == {"READY": "1", "STATUS": "3 bots: 2 running"}  # a status is one line
    assert reloading["RELOADING"] == "1"
    assert int(reloading["MONOTONIC_USEC"]) > 0
    assert stopping == {"STOPPING": "1"}
    notifier.close()


def test_an_abstract_socket_address(tmp_path: Path) -> None:
    name = f"@algotrade-test-{os.getpid()}-{time.monotonic_ns()}"
    listener = NotifySocket(name)
    try:
        notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": name})
        assert notifier.send("WATCHDOG=1")
        received = listener.receive(1.0)
        assert received is not None
        assert received[1] == {"WATCHDOG": "1"}
    finally:
        listener.close()


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = SystemdNotifier.from_env({"WATCHDOG_USEC": "1000000"})
    assert not notifier.enabled
    assert notifier.watchdog_interval_s is None
    assert not notifier.send("READY=1")


def test_the_watchdog_interval_is_half_of_watchdog_usec_for_this_process_only() -> None:
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000"}
    assert SystemdNotifier.from_env(env).watchdog_interval_s == 15.0
    mine = {**env, "WATCHDOG_PID": str(os.getpid())}
    assert SystemdNotifier.from_env(mine).watchdog_interval_s == 15.0
    other = {**env, "WATCHDOG_PID": str(os.getpid() + 1)}
    assert SystemdNotifier.from_env(other).watchdog_interval_s is None
    assert SystemdNotifier.from_env({**env, "WATCHDOG_USEC": "soon"}).watchdog_interval_s is None


def test_a_gone_socket_is_logged_once_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = SystemdNotifier(str(tmp_path / "nobody-listens.sock"))
    assert not notifier.send("WATCHDOG=1")
    assert not notifier.send("WATCHDOG=1")
    warnings = [r for r in caplog.records if "cannot send" in r.getMessage()]
    assert len(warnings) == 1


def test_bot_count_status() -> None:
    health = {"bots": 3, "by_state": {"stopped": 1, "running": 2}}
    assert bot_count_status(health) == "3 bots: 2 running, 1 stopped"
    assert bot_count_status({"bots": 0, "by_state": {}}) == "0 bots"


def test_watchdog_pings_stop_while_the_event_loop_is_blocked(
    notify_socket: NotifySocket,
) -> None:
    """The pings come from the loop itself: a blocked loop sends none, so systemd restarts."""
    usec = 200_000  # WatchdogSec=0.2 s: a ping every 0.1 s
    notifier = SystemdNotifier(notify_socket.address, usec)

    async def scenario() -> tuple[float, float]:
        task = notifier.start_watchdog()
        assert task is not None
        await asyncio.sleep(0.35)
        blocked_from = time.monotonic()
        time.sleep(0.6)  # the point: the loop is blocked for 3 × WatchdogSec
        blocked_to = time.monotonic()
        await asyncio.sleep(0.35)
        task.cancel()
        return blocked_from, blocked_to

    arrivals: list[float] = []
    stop = threading.Event()

    def listen() -> None:  # timestamps on arrival, while the loop under test is blocked
        while not stop.is_set():
            message = notify_socket.receive(0.05)
            if message is not None:
                assert message[1] == {"WATCHDOG": "1"}
                arrivals.append(message[0])

    listener = threading.Thread(target=listen)
    listener.start()
    try:
        blocked_from, blocked_to = asyncio.run(scenario())
        time.sleep(0.1)
    finally:
        stop.set()
        listener.join()
    before = [t for t in arrivals if t < blocked_from]
    during = [t for t in arrivals if blocked_from + 0.01 < t < blocked_to]
    after = [t for t in arrivals if t >= blocked_to]
    assert len(before) >= 2
    assert during == []
    assert len(after) >= 2  # one on waking, then every 0.1 s again
    notifier.close()


# -- a real daemon ------------------------------------------------------------------------------

EXAMPLE_CONFIG = (
    Path(__file__).resolve().parents[2] / "src" / "algotrade" / "daemon" / "example_config.toml"
)


class PortProbe:
    """Connects to the daemon's port every few milliseconds from launch on, recording each
    attempt's start, end and outcome: the evidence for "READY only once the API answers"."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.attempts: list[tuple[float, float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PortProbe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                accepted = True
            except OSError:
                accepted = False
            self.attempts.append((began, time.monotonic(), accepted))
            self._stop.wait(0.005)


@pytest.fixture
def daemon_env(notify_socket: NotifySocket) -> dict[str, str]:
    return {"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "1000000"}


@pytest.mark.slow
def test_a_daemon_is_ready_only_when_its_api_answers_and_stops_with_stopping(
    tmp_path: Path, notify_socket: NotifySocket, daemon_env: dict[str, str]
) -> None:
    daemon = DaemonProcess(tmp_path / "data", None, "--example", env=daemon_env)
    with PortProbe(daemon.port) as probe:
        daemon.launch()
        try:
            messages = notify_socket.wait_for("READY", timeout=60)
            ready_at = messages[-1][0]
            answer = httpx.get(f"{daemon.url}/api/health", timeout=5)
            time.sleep(0.05)  # a few more probes after READY
        except BaseException:
            daemon.kill()
            raise
    try:
        # Nothing before READY; at READY the API answers at once.
        assert [fields for _, fields in messages[:-1]] == []
        assert answer.status_code == 200
        refused_after_ready = [a for a in probe.attempts if a[0] > ready_at and not a[2]]
        assert refused_after_ready == []
        first_accept = min(end for _, end, ok in probe.attempts if ok)
        print(f"port first accepted {ready_at - first_accept:+.3f} s before READY arrived")
        ready = messages[-1][1]
        assert ready["READY"] == "1"
        health = answer.json()
        assert ready["STATUS"] == bot_count_status(health)
        assert ready["STATUS"].startswith(f"{health['bots']} bots")
        pings: list[float] = []
        while len(pings) < 4:
            received = notify_socket.receive(3.0)
            assert received is not None, "the watchdog stopped pinging"
            if "WATCHDOG" in received[1]:
                pings.append(received[0])
        gaps = sorted(b - a for a, b in itertools.pairwise(pings))
        assert 0.4 < gaps[len(gaps) // 2] < 0.7, gaps  # every WATCHDOG_USEC / 2
        print(f"watchdog gaps (WATCHDOG_USEC=1 s): {[round(g, 3) for g in gaps]}")
    finally:
        code, _, err = daemon.terminate()
    assert code == 0, err
    later = notify_socket.wait_for("STOPPING", timeout=5)
    assert later[-1][1]["STOPPING"] == "1"


@pytest.mark.slow
def test_a_reload_is_framed_by_reloading_and_ready(
    tmp_path: Path, notify_socket: NotifySocket, daemon_env: dict[str, str]
) -> None:
    """systemctl reload: SIGHUP → RELOADING=1 (with MONOTONIC_USEC) … READY=1, also when the
    file is broken (the old config stays and the daemon is ready again; without READY=1
    systemd would hold the unit in "reloading" until its timeout)."""
    config = tmp_path / "daemon.toml"
    config.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    daemon = DaemonProcess(tmp_path / "data", None, "--config", str(config), env=daemon_env)
    daemon.launch()
    try:
        notify_socket.wait_for("READY", timeout=60)
        for broken in (False, True):
            if broken:
                config.write_text("[api\nport = \n", encoding="utf-8")
            sent_at = time.monotonic()
            assert daemon.proc is not None
            daemon.proc.send_signal(signal.SIGHUP)
            reload = notify_socket.wait_for("RELOADING", timeout=10)
            reloading = reload[-1][1]
            assert reloading["RELOADING"] == "1"
            # MONOTONIC_USEC is CLOCK_MONOTONIC, the clock of time.monotonic() on Linux.
            assert sent_at <= int(reloading["MONOTONIC_USEC"]) / 1e6 <= reload[-1][0]
            ready = notify_socket.wait_for("READY", timeout=30)[-1][1]
            assert ready["READY"] == "1"
            assert daemon.healthy()
            outcome = "rejected" if broken else "applied"
            assert f"(signal: SIGHUP) {outcome}" in daemon.stderr()
    finally:
        code, _, err = daemon.terminate()
    assert code == 0, err

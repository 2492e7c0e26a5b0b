"""The Windows service host's lifecycle on Linux: the SCM's status reports and the event log are
recorded instead of sent; the child is a real process (the real daemon where it matters)."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from algotrade.daemon.windows_service_api import (
    ERROR_PROCESS_ABORTED,
    ERROR_SERVICE_SPECIFIC_ERROR,
    ServiceState,
    WindowsServiceError,
)
from algotrade.daemon.windows_service_host import (
    SHUTDOWN_PREFIX,
    HostArguments,
    HostOutcome,
    ServiceHost,
)
from testkit.daemon_process import DaemonProcess, free_port, wait_until


@dataclass
class Scm:
    """Records what the host reports, as the SCM would see it."""

    reports: list[tuple[ServiceState, int, int, int, int | None]] = field(default_factory=list)
    events: list[tuple[str, bool]] = field(default_factory=list)

    def report(
        self,
        state: ServiceState,
        *,
        wait_hint_ms: int = 0,
        win32_exit_code: int = 0,
        service_exit_code: int = 0,
        pid: int | None = None,
    ) -> None:
        self.reports.append((state, wait_hint_ms, win32_exit_code, service_exit_code, pid))

    def log(self, message: str, *, error: bool = False) -> None:
        self.events.append((message, error))

    def states(self) -> list[ServiceState]:
        return [report[0] for report in self.reports]

    def last(self) -> tuple[ServiceState, int, int, int, int | None]:
        return self.reports[-1]


class Running:
    """A host's ``run()`` on its own thread, as the service's main thread runs it."""

    def __init__(self, host: ServiceHost, scm: Scm) -> None:
        self.host, self.scm = host, scm
        self.outcome: HostOutcome | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        wait_until(
            lambda: ServiceState.RUNNING in scm.states() or ServiceState.STOPPED in scm.states(),
            timeout=10,
            what="the host to report RUNNING",
        )

    def _run(self) -> None:
        self.outcome = self.host.run()

    def join(self, timeout: float) -> HostOutcome:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the host did not return"
        assert self.outcome is not None
        return self.outcome


def arguments(tmp_path: Path, *, shutdown_timeout_s: float = 10.0, port: int = 0) -> HostArguments:
    config = tmp_path / "daemon.toml"
    if not config.exists():
        config.write_text(f"[api]\nport = {port or free_port()}\n")
    return HostArguments(
        python=sys.executable,
        config=str(config),
        data_dir=str(tmp_path / "data"),
        shutdown_timeout_s=shutdown_timeout_s,
        api_url="http://127.0.0.1:1",
    )


def script(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_parameters_round_trip_and_missing_ones_are_named(tmp_path: Path) -> None:
    args = arguments(tmp_path)
    assert HostArguments.from_parameters(args.to_parameters()) == args
    with pytest.raises(WindowsServiceError, match="config, data_dir"):
        HostArguments.from_parameters({"python": "x", "shutdown_timeout_s": 1, "api_url": "u"})
    with pytest.raises(WindowsServiceError, match="reinstall"):
        HostArguments.from_parameters({**args.to_parameters(), "shutdown_timeout_s": "soon"})


def test_a_child_that_exits_on_its_own_is_a_failure_so_windows_restarts_it(tmp_path: Path) -> None:
    scm = Scm()
    host = ServiceHost(arguments(tmp_path), scm.report, scm.log, command=script("exit(3)"))
    outcome = Running(host, scm).join(10)
    assert outcome == HostOutcome(3, False, False, ERROR_SERVICE_SPECIFIC_ERROR, 3)
    assert scm.states() == [ServiceState.START_PENDING, ServiceState.RUNNING, ServiceState.STOPPED]
    assert scm.last()[2:4] == (ERROR_SERVICE_SPECIFIC_ERROR, 3)
    assert any("exited on its own with 3" in m and error for m, error in scm.events)


def test_a_child_that_exits_0_unasked_is_still_reported_as_a_failure(tmp_path: Path) -> None:
    scm = Scm()
    host = ServiceHost(arguments(tmp_path), scm.report, scm.log, command=script("exit(0)"))
    outcome = Running(host, scm).join(10)
    assert (outcome.win32_exit_code, outcome.service_exit_code) == (ERROR_PROCESS_ABORTED, 0)


def test_a_child_that_cannot_be_started_is_reported_stopped_with_an_error(tmp_path: Path) -> None:
    scm = Scm()
    missing = str(tmp_path / "no-python")
    host = ServiceHost(arguments(tmp_path), scm.report, scm.log, command=[missing])
    outcome = Running(host, scm).join(10)
    assert outcome.exit_code is None
    assert scm.states() == [ServiceState.START_PENDING, ServiceState.STOPPED]
    assert scm.last()[2] == ERROR_PROCESS_ABORTED
    assert any("cannot start the daemon" in m and missing in m for m, _ in scm.events)


def test_a_child_ignoring_shutdown_is_killed_after_the_timeout_only(tmp_path: Path) -> None:
    scm = Scm()
    args = arguments(tmp_path, shutdown_timeout_s=0.6)
    host = ServiceHost(
        args, scm.report, scm.log, command=script("import time; time.sleep(60)"), stop_margin_s=0
    )
    running = Running(host, scm)
    started = time.monotonic()
    host.request_stop()
    outcome = running.join(15)
    elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 5, elapsed
    assert outcome.requested
    assert outcome.killed
    assert outcome.exit_code == -9
    # An operator's stop is not a failure to Windows (no restart); the code is still shown.
    assert scm.last()[:4] == (ServiceState.STOPPED, 0, 0, 137)
    assert any("did not stop within 0.6 s" in m and error for m, error in scm.events)
    # The SHUTDOWN nobody claimed is gone: it would stop the next run at once.
    assert not list((tmp_path / "data" / "signals").glob("*.cmd"))


def test_stop_pending_is_reported_with_shrinking_wait_hints_until_the_child_exits(
    tmp_path: Path,
) -> None:
    scm = Scm()
    args = arguments(tmp_path, shutdown_timeout_s=20)
    # Stands in for a daemon that needs 1.5 s to stop after it sees the SHUTDOWN command.
    slow_stopper = script(
        "import pathlib, sys, time\n"
        f"signals = pathlib.Path({str(tmp_path / 'data' / 'signals')!r})\n"
        "while not list(signals.glob('*.cmd')): time.sleep(0.02)\n"
        "command = next(signals.glob('*.cmd'))\n"
        "assert 'ACTION=SHUTDOWN' in command.read_text(), command.read_text()\n"
        "command.unlink(); time.sleep(1.5); sys.exit(0)\n"
    )
    host = ServiceHost(args, scm.report, scm.log, command=slow_stopper, checkpoint_s=0.5)
    running = Running(host, scm)
    host.request_stop()
    outcome = running.join(20)
    assert outcome == HostOutcome(0, True, False, 0, 0)
    pending = [hint for state, hint, *_ in scm.reports if state == ServiceState.STOP_PENDING]
    assert len(pending) >= 3, scm.reports
    assert pending[1:] == sorted(pending[1:], reverse=True)
    assert all(hint > 0 for hint in pending)
    assert scm.states()[-1] == ServiceState.STOPPED


def test_a_shutdown_left_by_an_earlier_run_is_removed_before_the_daemon_starts(
    tmp_path: Path,
) -> None:
    signals = tmp_path / "data" / "signals"
    signals.mkdir(parents=True)
    stale = signals / f"{SHUTDOWN_PREFIX}00000000000000000001.cmd"
    stale.write_text("ACTION=SHUTDOWN\n")
    other = signals / "0001-start.cmd"  # the operator's own commands are not touched
    other.write_text("ACTION=START\nBOT=x\n")
    scm = Scm()
    host = ServiceHost(arguments(tmp_path), scm.report, scm.log, command=script("exit(0)"))
    Running(host, scm).join(10)
    assert not stale.exists()
    assert other.exists()
    assert any("left by an earlier run" in m for m, _ in scm.events)


def bot(bot_id: str, seed: int) -> dict[str, object]:
    return {
        "bot_id": bot_id,
        "symbol": f"SIM-{seed}",
        "strategy": "ma_crossover",
        "params": {"fast": 2, "slow": 5, "qty": 1},
        "feed": "sim",
        "feed_options": {"seed": seed, "tick_seconds": 0.02, "volatility": 0.01},
        "initial_capital": "100000",
    }


@pytest.mark.slow
def test_stop_ends_the_real_daemon_through_the_file_channel_with_books_intact(
    tmp_path: Path,
) -> None:
    port = free_port()
    scm = Scm()
    args = arguments(tmp_path, port=port)
    host = ServiceHost(args, scm.report, scm.log)
    assert host.command[1:4] == ["-m", "algotrade", "daemon"]
    running = Running(host, scm)
    client = DaemonProcess(Path(args.data_dir), port)
    try:
        wait_until(client.healthy, timeout=30, what="the daemon under the host to answer")
        assert scm.reports[1][4] == host.child.pid  # type: ignore[union-attr]
        for index, bot_id in enumerate(["alpha", "beta"]):
            client.ok("POST", "/api/bots", json=bot(bot_id, index + 1))
            client.ok("PUT", f"/api/bots/{bot_id}/start")
        wait_until(
            lambda: all(
                client.ok("GET", f"/api/bots/{b}/fills?limit=1")["total"] >= 4
                for b in ["alpha", "beta"]
            ),
            timeout=60,
            what="fills on both bots",
        )
        seen = {b: client.all_pages(f"/api/bots/{b}/fills") for b in ["alpha", "beta"]}
        started = time.monotonic()
        host.request_stop()
        outcome = running.join(30)
        stop_s = time.monotonic() - started
    finally:
        if host.child is not None and host.child.poll() is None:
            host.child.kill()
            host.child.wait(10)
    assert outcome == HostOutcome(0, True, False, 0, 0), scm.events
    assert stop_s < args.shutdown_timeout_s
    print(f"service stop of the real daemon: {stop_s:.2f} s")
    done = list((Path(args.data_dir) / "signals" / "done").glob(f"{SHUTDOWN_PREFIX}*.cmd"))
    assert len(done) == 1  # the daemon ran the SHUTDOWN command itself
    assert any("stopped with exit code 0" in m and not error for m, error in scm.events)

    restarted = DaemonProcess(Path(args.data_dir), port).start()
    try:
        for bot_id, before in seen.items():
            fills = restarted.all_pages(f"/api/bots/{bot_id}/fills")
            by_trade = {fill["trade_id"]: fill for fill in fills}
            for fill in before:
                assert by_trade[fill["trade_id"]] == fill
            held: dict[str, Decimal] = {}
            for fill in fills:
                signed = Decimal(fill["qty"]) * (1 if fill["side"] == "buy" else -1)
                held[fill["symbol"]] = held.get(fill["symbol"], Decimal(0)) + signed
            positions = {
                p["symbol"]: Decimal(p["qty"])
                for p in restarted.ok("GET", f"/api/bots/{bot_id}/positions")
                if Decimal(p["qty"])
            }
            assert positions == {s: q for s, q in held.items() if q}
    finally:
        restarted.kill()

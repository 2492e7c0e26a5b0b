"""The Windows service host: runs the daemon as a child process and stops it gracefully.

The service process does not host the bots itself: it runs the same ``python -m algotrade
daemon --config … --data-dir …`` a terminal would, with the absolute paths fixed at install.
A stop from the SCM becomes a ``SHUTDOWN`` command in the daemon's file channel
(``<data_dir>/signals``; Windows has no SIGTERM to send), the host waits up to the daemon's
shutdown timeout (plus a margin for the final flush) reporting STOP_PENDING with wait hints,
kills the child only after that, and reports STOPPED with the child's exit code. A child that
exits without being asked is reported as a failure, so the service's failure actions restart
it. Everything Windows-specific is behind ``report``/``log_event`` (pywin32 in
``windows_service_win32``, a fake in the tests).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from algotrade.daemon.windows_service_api import (
    ERROR_PROCESS_ABORTED,
    ERROR_SERVICE_SPECIFIC_ERROR,
    ServiceState,
    WindowsServiceError,
)

# File names sort before timestamped ones, so a stop is not queued behind other commands.
SHUTDOWN_PREFIX = "0000-windows-service-shutdown-"
STOP_MARGIN_S = 5.0  # beyond shutdown_timeout_s: the daemon flushes and closes after its bots
START_WAIT_HINT_MS = 30_000
KILL_WAIT_S = 10.0
CHILD_OUTPUT = "windows-service-daemon.out"  # under <data_dir>/logs; the daemon logs there too


class StatusReporter(Protocol):
    def __call__(
        self,
        state: ServiceState,
        *,
        wait_hint_ms: int = 0,
        win32_exit_code: int = 0,
        service_exit_code: int = 0,
        pid: int | None = None,
    ) -> None: ...


class EventLog(Protocol):
    def __call__(self, message: str, *, error: bool = False) -> None: ...


@dataclass(frozen=True, slots=True)
class HostArguments:
    """What install writes to the service's registry parameters; all paths absolute."""

    python: str
    config: str
    data_dir: str
    shutdown_timeout_s: float
    api_url: str

    def daemon_command(self) -> list[str]:
        return [
            self.python,
            "-m",
            "algotrade",
            "daemon",
            "--config",
            self.config,
            "--data-dir",
            self.data_dir,
        ]

    def to_parameters(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> HostArguments:
        missing = [name for name in cls.__slots__ if name not in parameters]
        if missing:
            raise WindowsServiceError(
                f"service parameters lack {', '.join(missing)}; reinstall the service"
            )
        try:
            return cls(
                python=str(parameters["python"]),
                config=str(parameters["config"]),
                data_dir=str(parameters["data_dir"]),
                shutdown_timeout_s=float(parameters["shutdown_timeout_s"]),
                api_url=str(parameters["api_url"]),
            )
        except (TypeError, ValueError) as exc:
            raise WindowsServiceError(f"service parameters: {exc}; reinstall") from None


@dataclass(frozen=True, slots=True)
class HostOutcome:
    """How a run of the service ended."""

    exit_code: int | None  # the child's; None when it could not be started
    requested: bool  # stopped because the SCM asked
    killed: bool  # did not stop within the timeout
    win32_exit_code: int
    service_exit_code: int


class ServiceHost:
    """``run()`` blocks on the service's main thread; ``request_stop()`` comes from the SCM's
    control thread (SvcStop) and returns at once."""

    def __init__(
        self,
        arguments: HostArguments,
        report: StatusReporter,
        log_event: EventLog,
        *,
        command: list[str] | None = None,
        stop_margin_s: float = STOP_MARGIN_S,
        poll_s: float = 0.1,
        checkpoint_s: float = 1.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.arguments = arguments
        self.command = command or arguments.daemon_command()
        self.signals = Path(arguments.data_dir) / "signals"
        self.stop_timeout_s = arguments.shutdown_timeout_s + stop_margin_s
        self._report = report
        self._log = log_event
        self._poll_s = poll_s
        self._checkpoint_s = checkpoint_s
        self._env = env
        self._stop = threading.Event()
        self.child: subprocess.Popen[bytes] | None = None
        self.shutdown_file: Path | None = None

    def request_stop(self) -> None:
        # The SCM wants an answer within seconds: say STOP_PENDING now, work on the main thread.
        hint = int((self.stop_timeout_s + KILL_WAIT_S) * 1000)
        self._report(ServiceState.STOP_PENDING, wait_hint_ms=hint)
        self._stop.set()

    def run(self) -> HostOutcome:
        self._report(ServiceState.START_PENDING, wait_hint_ms=START_WAIT_HINT_MS)
        try:
            self._clear_stale_shutdowns()
            child = self._spawn()
        except OSError as exc:
            self._log(f"cannot start the daemon ({' '.join(self.command)}): {exc}", error=True)
            return self._finish(None, requested=False, killed=False)
        self.child = child
        self._report(ServiceState.RUNNING, pid=child.pid)
        self._log(f"daemon started (pid {child.pid}): {' '.join(self.command)}")
        while not self._stop.wait(self._poll_s):
            code = child.poll()
            if code is not None:
                self._log(f"daemon (pid {child.pid}) exited on its own with {code}", error=True)
                return self._finish(code, requested=False, killed=False)
        return self._shutdown(child)

    # -- stopping ----------------------------------------------------------------------

    def _shutdown(self, child: subprocess.Popen[bytes]) -> HostOutcome:
        deadline = time.monotonic() + self.stop_timeout_s
        try:
            self.shutdown_file = self._send_shutdown()
        except OSError as exc:  # then only the timeout and the kill are left
            self._log(f"cannot write the SHUTDOWN command to {self.signals}: {exc}", error=True)
        while child.poll() is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            hint = int((remaining + KILL_WAIT_S) * 1000)
            self._report(ServiceState.STOP_PENDING, wait_hint_ms=hint)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=min(self._checkpoint_s, remaining))
        killed = child.poll() is None
        if killed:
            self._log(
                f"daemon (pid {child.pid}) did not stop within {self.stop_timeout_s:g} s "
                "of the SHUTDOWN command; killing it",
                error=True,
            )
            child.kill()
            child.wait(KILL_WAIT_S)
        self._remove_unclaimed_shutdown()
        code = child.returncode
        self._log(f"daemon (pid {child.pid}) stopped with exit code {code}", error=code != 0)
        return self._finish(code, requested=True, killed=killed)

    def _finish(self, code: int | None, *, requested: bool, killed: bool) -> HostOutcome:
        service_code = _dword(code) if code is not None else 0
        if requested:
            # An operator's stop is never a failure to Windows: a non-zero code here would
            # trigger the failure actions and restart what the operator just stopped.
            win32 = 0
        elif code is None or code == 0:
            win32 = ERROR_PROCESS_ABORTED  # gone without being asked: restart it
        else:
            win32 = ERROR_SERVICE_SPECIFIC_ERROR
        outcome = HostOutcome(code, requested, killed, win32, service_code)
        self._report(ServiceState.STOPPED, win32_exit_code=win32, service_exit_code=service_code)
        return outcome

    # -- the child and the file channel -------------------------------------------------

    def _spawn(self) -> subprocess.Popen[bytes]:
        logs = Path(self.arguments.data_dir) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        output: IO[bytes] = (logs / CHILD_OUTPUT).open("ab")
        try:
            return subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                # Relative paths in the config (risk.yaml, …) resolve next to the config file,
                # not in System32 where a service starts.
                cwd=str(Path(self.arguments.config).parent),
                env=self._env,
                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
            )
        finally:
            output.close()  # the child holds its own handle

    def _send_shutdown(self) -> Path:
        """Write then rename (docs/file-channel.md): the daemon sees all of it or nothing."""
        self.signals.mkdir(parents=True, exist_ok=True)
        name = f"{SHUTDOWN_PREFIX}{time.time_ns():020d}"
        temporary = self.signals / f".{name}.tmp"
        temporary.write_text(f"ACTION=SHUTDOWN\nID={name}\n", encoding="utf-8")
        target = self.signals / f"{name}.cmd"
        os.replace(temporary, target)
        return target

    def _remove_unclaimed_shutdown(self) -> None:
        # A SHUTDOWN the daemon never claimed (killed, or died first) would stop the next run.
        if self.shutdown_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.shutdown_file.unlink()

    def _clear_stale_shutdowns(self) -> None:
        if not self.signals.is_dir():
            return
        for stale in self.signals.glob(f"{SHUTDOWN_PREFIX}*.cmd"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
                self._log(f"removed a SHUTDOWN command left by an earlier run: {stale.name}")


def _dword(code: int) -> int:
    """An exit code as a Windows DWORD; a POSIX signal death (-9) as the shell shows it (137)."""
    return code & 0xFFFF_FFFF if code >= 0 else 128 - code

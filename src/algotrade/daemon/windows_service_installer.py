"""Install, control and remove the daemon's Windows service through :class:`WindowsServiceApi`.

Install fixes everything the service needs as absolute paths (this interpreter, the config,
the data dir), so the service runs the same daemon whatever the SCM's working directory
(System32) and whoever is logged in. It registers an auto-start (delayed) service that runs
``windows_service_win32`` in this interpreter, restarts on failure, and replaces the DACL so
only Administrators and SYSTEM may start, stop, change or delete it (``windows_service_acl``).
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from algotrade.core.errors import InputError
from algotrade.daemon.windows_service_acl import service_sddl
from algotrade.daemon.windows_service_api import (
    ServiceAccessDenied,
    ServiceInfo,
    ServiceNotRunning,
    ServiceState,
    WindowsServiceApi,
    WindowsServiceError,
)
from algotrade.daemon.windows_service_host import KILL_WAIT_S, STOP_MARGIN_S, HostArguments

SERVICE_NAME = "algotrade"
DISPLAY_NAME = "algotrade daemon"
DESCRIPTION = (
    "algo-trade bot daemon and account risk guard (python -m algotrade daemon); "
    "only administrators can stop it."
)
HOST_MODULE = "algotrade.daemon.windows_service_win32"
# Restart 5 s after the first failure, 15 s after the second, then every 60 s; the count
# starts over after a day without failures.
RESTART_DELAYS_MS = (5_000, 15_000, 60_000)
RESET_PERIOD_S = 86_400
START_WAIT_S = 60.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
_WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


@dataclass(frozen=True, slots=True)
class InstallRequest:
    config: Path
    name: str = SERVICE_NAME
    display_name: str = DISPLAY_NAME
    description: str = DESCRIPTION
    data_dir: Path | None = None
    python: str = sys.executable


@dataclass(frozen=True, slots=True)
class InstallPlan:
    name: str
    display_name: str
    description: str
    binary_path: str
    arguments: HostArguments
    sddl: str


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InputError(
            f"--name: expected letters, digits, '_', '.' or '-' (at most 80), got {name!r}"
        )
    return name


def plan_install(request: InstallRequest) -> InstallPlan:
    """What install will register; ``InputError`` naming the option or file that is wrong."""
    # Imported here: settings pull in pydantic; status and stop do not need them.
    from algotrade.daemon.settings import load_settings  # noqa: PLC0415

    name = check_name(request.name)
    config = request.config.expanduser().resolve()
    if not config.is_file():
        raise InputError(f"--config: {config} is not a file; expected the daemon's TOML settings")
    overrides = {"daemon": {"data_dir": request.data_dir}} if request.data_dir else {}
    # The service sees the machine's environment, not this shell's: read the file alone.
    settings = load_settings(config, {}, overrides)
    data_dir = settings.daemon.data_dir.expanduser()
    if not data_dir.is_absolute():
        # --data-dir is a path typed here; a relative data_dir in the file is read next to
        # the file (the service runs the daemon in the config's folder).
        base = Path.cwd() if request.data_dir else config.parent
        data_dir = base / data_dir
    python = Path(request.python)
    if not python.is_absolute():
        raise InputError(f"python: expected an absolute interpreter path, got {request.python!r}")
    host = settings.api.host
    host = "127.0.0.1" if host in _WILDCARD_HOSTS else host
    host = f"[{host}]" if ":" in host else host
    arguments = HostArguments(
        python=str(python),
        config=str(config),
        data_dir=str(data_dir.resolve()),
        shutdown_timeout_s=settings.daemon.shutdown_timeout_s,
        api_url=f"http://{host}:{settings.api.port}",
    )
    return InstallPlan(
        name=name,
        display_name=request.display_name,
        description=request.description,
        binary_path=subprocess.list2cmdline([str(python), "-m", HOST_MODULE]),
        arguments=arguments,
        sddl=service_sddl(),
    )


def install(api: WindowsServiceApi, plan: InstallPlan) -> None:
    """Register the service; if a step after creating it fails, the service is removed."""
    if not api.is_elevated():
        raise ServiceAccessDenied(
            "algotrade service install must run elevated: open a prompt with "
            "'Run as administrator' and run it again"
        )
    api.create_service(plan.name, plan.display_name, plan.binary_path)
    try:
        api.write_parameters(plan.name, plan.arguments.to_parameters())
        api.set_description(plan.name, plan.description)
        api.set_delayed_auto_start(plan.name)
        api.set_failure_actions(plan.name, RESTART_DELAYS_MS, RESET_PERIOD_S)
        # Last: after this even the installer's own handle rights follow the new DACL.
        api.set_security(plan.name, plan.sddl)
    except BaseException:
        api.delete(plan.name)  # no half-installed service that a trader could stop
        raise


def start(api: WindowsServiceApi, name: str, timeout: float = START_WAIT_S) -> ServiceInfo:
    """Start and wait until RUNNING; an error when it stops again instead."""
    api.start(name)
    info = wait_for_state(api, name, {ServiceState.RUNNING, ServiceState.STOPPED}, timeout)
    if info.state != ServiceState.RUNNING:
        raise WindowsServiceError(
            f"service {name!r} stopped while starting (Windows code {info.win32_exit_code}, "
            f"daemon exit code {info.service_exit_code}); see the daemon's logs and the "
            "Windows event log"
        )
    return info


def stop(api: WindowsServiceApi, name: str, timeout: float | None = None) -> ServiceInfo:
    """Ask for a stop and wait until STOPPED (the daemon's shutdown timeout plus margins)."""
    if timeout is None:
        timeout = stop_wait_s(api, name)
    api.stop(name)
    return wait_for_state(api, name, {ServiceState.STOPPED}, timeout)


def remove(api: WindowsServiceApi, name: str) -> None:
    """Stop the service if it runs, then delete it."""
    info = api.query(name)
    if info.state != ServiceState.STOPPED:
        with contextlib.suppress(ServiceNotRunning):  # it stopped since the query
            stop(api, name)
    api.delete(name)


def read_arguments(api: WindowsServiceApi, name: str) -> HostArguments | None:
    try:
        return HostArguments.from_parameters(api.read_parameters(name))
    except WindowsServiceError:
        return None


def stop_wait_s(api: WindowsServiceApi, name: str) -> float:
    arguments = read_arguments(api, name)
    shutdown = arguments.shutdown_timeout_s if arguments else 10.0
    return shutdown + STOP_MARGIN_S + KILL_WAIT_S + 5.0


def wait_for_state(
    api: WindowsServiceApi,
    name: str,
    states: set[ServiceState],
    timeout: float,
    poll_s: float = 0.1,
) -> ServiceInfo:
    deadline = time.monotonic() + timeout
    while True:
        info = api.query(name)
        if info.state in states:
            return info
        if time.monotonic() >= deadline:
            wanted = " or ".join(sorted(state.name for state in states))
            raise WindowsServiceError(
                f"service {name!r} is {info.state.name}, not {wanted}, after {timeout:g} s"
            )
        time.sleep(poll_s)

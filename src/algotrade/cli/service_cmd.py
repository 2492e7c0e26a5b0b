"""``algotrade service install|start|stop|remove|status``: the daemon as a Windows service.

Needs Windows and pywin32 (``pip install "algotrade[windows]"``); elsewhere every command is
one line saying so. install/start/stop/remove need an elevated prompt (the service's DACL
lets only Administrators and SYSTEM control it); status works for every user.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from algotrade.cli.errors import run_guarded
from algotrade.core.errors import InputError
from algotrade.daemon import windows_service_api, windows_service_installer
from algotrade.daemon.windows_service_api import ServiceInfo, StartType, WindowsServiceApi
from algotrade.daemon.windows_service_installer import (
    DESCRIPTION,
    DISPLAY_NAME,
    SERVICE_NAME,
    InstallRequest,
)

service_app = typer.Typer(
    name="service",
    help="Windows service of the daemon: install, start, stop, remove, status.",
    no_args_is_help=True,
    add_completion=False,
)

NameOption = Annotated[
    str, typer.Option("--name", help="service name (several installs need distinct names)")
]
HEALTH_TIMEOUT_S = 2.0


def _api() -> WindowsServiceApi:
    # Looked up on the module at call time: tests replace it with an in-memory SCM.
    return windows_service_api.load_windows_api()


@service_app.command("install")
def install(
    config: Annotated[
        Path | None,
        typer.Option("--config", show_default=False, help="the daemon's TOML settings (required)"),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(show_default=False, help="data directory (default: the config's)"),
    ] = None,
    name: NameOption = SERVICE_NAME,
    display_name: Annotated[str, typer.Option(help="name shown in services.msc")] = DISPLAY_NAME,
    description: Annotated[str, typer.Option(help="description in services.msc")] = DESCRIPTION,
    start_now: Annotated[
        bool, typer.Option("--start", help="start the service once installed")
    ] = False,
) -> None:
    """Register the daemon as an auto-start service only administrators can control."""

    def run() -> None:
        api = _api()
        if config is None:
            raise InputError("--config: required; give the daemon's TOML settings file")
        plan = windows_service_installer.plan_install(
            InstallRequest(
                config=config,
                name=name,
                display_name=display_name,
                description=description,
                data_dir=data_dir,
            )
        )
        windows_service_installer.install(api, plan)
        arguments = plan.arguments
        typer.echo(f"installed service {plan.name!r} ({plan.display_name}): automatic start")
        typer.echo(f"  runs:     {' '.join(arguments.daemon_command())}")
        typer.echo(f"  config:   {arguments.config}")
        typer.echo(f"  data dir: {arguments.data_dir}")
        typer.echo("  control:  Administrators and SYSTEM; other users may read its status")
        if start_now:
            _started(windows_service_installer.start(api, plan.name))

    run_guarded(run)


@service_app.command("start")
def start(name: NameOption = SERVICE_NAME) -> None:
    """Start the service and wait until it runs (administrators only)."""
    run_guarded(lambda: _started(windows_service_installer.start(_api(), name)))


@service_app.command("stop")
def stop(
    name: NameOption = SERVICE_NAME,
    timeout: Annotated[
        float | None,
        typer.Option(
            show_default=False,
            min=1,
            help="seconds to wait (default: the daemon's shutdown timeout plus margins)",
        ),
    ] = None,
) -> None:
    """Stop the daemon gracefully (bots stopped, state flushed) and wait (administrators only)."""

    def run() -> None:
        info = windows_service_installer.stop(_api(), name, timeout)
        typer.echo(f"service {name!r} stopped (daemon exit code {info.service_exit_code})")

    run_guarded(run)


@service_app.command("remove")
def remove(name: NameOption = SERVICE_NAME) -> None:
    """Stop the service if it runs and delete it (administrators only)."""

    def run() -> None:
        windows_service_installer.remove(_api(), name)
        typer.echo(f"removed service {name!r} (config and data dir are left as they are)")

    run_guarded(run)


@service_app.command("status")
def status(name: NameOption = SERVICE_NAME) -> None:
    """State, pid, start type and the daemon's health (any user)."""

    def run() -> None:
        api = _api()
        info = api.query(name)
        arguments = windows_service_installer.read_arguments(api, name)
        start_type = _START_TYPES.get(info.start_type, info.start_type.name.lower())
        rows = [
            ("service", f"{info.name} ({info.display_name})"),
            ("state", info.state.name.lower()),
            ("pid", str(info.pid) if info.pid else "-"),
            ("start type", start_type + (" (delayed)" if info.delayed_start else "")),
        ]
        if info.win32_exit_code:
            rows.append(("last exit", _last_exit(info)))
        if arguments is not None:
            rows += [("config", arguments.config), ("data dir", arguments.data_dir)]
            rows.append(("daemon", _health_line(arguments.api_url)))
        for label, value in rows:
            typer.echo(f"{label + ':':<12}{value}")

    run_guarded(run)


_START_TYPES = {
    StartType.AUTO: "automatic",
    StartType.DEMAND: "manual",
    StartType.DISABLED: "disabled",
}


def _started(info: ServiceInfo) -> None:
    typer.echo(f"service {info.name!r} is running (pid {info.pid or '?'})")


def _last_exit(info: ServiceInfo) -> str:
    return f"Windows code {info.win32_exit_code}, daemon exit code {info.service_exit_code}"


def _health_line(api_url: str) -> str:
    """The daemon's ``/api/health`` in one line, or why it could not be read."""
    import httpx  # noqa: PLC0415 (only for status)

    target = f"{api_url}/api/health"
    try:
        answer = httpx.get(target, timeout=HEALTH_TIMEOUT_S)
    except httpx.HTTPError as exc:
        return f"{target}: unreachable ({type(exc).__name__})"
    try:
        document: Any = answer.json()
    except ValueError:
        document = None
    if answer.status_code != 200 or not isinstance(document, dict):
        return f"{target}: HTTP {answer.status_code}"
    facts = ", ".join(
        f"{key}={value}"
        for key, value in sorted(document.items())
        if isinstance(value, str | int | float | bool)
    )
    return f"{target}: {facts}"

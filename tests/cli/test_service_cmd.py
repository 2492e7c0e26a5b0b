"""``algotrade service …`` as a user runs it: one-line errors off Windows, and the whole flow
against an in-memory SCM whose service host runs the real daemon (no Windows here)."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest

from algotrade.daemon import windows_service_api
from algotrade.daemon.windows_service_api import ServiceState
from algotrade.daemon.windows_service_host import HostArguments, ServiceHost
from cli.conftest import RunMain
from testkit.daemon_process import DaemonProcess, free_port, wait_until
from testkit.windows_scm import FakeHost, FakeWindowsApi

COMMANDS = [
    ["install", "--config", "daemon.toml"],
    ["start"],
    ["stop"],
    ["remove"],
    ["status"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: args[0])
def test_off_windows_every_command_is_one_line_saying_so(
    run_main: RunMain, args: list[str]
) -> None:
    line = run_main("service", *args).one_line_error(1, "needs Windows", "systemd")
    assert "linux" in line


def test_without_pywin32_the_error_says_how_to_install_it(
    run_main: RunMain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(windows_service_api, "sys", types.SimpleNamespace(platform="win32"))
    run_main("service", "status").one_line_error(1, 'pip install "algotrade[windows]"')


@pytest.fixture
def scm(monkeypatch: pytest.MonkeyPatch) -> FakeWindowsApi:
    api = FakeWindowsApi(host_factory=real_host)
    monkeypatch.setattr(windows_service_api, "load_windows_api", lambda: api)
    return api


def as_trader(monkeypatch: pytest.MonkeyPatch, admin: FakeWindowsApi) -> None:
    trader = admin.as_trader()
    monkeypatch.setattr(windows_service_api, "load_windows_api", lambda: trader)


def real_host(api: FakeWindowsApi, name: str) -> FakeHost:
    """What the service process does on Windows, reporting into the fake SCM."""
    arguments = HostArguments.from_parameters(api.read_parameters(name))

    def report(state: ServiceState, **codes: Any) -> None:
        api.report(name, state, **codes)

    def log(message: str, *, error: bool = False) -> None:
        api.log_event(name, message, error=error)

    return ServiceHost(arguments, report, log)


def config_file(tmp_path: Path, port: int) -> Path:
    config = tmp_path / "daemon.toml"
    config.write_text(f'[daemon]\ndata_dir = "data"\n[api]\nport = {port}\n')
    return config


def test_install_needs_a_config(run_main: RunMain, scm: FakeWindowsApi) -> None:
    run_main("service", "install").one_line_error(2, "--config")
    assert scm.services == {}


def test_install_with_a_missing_config_names_it(
    run_main: RunMain, scm: FakeWindowsApi, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.toml"
    run_main("service", "install", "--config", str(missing)).one_line_error(2, str(missing))


def test_install_from_a_prompt_that_is_not_elevated_is_refused(
    run_main: RunMain, scm: FakeWindowsApi, tmp_path: Path
) -> None:
    scm.elevated = False
    config = config_file(tmp_path, free_port())
    line = run_main("service", "install", "--config", str(config)).one_line_error(1)
    assert "Run as administrator" in line
    assert scm.services == {}


def test_install_then_status_shows_what_was_registered(
    run_main: RunMain, scm: FakeWindowsApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_file(tmp_path, free_port())
    out = run_main("service", "install", "--config", str(config), "--name", "guard").ok()
    assert "installed service 'guard'" in out
    assert f"--data-dir {tmp_path / 'data'}" in out
    as_trader(monkeypatch, scm)
    status = run_main("service", "status", "--name", "guard").ok()
    assert "state:      stopped" in status
    assert "start type: automatic (delayed)" in status
    assert f"config:     {config}" in status
    assert "unreachable" in status
    run_main("service", "status").one_line_error(1, "'algotrade' is not installed")


def test_a_trader_cannot_stop_start_or_remove(
    run_main: RunMain, scm: FakeWindowsApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scm.host_factory = None  # states only: no daemon needed to check the DACL
    run_main("service", "install", "--config", str(config_file(tmp_path, free_port()))).ok()
    as_trader(monkeypatch, scm)
    for command in ("start", "stop", "remove"):
        run_main("service", command).one_line_error(1, "access denied", "elevated")
    assert "algotrade" in scm.services


@pytest.mark.slow
def test_start_status_stop_remove_with_the_real_daemon(
    run_main: RunMain, scm: FakeWindowsApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    config = config_file(tmp_path, port)
    out = run_main("service", "install", "--config", str(config), "--start").ok()
    client = DaemonProcess(tmp_path / "data", port)
    try:
        assert "is running (pid" in out
        wait_until(client.healthy, timeout=30, what="the service's daemon to answer")
        pid = scm.query("algotrade").pid
        assert pid is not None

        as_trader(monkeypatch, scm)
        status = run_main("service", "status").ok()
        assert "state:      running" in status
        assert f"pid:        {pid}" in status
        assert f"http://127.0.0.1:{port}/api/health: " in status
        assert "status=ok" in status
        run_main("service", "stop").one_line_error(1, "access denied")
        assert client.healthy()  # the risk guard keeps running

        monkeypatch.setattr(windows_service_api, "load_windows_api", lambda: scm)
        out = run_main("service", "stop").ok()
        assert "stopped (daemon exit code 0)" in out
        assert not client.healthy()
        assert scm.query("algotrade").state == ServiceState.STOPPED
        assert any("stopped with exit code 0" in message for _, message, _ in scm.events)
        run_main("service", "stop").one_line_error(1, "is not running")
        assert "removed service 'algotrade'" in run_main("service", "remove").ok()
        assert scm.services == {}
    finally:
        for service in list(scm.services.values()):
            host = service.host
            child = getattr(host, "child", None)
            if child is not None and child.poll() is None:
                child.kill()
                child.wait(10)

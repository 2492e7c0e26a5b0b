"""Installing and controlling the Windows service against an in-memory SCM (no Windows here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from algotrade.core.errors import ConfigError, InputError
from algotrade.daemon import windows_service_installer as installer
from algotrade.daemon.windows_service_acl import service_sddl
from algotrade.daemon.windows_service_api import (
    ServiceAccessDenied,
    ServiceAlreadyInstalled,
    ServiceNotInstalled,
    ServiceState,
    WindowsServiceError,
)
from testkit.windows_scm import FakeWindowsApi


def write_config(folder: Path, body: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "daemon.toml"
    config.write_text(body)
    return config


def test_plan_fixes_absolute_paths_next_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(
        tmp_path / "etc",
        '[daemon]\ndata_dir = "./state"\nshutdown_timeout_s = 7\n'
        '[api]\nhost = "0.0.0.0"\nport = 9123\n',
    )
    monkeypatch.chdir(tmp_path)  # a relative --config is read from here, then made absolute
    plan = installer.plan_install(installer.InstallRequest(config=Path("etc/daemon.toml")))
    arguments = plan.arguments
    assert arguments.config == str(config.resolve())
    # A relative data_dir in the file is next to the file (the service's cwd is System32).
    assert arguments.data_dir == str((tmp_path / "etc" / "state").resolve())
    assert arguments.shutdown_timeout_s == 7
    assert arguments.api_url == "http://127.0.0.1:9123"  # the wildcard is reached on loopback
    assert arguments.python == sys.executable
    assert arguments.daemon_command() == [
        sys.executable, "-m", "algotrade", "daemon",
        "--config", str(config.resolve()), "--data-dir", arguments.data_dir,
    ]  # fmt: skip
    assert plan.binary_path == subprocess.list2cmdline(
        [sys.executable, "-m", "algotrade.daemon.windows_service_win32"]
    )
    assert plan.sddl == service_sddl()


def test_a_data_dir_option_is_read_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path / "etc")
    monkeypatch.chdir(tmp_path)
    plan = installer.plan_install(installer.InstallRequest(config=config, data_dir=Path("d")))
    assert plan.arguments.data_dir == str((tmp_path / "d").resolve())


def test_the_installing_shells_environment_is_not_what_the_service_sees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALGOTRADE__API__PORT", "9999")
    plan = installer.plan_install(installer.InstallRequest(config=write_config(tmp_path)))
    assert plan.arguments.api_url.endswith(":8080")


@pytest.mark.parametrize(
    ("request_args", "error", "needle"),
    [
        ({"config": Path("missing.toml")}, InputError, "--config"),
        ({"name": "bad name"}, InputError, "--name"),
        ({"name": "a/b"}, InputError, "--name"),
        ({"python": "python.exe"}, InputError, "absolute"),
    ],
)
def test_bad_install_input_names_the_option(
    tmp_path: Path, request_args: dict[str, object], error: type[Exception], needle: str
) -> None:
    fields: dict[str, object] = {"config": write_config(tmp_path), **request_args}
    with pytest.raises(error, match=needle):
        installer.plan_install(installer.InstallRequest(**fields))  # type: ignore[arg-type]


def test_a_broken_config_is_refused_before_anything_is_registered(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[api]\nport = 'x'\n")
    with pytest.raises(ConfigError, match=r"api\.port"):
        installer.plan_install(installer.InstallRequest(config=config))


def installed(
    tmp_path: Path, api: FakeWindowsApi, name: str = "algotrade"
) -> installer.InstallPlan:
    config = write_config(tmp_path / "etc", "[daemon]\nshutdown_timeout_s = 3\n")
    plan = installer.plan_install(installer.InstallRequest(config=config, name=name))
    installer.install(api, plan)
    return plan


def test_install_registers_an_auto_start_service_that_restarts_and_only_admins_control(
    tmp_path: Path,
) -> None:
    api = FakeWindowsApi()
    plan = installed(tmp_path, api)
    service = api.snapshot("algotrade")
    assert service.binary_path == plan.binary_path
    assert service.display_name == installer.DISPLAY_NAME
    assert service.description == installer.DESCRIPTION
    assert service.delayed_start
    assert service.failure_actions == ((5_000, 15_000, 60_000), 86_400)
    assert service.sddl == service_sddl()
    assert service.parameters == plan.arguments.to_parameters()
    json.dumps(service.parameters)  # stored as JSON in the registry
    assert [call for call, _ in api.calls][-1] == "set_security"  # the DACL is written last
    info = api.query("algotrade")
    assert info.state == ServiceState.STOPPED


def test_install_needs_an_elevated_prompt(tmp_path: Path) -> None:
    api = FakeWindowsApi(elevated=False)
    with pytest.raises(ServiceAccessDenied, match="Run as administrator"):
        installed(tmp_path, api)
    assert api.services == {}


def test_installing_twice_says_it_is_installed_and_keeps_the_first(tmp_path: Path) -> None:
    api = FakeWindowsApi()
    installed(tmp_path, api)
    with pytest.raises(ServiceAlreadyInstalled, match="already installed"):
        installed(tmp_path, api)
    assert "algotrade" in api.services


def test_a_failed_step_after_create_removes_the_half_installed_service(tmp_path: Path) -> None:
    class FailingDacl(FakeWindowsApi):
        def set_security(self, name: str, sddl: str) -> None:
            raise WindowsServiceError("simulated failure")

    api = FailingDacl()
    with pytest.raises(WindowsServiceError, match="simulated"):
        installed(tmp_path, api)
    assert api.services == {}
    assert api.calls[-1] == ("delete", "algotrade")


def test_a_trader_reads_status_but_cannot_start_stop_or_remove(tmp_path: Path) -> None:
    admin = FakeWindowsApi()
    installed(tmp_path, admin)
    installer.start(admin, "algotrade", timeout=5)
    trader = admin.as_trader()
    assert trader.query("algotrade").state == ServiceState.RUNNING
    assert installer.read_arguments(trader, "algotrade") is not None
    for action in (
        lambda: installer.stop(trader, "algotrade", timeout=1),
        lambda: installer.remove(trader, "algotrade"),
        lambda: trader.set_description("algotrade", "mine"),
        lambda: trader.set_security("algotrade", "D:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BU)"),
    ):
        with pytest.raises(ServiceAccessDenied, match="access denied"):
            action()
    assert admin.query("algotrade").state == ServiceState.RUNNING
    installer.stop(admin, "algotrade", timeout=5)
    with pytest.raises(ServiceAccessDenied):
        installer.start(trader, "algotrade", timeout=1)


def test_remove_stops_a_running_service_first(tmp_path: Path) -> None:
    api = FakeWindowsApi()
    installed(tmp_path, api)
    installer.start(api, "algotrade", timeout=5)
    installer.remove(api, "algotrade")
    assert [call for call, _ in api.calls][-3:] == ["stop", "query", "delete"]
    with pytest.raises(ServiceNotInstalled, match="not installed"):
        api.query("algotrade")


def test_a_service_that_does_not_reach_the_state_in_time_is_an_error(tmp_path: Path) -> None:
    api = FakeWindowsApi()
    installed(tmp_path, api)
    with pytest.raises(WindowsServiceError, match="STOPPED, not RUNNING"):
        installer.wait_for_state(api, "algotrade", {ServiceState.RUNNING}, timeout=0.2)


def test_the_stop_wait_covers_the_daemons_shutdown_timeout(tmp_path: Path) -> None:
    api = FakeWindowsApi()
    installed(tmp_path, api)
    assert installer.stop_wait_s(api, "algotrade") > 3 + installer.STOP_MARGIN_S

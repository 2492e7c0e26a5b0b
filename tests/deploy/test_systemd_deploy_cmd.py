"""``algotrade deploy systemd``: the unit for this install, from the template the shipped unit
is made of; values systemd would refuse are one-line errors naming the option."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cli import conftest as cli_conftest
from cli.conftest import RunMain

run_main = cli_conftest.run_main  # the CLI tests' fixture, here outside tests/cli

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "deploy" / "systemd" / "algotrade.service"
SHIPPED_EXEC = "/opt/algotrade/.venv/bin/algotrade"


def test_the_shipped_unit_is_the_command_output_for_the_documented_defaults(
    run_main: RunMain,
) -> None:
    printed = run_main("deploy", "systemd", "--exec", SHIPPED_EXEC).ok()
    assert printed == SHIPPED.read_text(encoding="utf-8")


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_the_unit_speaks_notify_with_a_watchdog_and_is_hardened(run_main: RunMain) -> None:
    unit = unit_settings(run_main("deploy", "systemd", "--watchdog-sec", "45").ok())
    here = Path(sys.executable).parent / "algotrade"
    assert unit["ExecStart"] == [
        f"{here} daemon --config /etc/algotrade/daemon.toml --data-dir /var/lib/algotrade"
    ]
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "WatchdogSec": "45",
        "Restart": "on-failure",
        "User": "algotrade",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "StateDirectory": "algotrade",
        "WorkingDirectory": "/var/lib/algotrade",
        "KillSignal": "SIGTERM",
        "KillMode": "mixed",
    }
    assert {key: unit[key][0] for key in expected} == expected
    assert "AF_UNIX" in unit["RestrictAddressFamilies"][0]  # the notify socket


def test_a_data_dir_elsewhere_is_made_writable_and_homes_stay_readable(
    run_main: RunMain,
) -> None:
    args = ["--exec", "/home/ops/venv/bin/algotrade", "--data-dir", "/srv/algotrade/data"]
    unit = unit_settings(run_main("deploy", "systemd", *args).ok())
    assert unit["ReadWritePaths"] == ["/srv/algotrade/data"]
    assert unit["WorkingDirectory"] == ["/srv/algotrade/data"]
    assert "StateDirectory" not in unit
    assert unit["ProtectHome"] == ["read-only"]


def test_out_writes_the_file(run_main: RunMain, tmp_path: Path) -> None:
    target = tmp_path / "units" / "algotrade.service"
    outcome = run_main("deploy", "systemd", "--exec", SHIPPED_EXEC, "--out", str(target))
    assert outcome.code == 0
    assert target.read_text(encoding="utf-8") == SHIPPED.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--config", "etc/daemon.toml"], "--config: expected an absolute path"),
        (["--data-dir", "/srv/my data"], "--data-dir: the path must not contain spaces"),
        (["--exec", "/opt/$HOME/algotrade"], "--exec: the path must not contain"),
        (["--data-dir", "/var/lib/../etc"], "--data-dir: expected a path without '..'"),
        (["--user", "Root Admin"], "--user: expected a system user name"),
        (["--watchdog-sec", "0"], "--watchdog-sec: expected 1 to 3600 seconds, got 0"),
    ],
)
def test_values_systemd_would_refuse_are_one_line_errors(
    run_main: RunMain, args: list[str], needle: str
) -> None:
    run_main("deploy", "systemd", "--exec", SHIPPED_EXEC, *args).one_line_error(2, needle)

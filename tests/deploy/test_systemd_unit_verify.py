"""``systemd-analyze verify`` accepts the unit, as shipped and as generated: no error and no
warning (verify exits 0 even for an unknown key or a bad value, so its output must be empty).
Both keep systemd from restarting a daemon that refused its settings (exit 2) every 5 s."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from algotrade.cli.deploy_cmd import render_unit
from algotrade.cli.errors import EXIT_BAD_INPUT

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "deploy" / "systemd" / "algotrade.service"


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        reason = "systemd-analyze is not installed (scripts/test installs Debian's systemd)"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI must check the unit
        pytest.skip(reason)
    return found


def verify(unit_text: str, folder: Path) -> str:
    unit = folder / "algotrade.service"
    unit.write_text(unit_text, encoding="utf-8")
    done = subprocess.run(
        [systemd_analyze(), "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return f"exit {done.returncode}: {done.stdout}{done.stderr}".strip()


def this_algotrade() -> str:
    return str(Path(sys.executable).parent / "algotrade")


def assert_no_restart_after_refused_settings(unit_text: str) -> None:
    """``Restart=on-failure`` restarts on any non-zero exit; the exit code of refused settings
    (2: a restart cannot fix them) is excluded, and only that one (1, a runtime failure such as
    an unreachable database or a taken port, is worth restarting for)."""
    lines = unit_text.splitlines()
    assert "Restart=on-failure" in lines
    prevent = [line for line in lines if line.startswith("RestartPreventExitStatus=")]
    assert prevent == [f"RestartPreventExitStatus={EXIT_BAD_INPUT}"]
    assert lines.index(prevent[0]) > lines.index("[Service]")


@pytest.mark.parametrize(
    "data_dir", ["/var/lib/algotrade", "/srv/algotrade/data", "/home/ops/algotrade-data"]
)
def test_systemd_accepts_the_generated_unit(tmp_path: Path, data_dir: str) -> None:
    text = render_unit(
        exec_path=this_algotrade(),
        config="/etc/algotrade/daemon.toml",
        data_dir=data_dir,
        user="algotrade",
        watchdog_sec=30,
    )
    assert verify(text, tmp_path) == "exit 0:"
    assert_no_restart_after_refused_settings(text)


def test_systemd_accepts_the_shipped_unit(tmp_path: Path) -> None:
    # The shipped unit names /opt/algotrade/.venv/bin/algotrade, which verify wants to exist:
    # the same unit with this machine's executable.
    shipped = SHIPPED.read_text(encoding="utf-8")
    assert "/opt/algotrade/.venv/bin/algotrade daemon" in shipped
    text = shipped.replace("/opt/algotrade/.venv/bin/algotrade", this_algotrade())
    assert verify(text, tmp_path) == "exit 0:"
    assert_no_restart_after_refused_settings(text)


def test_verify_reports_what_it_does_not_accept(tmp_path: Path) -> None:
    """The check itself can fail: a bad value is reported although verify exits 0."""
    broken = SHIPPED.read_text(encoding="utf-8").replace("WatchdogSec=30", "WatchdogSec=soon")
    broken = broken.replace("/opt/algotrade/.venv/bin/algotrade", this_algotrade())
    assert "Failed to parse sec value" in verify(broken, tmp_path)


def test_verify_reports_an_exit_status_it_cannot_parse(tmp_path: Path) -> None:
    """So the accepted ``RestartPreventExitStatus=`` line above was parsed, not ignored."""
    shipped = SHIPPED.read_text(encoding="utf-8")
    broken = shipped.replace("RestartPreventExitStatus=2", "RestartPreventExitStatus=two")
    broken = broken.replace("/opt/algotrade/.venv/bin/algotrade", this_algotrade())
    assert "Failed to parse value, ignoring: two" in verify(broken, tmp_path)

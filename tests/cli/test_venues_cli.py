"""``algotrade venues`` against a real daemon with no live venue connected (the connected case
runs in tests/daemon/test_hyperliquid_e2e.py, against the fake Hyperliquid)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from algotrade.cli.main import app
from testkit.daemon_process import DaemonProcess

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    process = DaemonProcess(Path(tmp_path_factory.mktemp("venues-cli")) / "data").start()
    try:
        yield process
    finally:
        process.kill()


def test_status_without_live_venues(daemon: DaemonProcess) -> None:
    result = RUNNER.invoke(app, ["venues", "status", "--daemon-url", daemon.url])
    assert result.exit_code == 0, result.output
    assert "no live venue is connected" in result.stdout
    as_json = RUNNER.invoke(app, ["venues", "status", "--json", "--daemon-url", daemon.url])
    assert json.loads(as_json.stdout) == []


def test_reconcile_a_venue_that_is_not_connected_is_exit_2(daemon: DaemonProcess) -> None:
    result = RUNNER.invoke(app, ["venues", "reconcile", "hyperliquid", "--daemon-url", daemon.url])
    assert result.exit_code == 2
    assert "409 venue_not_connected" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    unknown = RUNNER.invoke(app, ["venues", "reconcile", "nowhere", "--daemon-url", daemon.url])
    assert unknown.exit_code == 2
    assert "404" in unknown.stderr
    assert "nowhere" in unknown.stderr

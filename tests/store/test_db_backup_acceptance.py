"""Acceptance of issue 13 item 5: a backup taken under load restores to a database that a
daemon starts from with identical bots, orders and fills.

A real daemon runs paper bots trading fast on the sim feed; ``algotrade db backup`` runs (as
its own process) three times while they trade; the daemon is stopped; the last backup is
restored with ``algotrade db restore`` into a new data dir (SQLite) or a new database
(PostgreSQL); a daemon started from it serves, through the API, exactly the bots, orders and
fills the backup file holds (read straight from the file: SQLite opened directly, the
PostgreSQL archive loaded by ``pg_restore`` itself into a scratch database).
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import fields
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from algotrade.daemon.bot_config import BotConfig
from testkit.daemon_process import DaemonProcess, wait_until
from testkit.postgres import conninfo, temporary_database
from testkit.soak import bot_configs
from testkit.soak_books import StoredBooks, read_store

pytestmark = pytest.mark.slow

BOTS = 6
BACKUPS = 3
FILLS_BETWEEN_BACKUPS = 20  # the daemon trades this much more between two backups


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def algotrade(*args: str) -> str:
    """``algotrade ARGS`` as its own process; its stdout (the test fails on a non-zero exit)."""
    done = subprocess.run(
        [sys.executable, "-m", "algotrade", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"algotrade {' '.join(args)}: {done.returncode} {done.stderr}"
    return done.stdout


def total_fills(daemon: DaemonProcess) -> int:
    return sum(int(status["fill_count"]) for status in daemon.ok("GET", "/api/bots"))


def test_backup_under_load_restores_identical_books(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with ExitStack() as stack:
        # PostgreSQL: the daemon's database, the restore's target, a scratch copy of the backup.
        pg = (
            [stack.enter_context(temporary_database()) for _ in range(3)]
            if backend != "sqlite"
            else []
        )
        source_url = pg[0] if pg else None
        db_args: tuple[str, ...] = ("--db-url", source_url) if source_url else ()
        data_dir = tmp_path / "data"
        daemon = DaemonProcess(data_dir, None, *db_args)
        stack.callback(daemon.kill)
        daemon.start(timeout=60)
        configs = bot_configs(random.Random(13), BOTS, 0.02)
        for config in configs:
            config["auto_resume"] = False  # the restored daemon must not trade on
            daemon.ok("POST", "/api/bots", json=config)
            daemon.ok("PUT", f"/api/bots/{config['bot_id']}/start")

        backups: list[Path] = []
        took: list[float] = []
        for index in range(BACKUPS):
            floor = total_fills(daemon) + FILLS_BETWEEN_BACKUPS
            wait_until(lambda: total_fills(daemon) >= floor, 60, f"{floor} fills")  # noqa: B023
            out = tmp_path / f"backup-{index}.{'db' if backend == 'sqlite' else 'dump'}"
            started = time.monotonic()
            printed = algotrade("db", "backup", str(out), "--data-dir", str(data_dir), *db_args)
            took.append(time.monotonic() - started)
            assert f"wrote {out}" in printed, printed
            backups.append(out)
        during = total_fills(daemon)
        code, _, stderr = daemon.terminate()
        assert code == 0, stderr

        expected = backup_books(backups[-1], pg[2] if pg else None)
        # Taken under load: the daemon kept trading after the last backup.
        assert 0 < expected.fill_total < during

        restored_dir = tmp_path / "restored"
        target_args: tuple[str, ...] = ()
        if backend == "postgresql":
            target_args = ("--db-url", pg[1])
        printed = algotrade(
            "db", "restore", str(backups[-1]), "--data-dir", str(restored_dir), *target_args
        )
        assert "restored" in printed, printed
        restored = DaemonProcess(restored_dir, None, *target_args)
        stack.callback(restored.kill)
        restored.start(timeout=60)
        assert_served(restored, expected)
        code, _, stderr = restored.terminate()
        assert code == 0, stderr
    orders = sum(len(o) for o in expected.orders.values())
    with capsys.disabled():  # the figures are worth seeing in CI logs
        print(
            f"\n{backend}: backup holds {expected.fill_total} fills, {orders} orders of "
            f"{len(expected.configs)} bots ({during} fills when the daemon stopped); "
            f"'algotrade db backup' took {', '.join(f'{t:.2f}' for t in took)} s"
        )


def backup_books(backup: Path, scratch_url: str | None) -> StoredBooks:
    """The books in the backup file itself, read without ``algotrade db``."""
    if scratch_url is None:
        return read_store(f"sqlite:///{backup}")
    subprocess.run(
        ["pg_restore", "--no-owner", "--no-acl", "-d", conninfo(scratch_url), str(backup)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return read_store(scratch_url)


def assert_served(daemon: DaemonProcess, expected: StoredBooks) -> None:
    """The API serves exactly ``expected``'s bots, orders and fills (every field)."""
    statuses = daemon.ok("GET", "/api/bots")
    assert sorted(s["bot_id"] for s in statuses) == sorted(expected.configs)
    for bot_id, stored_config in expected.configs.items():
        detail = daemon.ok("GET", f"/api/bots/{bot_id}")
        assert _config(detail["config"]) == _config(stored_config), bot_id
        assert detail["status"]["state"] == "stopped", bot_id
        assert detail["status"]["fill_count"] == len(expected.fills.get(bot_id, []))
        fills = daemon.all_pages(f"/api/bots/{bot_id}/fills")
        assert len(fills) == len(expected.fills.get(bot_id, [])), bot_id
        for served, stored in zip(fills, expected.fills.get(bot_id, []), strict=True):
            _same(served, stored)
        orders = {o["client_order_id"]: o for o in daemon.all_pages(f"/api/bots/{bot_id}/orders")}
        assert set(orders) == set(expected.orders.get(bot_id, {})), bot_id
        for client_order_id, order in expected.orders.get(bot_id, {}).items():
            _same(orders[client_order_id], order)


def _config(raw: dict[str, Any]) -> dict[str, Any]:
    return BotConfig.model_validate(raw).model_dump(mode="json")


def _same(served: dict[str, Any], stored: Any) -> None:
    """Every field of a stored record equals the served one (money compared as Decimal)."""
    for field in fields(stored):
        want = getattr(stored, field.name)
        got = served[field.name]
        if isinstance(want, Decimal):
            got = None if got is None else Decimal(str(got))
        assert got == want, f"{field.name}: served {got!r}, backup holds {want!r} ({stored})"

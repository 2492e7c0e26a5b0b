"""Doctor's database check: missing, at head, behind head, not ours, unreachable server."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from algotrade.daemon.doctor import Level
from algotrade.daemon.doctor_database import check_database
from algotrade.store.database import Database
from algotrade.store.engine import alembic_config, parse_url, shipped_head
from testkit.daemon_process import free_port


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.as_posix()}"


def test_a_database_not_created_yet_is_ok_and_stays_uncreated(tmp_path: Path) -> None:
    path = tmp_path / "data" / "algotrade.db"
    finding = check_database(sqlite_url(path), 2.0)
    assert finding.level is Level.OK
    assert "does not exist yet" in finding.line()
    assert not path.parent.exists()  # doctor only looks: nothing created


def test_at_head_and_behind_head(tmp_path: Path) -> None:
    head_db = tmp_path / "head.db"
    with Database(sqlite_url(head_db)):
        pass
    current = check_database(sqlite_url(head_db), 2.0)
    assert current.line() == (
        f"ok    database: {head_db}: reachable, schema at the newest revision ({shipped_head()})"
    )

    from alembic import command

    behind_db = tmp_path / "behind.db"
    command.upgrade(alembic_config(parse_url(sqlite_url(behind_db))), "0002")
    before = behind_db.read_bytes()
    behind = check_database(sqlite_url(behind_db), 2.0)
    assert behind.level is Level.WARN
    assert behind.line() == (
        f"warn  database: {behind_db}: schema at revision 0002, this release's is "
        f"{shipped_head()}; fix: run 'algotrade db upgrade' or start the daemon to migrate"
    )
    assert behind_db.read_bytes() == before  # read-only: not migrated, not switched to WAL


def test_databases_that_are_not_ours(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as raw:
        raw.execute("CREATE TABLE invoices (id INTEGER)")
    refused = check_database(sqlite_url(foreign), 2.0)
    assert refused.level is Level.FAIL
    assert "tables that are not algotrade's (invoices)" in refused.line()

    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as raw:
        raw.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        raw.execute("INSERT INTO alembic_version VALUES ('9999')")
    assert "revision '9999'" in check_database(sqlite_url(newer), 2.0).line()

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all, just text " * 100)
    not_sqlite = check_database(sqlite_url(garbage), 2.0)
    assert not_sqlite.level is Level.FAIL
    assert "point database.url at an algotrade SQLite file" in not_sqlite.line()

    assert check_database(sqlite_url(tmp_path), 2.0).level is Level.FAIL  # a directory
    bad_url = check_database("mysql://db/x", 2.0)
    assert bad_url.level is Level.FAIL
    assert "unsupported backend 'mysql'" in bad_url.line()


def test_an_unreachable_server_fails_fast_without_its_password() -> None:
    url = f"postgresql://trader:hunter2-secret@127.0.0.1:{free_port()}/algotrade"
    started = time.monotonic()
    finding = check_database(url, 2.0)
    assert time.monotonic() - started < 10
    assert finding.level is Level.FAIL
    assert "unreachable" in finding.line()
    assert "start the database server" in finding.line()
    assert "hunter2" not in finding.line()
    assert "trader:***@127.0.0.1" in finding.line()


@pytest.mark.slow
def test_a_postgresql_database_at_head(pg_url: str) -> None:
    with Database(pg_url):
        pass
    finding = check_database(pg_url, 5.0)
    assert finding.level is Level.OK, finding
    assert "at the newest revision" in finding.line()

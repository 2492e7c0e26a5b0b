"""``algotrade db``: backup, restore, upgrade, current, check through the real entry point,
each error path as one line with its exit code (1 a step failed or the schema is behind,
2 bad input or a database that cannot be reached or used)."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from algotrade.daemon.lock import DataDirLock
from algotrade.store.database import Database
from algotrade.store.engine import alembic_config, parse_url, shipped_head
from cli.conftest import RunMain
from testkit.postgres import conninfo, temporary_database

HEAD = shipped_head()
assert HEAD is not None


def migrated(data_dir: Path, revision: str = "head") -> Path:
    """An algotrade SQLite database in ``data_dir`` at ``revision``."""
    from alembic import command

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "algotrade.db"
    url = f"sqlite:///{path}"
    if revision == "head":
        with Database(url):
            pass
    else:
        command.upgrade(alembic_config(parse_url(url)), revision)
    return path


def set_revision(path: Path, revision: str) -> None:
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE alembic_version SET version_num = ?", (revision,))


def add_bot_row(path: Path, bot_id: str) -> None:
    """A bots row written by hand: enough to tell two databases apart."""
    with sqlite3.connect(path) as raw:
        columns = [row[1] for row in raw.execute("PRAGMA table_info(bots)")]
        values = {c: "{}" if c == "config" else 0 for c in columns}
        values.update(bot_id=bot_id, state="stopped")
        marks = ", ".join("?" for _ in values)
        raw.execute(
            f"INSERT INTO bots ({', '.join(values)}) VALUES ({marks})", list(values.values())
        )


# -- upgrade, current, check -------------------------------------------------------------------


def test_upgrade_creates_the_schema_then_current_and_check_say_head(
    run_main: RunMain, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    assert (
        f"migrated from no schema to {HEAD} (head)"
        in run_main("db", "upgrade", "--data-dir", str(data)).ok()
    )
    assert (data / "algotrade.db").stat().st_mode & 0o777 == 0o600
    assert "nothing to do" in run_main("db", "upgrade", "--data-dir", str(data)).ok()
    assert (
        f"schema revision {HEAD} (head)" in run_main("db", "current", "--data-dir", str(data)).ok()
    )
    assert f"{HEAD} (head)" in run_main("db", "check", "--data-dir", str(data)).ok()


def test_check_behind_head_exits_1_naming_the_revisions_until_upgraded(
    run_main: RunMain, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    migrated(data, "0002")
    line = run_main("db", "check", "--data-dir", str(data)).one_line_error(
        1, "schema revision 0002", f"head {HEAD}", "to apply: 0003", "algotrade db upgrade"
    )
    assert "Traceback" not in line
    assert "behind" in run_main("db", "current", "--data-dir", str(data)).ok()
    assert (
        f"migrated from 0002 to {HEAD}" in run_main("db", "upgrade", "--data-dir", str(data)).ok()
    )
    run_main("db", "check", "--data-dir", str(data)).ok()


def test_upgrade_is_refused_while_a_daemon_holds_the_data_dir_and_migrates_nothing(
    run_main: RunMain, tmp_path: Path
) -> None:
    # The daemon there runs the older release (a daemon migrates at start): migrating under
    # it would leave it running on a schema it does not know. docs/database.md: stop first.
    data = tmp_path / "data"
    migrated(data, "0002")
    with DataDirLock(data):
        run_main("db", "upgrade", "--data-dir", str(data)).one_line_error(
            1, "in use by another daemon", "stop it before upgrading"
        )
        run_main("db", "check", "--data-dir", str(data)).one_line_error(1, "revision 0002")
    assert f"migrated from 0002 to {HEAD}" in (
        run_main("db", "upgrade", "--data-dir", str(data)).ok()
    )


def test_upgrade_at_head_is_a_no_op_while_the_daemon_runs(
    run_main: RunMain, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    migrated(data)
    with DataDirLock(data):
        assert "nothing to do" in run_main("db", "upgrade", "--data-dir", str(data)).ok()


def test_check_of_a_newer_schema_is_refused_naming_the_revisions(
    run_main: RunMain, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    set_revision(migrated(data), "0099")
    for command in ("check", "current", "upgrade"):
        run_main("db", command, "--data-dir", str(data)).one_line_error(
            2, "0099", "does not know", f"head {HEAD}"
        )


def test_missing_database_and_bad_url_are_one_line_errors(
    run_main: RunMain, tmp_path: Path
) -> None:
    run_main("db", "check", "--data-dir", str(tmp_path / "none")).one_line_error(
        2, "no database at", "algotrade db upgrade"
    )
    assert not (tmp_path / "none").exists()  # looking never creates the database
    run_main("db", "current", "--db-url", "mysql://u:pw@host/db").one_line_error(
        2, "unsupported backend"
    )


def test_unreachable_postgresql_exits_2_without_the_password(run_main: RunMain) -> None:
    url = "postgresql://algo:s3cret-pw@127.0.0.1:1/algotrade"
    for args in (("check",), ("current",), ("backup", "/tmp/never-written.dump")):
        line = run_main("db", *args, "--db-url", url).one_line_error(2, "unreachable")
        assert "s3cret-pw" not in line


# -- SQLite backup and restore -----------------------------------------------------------------


def test_backup_writes_a_checked_copy_and_refuses_to_overwrite_without_force(
    run_main: RunMain, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    add_bot_row(migrated(data), "b1")
    out = tmp_path / "backup.db"
    printed = run_main("db", "backup", str(out), "--data-dir", str(data)).ok()
    assert f"wrote {out}" in printed
    assert f"schema revision {HEAD} (head)" in printed
    assert "bots 1, orders 0, fills 0" in printed
    with sqlite3.connect(out) as raw:
        assert raw.execute("SELECT bot_id FROM bots").fetchall() == [("b1",)]
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert out.stat().st_mode & 0o777 == 0o600
    run_main("db", "backup", str(out), "--data-dir", str(data)).one_line_error(2, "--force")
    run_main("db", "backup", str(out), "--data-dir", str(data), "--force").ok()
    folder = tmp_path / "backups"
    folder.mkdir()
    run_main("db", "backup", str(folder), "--data-dir", str(data)).ok()
    assert [p.suffix for p in folder.iterdir()] == [".db"]
    assert not list(tmp_path.rglob("*.partial"))


def test_backup_to_a_folder_that_does_not_exist_yet(run_main: RunMain, tmp_path: Path) -> None:
    """Defect: the README's ``db backup backups/`` wrote a FILE named ``backups`` (the trailing
    '/' was dropped), and a file in a missing folder failed with exit 1."""
    data = tmp_path / "data"
    add_bot_row(migrated(data), "b1")
    folder = tmp_path / "backups" / "daily"
    run_main("db", "backup", f"{folder}/", "--data-dir", str(data)).ok()
    assert folder.is_dir()
    assert folder.stat().st_mode & 0o777 == 0o700
    (written,) = folder.iterdir()
    assert written.name.startswith("algotrade-")
    assert written.suffix == ".db"
    with sqlite3.connect(written) as raw:
        assert raw.execute("SELECT bot_id FROM bots").fetchall() == [("b1",)]
    nested = tmp_path / "more" / "copy.db"
    run_main("db", "backup", str(nested), "--data-dir", str(data)).ok()
    assert nested.is_file()


def test_backup_of_a_foreign_sqlite_file_is_refused(run_main: RunMain, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / "algotrade.db") as raw:
        raw.execute("CREATE TABLE customers (id INTEGER)")
    run_main("db", "backup", str(tmp_path / "b.db"), "--data-dir", str(data)).one_line_error(
        2, "not algotrade's", "customers"
    )
    assert not (tmp_path / "b.db").exists()


def test_restore_replaces_the_database_and_keeps_the_previous_one(
    run_main: RunMain, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    path = migrated(data)
    add_bot_row(path, "in-backup")
    backup = tmp_path / "backup.db"
    run_main("db", "backup", str(backup), "--data-dir", str(data)).ok()
    add_bot_row(path, "after-backup")
    # A -wal of the current database must go with it, never pair with the restored file.
    keeper = sqlite3.connect(path)
    keeper.execute("PRAGMA journal_mode=WAL")
    keeper.execute("PRAGMA wal_autocheckpoint=0")
    add_bot_row(path, "only-in-wal")
    printed = run_main("db", "restore", str(backup), "--data-dir", str(data)).ok()
    keeper.close()
    assert "restored" in printed
    assert "the previous database is kept as" in printed
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT bot_id FROM bots").fetchall() == [("in-backup",)]
    (kept,) = data.glob("algotrade.db.before-restore-*[0-9]Z")
    with sqlite3.connect(kept) as raw:
        rows = {r[0] for r in raw.execute("SELECT bot_id FROM bots")}
    assert rows == {"in-backup", "after-backup", "only-in-wal"}


def test_restore_is_refused_while_a_daemon_holds_the_data_dir(
    run_main: RunMain, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    migrated(data)
    backup = tmp_path / "backup.db"
    run_main("db", "backup", str(backup), "--data-dir", str(data)).ok()
    with DataDirLock(data):
        run_main("db", "restore", str(backup), "--data-dir", str(data)).one_line_error(
            1, "in use by another daemon", "stop it"
        )
    assert not list(data.glob("*before-restore*"))


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"hello, not a database at all" * 100, "expected an algotrade SQLite backup"),
        (None, "no alembic_version"),
        (b"", "no alembic_version"),
    ],
)
def test_restore_of_a_file_that_is_not_an_algotrade_backup_is_refused(
    run_main: RunMain, tmp_path: Path, content: bytes | None, needle: str
) -> None:
    data = tmp_path / "data"
    add_bot_row(migrated(data), "keep-me")
    backup = tmp_path / "other.db"
    if content is None:
        with sqlite3.connect(backup) as raw:
            raw.execute("CREATE TABLE customers (id INTEGER)")
    else:
        backup.write_bytes(content)
    run_main("db", "restore", str(backup), "--data-dir", str(data)).one_line_error(2, needle)
    with sqlite3.connect(data / "algotrade.db") as raw:
        assert raw.execute("SELECT bot_id FROM bots").fetchall() == [("keep-me",)]
    run_main("db", "restore", str(tmp_path / "missing.db"), "--data-dir", str(data)).one_line_error(
        2, "no such file"
    )


def test_restore_of_a_newer_schema_is_refused_naming_the_revisions(
    run_main: RunMain, tmp_path: Path
) -> None:
    newer = migrated(tmp_path / "newer")
    set_revision(newer, "0099")
    run_main("db", "restore", str(newer), "--data-dir", str(tmp_path / "data")).one_line_error(
        2, "0099", "does not know", f"head {HEAD}"
    )
    assert not (tmp_path / "data" / "algotrade.db").exists()


def test_restore_of_an_older_schema_says_the_daemon_migrates_it(
    run_main: RunMain, tmp_path: Path
) -> None:
    older = migrated(tmp_path / "older", "0002")
    printed = run_main("db", "restore", str(older), "--data-dir", str(tmp_path / "data")).ok()
    assert "behind this release's head" in printed
    run_main("db", "upgrade", "--data-dir", str(tmp_path / "data")).ok()
    run_main("db", "check", "--data-dir", str(tmp_path / "data")).ok()


# -- PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture
def pg_pair() -> Iterator[tuple[str, str]]:
    with temporary_database() as source, temporary_database() as target:
        yield source, target


@pytest.mark.postgres
def test_postgresql_backup_restore_and_force(
    run_main: RunMain, tmp_path: Path, pg_pair: tuple[str, str]
) -> None:
    source, target = pg_pair
    run_main("db", "upgrade", "--db-url", source).ok()
    dump = tmp_path / "pg.dump"
    printed = run_main("db", "backup", str(dump), "--db-url", source).ok()
    assert f"schema revision {HEAD} (head)" in printed
    data = tmp_path / "data"
    assert (
        "restored"
        in run_main("db", "restore", str(dump), "--db-url", target, "--data-dir", str(data)).ok()
    )
    run_main("db", "check", "--db-url", target).ok()
    run_main(
        "db", "restore", str(dump), "--db-url", target, "--data-dir", str(data)
    ).one_line_error(2, "is not empty", "--force")
    run_main(
        "db", "restore", str(dump), "--db-url", target, "--data-dir", str(data), "--force"
    ).ok()
    with DataDirLock(data):
        run_main(
            "db", "restore", str(dump), "--db-url", target, "--data-dir", str(data), "--force"
        ).one_line_error(1, "in use by another daemon")


@pytest.mark.postgres
def test_postgresql_restore_refuses_sqlite_files_and_newer_schemas(
    run_main: RunMain, tmp_path: Path, pg_pair: tuple[str, str]
) -> None:
    source, target = pg_pair
    args = ("--db-url", target, "--data-dir", str(tmp_path / "data"))
    sqlite_backup = migrated(tmp_path / "lite")
    run_main("db", "restore", str(sqlite_backup), *args).one_line_error(
        2, "not a pg_dump custom-format archive"
    )
    run_main("db", "upgrade", "--db-url", source).ok()
    import psycopg

    with psycopg.connect(conninfo(source), autocommit=True) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099'")
    newer = tmp_path / "newer.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(newer), "-d", conninfo(source)], check=True)
    run_main("db", "restore", str(newer), *args).one_line_error(2, "0099", "does not know")
    run_main("db", "backup", str(tmp_path / "x.dump"), "--db-url", source).one_line_error(2, "0099")


@pytest.mark.postgres
def test_missing_pg_dump_is_a_one_line_error(
    run_main: RunMain, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump, no pg_restore
    url = make_url(pg_url).render_as_string(hide_password=False)
    run_main("db", "backup", str(tmp_path / "b.dump"), "--db-url", url).one_line_error(
        1, "pg_dump not found on PATH", "postgresql-client"
    )
    (tmp_path / "b.dump").write_bytes(b"x")
    run_main(
        "db",
        "restore",
        str(tmp_path / "b.dump"),
        "--db-url",
        url,
        "--data-dir",
        str(tmp_path / "d"),
    ).one_line_error(1, "pg_restore not found on PATH")

"""Opening, URLs, errors and the SQLite pragmas."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from algotrade.core.errors import AlgoTradeError, InputError
from algotrade.store import Store, StoreError
from algotrade.store.engine import StoreRefusedError, parse_url


def test_bad_server_gives_one_line_error_without_the_password() -> None:
    store = Store("postgresql://u:secret@127.0.0.1:1/db")
    assert store.backend == "postgresql"
    with pytest.raises(StoreError) as caught:
        store.open()
    message = str(caught.value)
    assert "secret" not in message
    assert "u:***@127.0.0.1:1/db" in message
    assert "\n" not in message
    assert isinstance(caught.value, AlgoTradeError)
    assert not store.ping()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "not a database URL"),
        ("mysql://u:secret@host/db", "unsupported backend"),
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
    ],
)
def test_unusable_urls_are_refused_without_io(url: str, reason: str) -> None:
    with pytest.raises(StoreError, match=reason) as caught:
        Store(url)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_postgres_urls_use_psycopg(scheme: str) -> None:
    url = f"{scheme}://me:pw@db.example:5433/algo"
    store = Store(url)
    assert store.backend == "postgresql"
    assert store.url == f"{scheme}://me:***@db.example:5433/algo"  # as configured, masked
    assert parse_url(url).drivername == "postgresql+psycopg"


def test_using_a_closed_store_is_an_error(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    assert not store.ping()
    with pytest.raises(StoreError, match="not open"):
        store.load_bots()
    with store:
        assert store.ping()
    assert not store.ping()
    with pytest.raises(StoreError, match="not open"):
        store.count_bots()
    store.close()  # twice is fine


def test_sqlite_creates_missing_directories_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "algotrade.db"
    with Store(f"sqlite:///{path}") as store:
        assert store.backend == "sqlite"
        engine = store._engine  # the pragmas are per connection: look at a pooled one
        assert engine is not None
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 5000
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)  # persistent
    finally:
        raw.close()


def test_unopenable_sqlite_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file where a directory should be")
    with pytest.raises(StoreError, match="cannot open store"):
        Store(f"sqlite:///{tmp_path / 'taken' / 'algotrade.db'}").open()
    not_a_db = tmp_path / "garbage.db"
    not_a_db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open store"):
        Store(f"sqlite:///{not_a_db}").open()


# -- defect 8: someone else's database is refused untouched; owner-only files ---------------


def tables_of(path: Path) -> set[str]:
    raw = sqlite3.connect(path)
    try:
        return {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        raw.close()


def test_someone_elses_sqlite_file_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    theirs = tmp_path / "inventory.db"
    raw = sqlite3.connect(theirs)
    raw.execute("CREATE TABLE parts (id INTEGER PRIMARY KEY, name TEXT)")
    raw.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, part INTEGER)")
    raw.execute("INSERT INTO parts VALUES (1, 'bolt')")
    raw.commit()
    raw.close()
    before = theirs.read_bytes()

    with pytest.raises(StoreRefusedError) as caught:
        Store(f"sqlite:///{theirs}").open()

    message = str(caught.value)
    assert "\n" not in message
    assert f"cannot open store sqlite:///{theirs}" in message
    assert "already has tables that are not algotrade's (orders, parts)" in message
    assert isinstance(caught.value, InputError)  # the CLI exits 2
    assert isinstance(caught.value, StoreError)
    assert tables_of(theirs) == {"parts", "orders"}  # not one table added
    assert theirs.read_bytes() == before


def test_an_unknown_schema_revision_is_refused_as_input(tmp_path: Path) -> None:
    path = tmp_path / "other-app.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    raw.execute("INSERT INTO alembic_version VALUES ('ae1027a6acf')")
    raw.execute("CREATE TABLE users (id INTEGER)")
    raw.commit()
    raw.close()
    with pytest.raises(StoreRefusedError, match="schema revision 'ae1027a6acf'"):
        Store(f"sqlite:///{path}").open()
    assert tables_of(path) == {"alembic_version", "users"}


def test_a_file_that_is_not_sqlite_or_a_folder_is_refused_as_input(tmp_path: Path) -> None:
    text = tmp_path / "notes.db"
    text.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreRefusedError, match="file is not a database"):
        Store(f"sqlite:///{text}").open()
    folder = tmp_path / "folder.db"
    folder.mkdir()
    with pytest.raises(StoreRefusedError, match="is a directory; expected a SQLite database file"):
        Store(f"sqlite:///{folder}").open()


def test_an_empty_sqlite_file_is_adopted(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    with Store(f"sqlite:///{empty}") as store:
        assert store.count_bots() == 0


def test_a_new_database_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new-dir" / "algotrade.db"
    with Store(f"sqlite:///{path}") as store:
        store.insert_bot({"bot_id": "b1"})
        files = [path, path.with_name("algotrade.db-wal"), path.with_name("algotrade.db-shm")]
        for file in files:
            assert file.exists(), file
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700

"""Opening, URLs, errors and the SQLite pragmas."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from algotrade.core.errors import AlgoTradeError
from algotrade.store import Store, StoreError
from algotrade.store.engine import parse_url


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

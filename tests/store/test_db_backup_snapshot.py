"""A backup is one consistent snapshot while another connection writes, on both backends.

A writer thread commits transactions that each insert two rows (into an extra table of an
algotrade database); every backup taken meanwhile must hold an even number of rows (never
half a transaction), its summary must count exactly what the file holds, and an open,
uncommitted write must not be in it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from algotrade.store.backup_postgresql import backup_postgresql
from algotrade.store.backup_sqlite import backup_sqlite
from algotrade.store.database import Database
from testkit.postgres import conninfo, temporary_database

BACKUPS = 5


class PairWriter(threading.Thread):
    """Commits two-row transactions through ``insert_pair`` until stopped."""

    def __init__(self, insert_pair: Callable[[int], None]) -> None:
        super().__init__(daemon=True)
        self.insert_pair = insert_pair
        self.stop = threading.Event()
        self.committed = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.insert_pair(self.committed)
                self.committed += 1
        except BaseException as exc:
            self.error = exc

    def wait_for(self, count: int) -> None:
        deadline = threading.Event()
        for _ in range(2000):  # up to ~20 s
            if self.committed >= count or self.error is not None:
                return
            deadline.wait(0.01)
        raise AssertionError(f"the writer committed only {self.committed} transactions")


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Path:
    path = tmp_path / "algotrade.db"
    with Database(f"sqlite:///{path}"):
        pass
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE pairs (n INTEGER, half INTEGER)")
    return path


def test_sqlite_backups_under_a_writer_hold_whole_transactions(
    sqlite_db: Path, tmp_path: Path
) -> None:
    writer_connection = sqlite3.connect(sqlite_db, check_same_thread=False, timeout=30)
    writer_connection.isolation_level = None

    def insert_pair(n: int) -> None:
        writer_connection.execute("BEGIN IMMEDIATE")
        writer_connection.execute("INSERT INTO pairs VALUES (?, 0)", (n,))
        writer_connection.execute("INSERT INTO pairs VALUES (?, 1)", (n,))
        writer_connection.execute("COMMIT")

    writer = PairWriter(insert_pair)
    writer.start()
    try:
        counts = []
        for index in range(BACKUPS):
            writer.wait_for(50 * (index + 1))
            out = tmp_path / f"b{index}.db"
            state = backup_sqlite(sqlite_db, out)
            with sqlite3.connect(out) as raw:
                (rows,) = raw.execute("SELECT count(*) FROM pairs").fetchone()
                assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert rows % 2 == 0, f"backup {index} holds half a transaction ({rows} rows)"
            assert state.rows["pairs"] == rows
            counts.append(rows)
    finally:
        writer.stop.set()
        writer.join(10)
        writer_connection.close()
    assert writer.error is None, writer.error
    assert counts == sorted(counts)
    assert counts[-1] > counts[0] > 0  # taken while the writer wrote
    assert not list(tmp_path.glob(".*.partial"))


def test_sqlite_backup_leaves_out_an_open_write_and_does_not_wait_for_it(
    sqlite_db: Path, tmp_path: Path
) -> None:
    open_writer = sqlite3.connect(sqlite_db)
    open_writer.isolation_level = None
    open_writer.execute("BEGIN IMMEDIATE")
    open_writer.execute("INSERT INTO pairs VALUES (1, 0)")
    try:
        state = backup_sqlite(sqlite_db, tmp_path / "b.db")  # WAL: the open write blocks nothing
    finally:
        open_writer.execute("ROLLBACK")
        open_writer.close()
    assert state.rows["pairs"] == 0


@pytest.fixture
def pg_db() -> Iterator[str]:
    with temporary_database() as url:
        with Database(url):
            pass
        with psycopg.connect(conninfo(url), autocommit=True) as connection:
            connection.execute("CREATE TABLE pairs (n INTEGER, half INTEGER)")
        yield url


@pytest.mark.postgres
def test_postgresql_backups_under_a_writer_hold_whole_transactions(
    pg_db: str, tmp_path: Path
) -> None:
    writer_connection = psycopg.connect(conninfo(pg_db))

    def insert_pair(n: int) -> None:
        with writer_connection.transaction():
            writer_connection.execute("INSERT INTO pairs VALUES (%s, 0)", (n,))
            writer_connection.execute("INSERT INTO pairs VALUES (%s, 1)", (n,))

    writer = PairWriter(insert_pair)
    writer.start()
    try:
        for index in range(3):
            writer.wait_for(50 * (index + 1))
            out = tmp_path / f"b{index}.dump"
            state = backup_postgresql(pg_db, out)
            data = subprocess.run(
                ["pg_restore", "--data-only", "-t", "pairs", "-f", "-", str(out)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            rows = data.split("COPY ", 1)[1].split("\n\\.", 1)[0].count("\n")
            assert rows % 2 == 0, f"backup {index} holds half a transaction ({rows} rows)"
            assert state.rows["pairs"] == rows  # the summary counts the dump's own snapshot
            assert rows > 0
    finally:
        writer.stop.set()
        writer.join(10)
        writer_connection.close()
    assert writer.error is None, writer.error

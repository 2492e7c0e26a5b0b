"""Where a database's schema stands against this release, for ``algotrade db`` and its backups.

Read-only: a SQLite file is opened ``mode=ro`` (a missing one is not created), PostgreSQL is
asked with a connect timeout. The errors are one line and never carry the password.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from algotrade.core.errors import AlgoTradeError, InputError
from algotrade.store.engine import (
    StoreRefusedError,
    mask_url,
    parse_url,
    refuse_unless_ours,
    shipped_head,
    shipped_revisions,
    url_password,
)

# The trading facts a backup summary names first; every other table is counted in the total.
SUMMARY_TABLES = ("bots", "orders", "fills")
SQLITE_TABLES = (
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' ESCAPE '~'"
)
CONNECT_TIMEOUT_S = 10


class DatabaseUnreachableError(InputError):
    """The database cannot be reached or opened (wrong host, port, user, password, path)."""


class BackupError(AlgoTradeError):
    """A backup or restore step failed (a tool missing or failing, a file not writable)."""


@dataclass(frozen=True, slots=True)
class SchemaState:
    """A database's schema revision (None: no schema yet) and its tables' row counts."""

    where: str  # the file, or the URL with the password masked
    revision: str | None
    rows: Mapping[str, int] = field(default_factory=dict)

    @property
    def head(self) -> str | None:
        return shipped_head()

    @property
    def at_head(self) -> bool:
        return self.revision is not None and self.revision == self.head

    @property
    def known(self) -> bool:
        return self.revision is None or self.revision in shipped_revisions()

    def pending(self) -> list[str]:
        """The shipped revisions an upgrade would apply, oldest first."""
        order = revision_order()
        if self.revision is None:
            return order
        if self.revision not in order:
            return []
        return order[order.index(self.revision) + 1 :]

    def describe(self) -> str:
        """One line: the revision against this release's head."""
        head = self.head
        if self.revision is None:
            return f"{self.where}: no algotrade schema yet (this release's head is {head})"
        if not self.known:
            return f"{self.where}: schema revision {self.revision}, {newer_text(self.revision)}"
        if self.at_head:
            return f"{self.where}: schema revision {self.revision} (head)"
        return (
            f"{self.where}: schema revision {self.revision}, behind this release's head {head} "
            f"(to apply: {', '.join(self.pending())})"
        )

    def summary(self) -> str:
        """``bots 3, orders 120, fills 96; 11 tables, 1234 rows``."""
        named = ", ".join(f"{table} {self.rows.get(table, 0)}" for table in SUMMARY_TABLES)
        total = sum(self.rows.values())
        return f"{named}; {len(self.rows)} tables, {total} rows"


def revision_order() -> list[str]:
    """The shipped revisions, oldest first (they are named in order: 0001, 0002, ...)."""
    return sorted(shipped_revisions())


def newer_text(revision: str) -> str:
    known = ", ".join(revision_order())
    return (
        f"which this release of algotrade does not know (it knows {known}; head "
        f"{shipped_head()}): written by a newer algotrade; use that release, or a backup "
        "taken before the upgrade"
    )


def refuse_newer(where: str, revision: str | None) -> None:
    """``StoreRefusedError`` naming the revisions when ``revision`` is not one of ours."""
    if revision is not None and revision not in shipped_revisions():
        raise StoreRefusedError(f"{where}: schema revision {revision}, {newer_text(revision)}")


def scrub(text: str, url: str) -> str:
    """The first line of ``text``, whitespace folded, with ``url``'s password masked."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = " ".join(lines[0].split()) if lines else "no reason given"
    password = url_password(url)
    return line.replace(password, "***") if password else line


# -- reading a database ------------------------------------------------------------------------


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, None for PostgreSQL; ``InputError`` for a bad URL."""
    try:
        parsed = parse_url(url)
    except ValueError as exc:
        raise InputError(f"database URL {mask_url(url)}: {exc}") from None
    if parsed.get_backend_name() != "sqlite":
        return None
    assert parsed.database is not None  # parse_url refuses an in-memory database
    return Path(parsed.database).expanduser()


def read_state(url: str) -> SchemaState:
    """The schema state of the database at ``url``, without changing it."""
    path = sqlite_path(url)
    if path is not None:
        if not path.exists():
            raise DatabaseUnreachableError(
                f"no database at {path} (database.url / --db-url / --data-dir): the daemon or "
                "'algotrade db upgrade' creates it"
            )
        return read_sqlite_state(path)
    return read_postgresql_state(url)


def read_sqlite_state(path: Path, label: str | None = None) -> SchemaState:
    """The state of the SQLite file at ``path``; ``StoreRefusedError`` when it is not an
    algotrade database (another format, another application's tables)."""
    where = label or str(path)
    if path.is_dir():
        raise StoreRefusedError(f"{where} is a directory; expected a SQLite database file")
    try:
        raw = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as exc:
        raise DatabaseUnreachableError(f"{where}: cannot open: {exc}") from None
    try:
        return sqlite_state(raw, where)
    except sqlite3.DatabaseError as exc:
        raise StoreRefusedError(f"{where}: {exc}; expected an algotrade SQLite database") from None
    finally:
        raw.close()


def sqlite_tables_and_revision(raw: sqlite3.Connection) -> tuple[list[str], str | None]:
    """The tables of an open SQLite database, sorted, and its Alembic revision (None: none)."""
    tables = sorted(str(row[0]) for row in raw.execute(SQLITE_TABLES))
    revision = None
    if "alembic_version" in tables:
        row = raw.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = None if row is None else str(row[0])
    return tables, revision


def sqlite_state(raw: sqlite3.Connection, where: str, *, refuse: bool = True) -> SchemaState:
    """The state of an open SQLite connection (one read transaction: one snapshot);
    ``refuse``: ``StoreRefusedError`` for a database that is not ours or is newer."""
    raw.execute("BEGIN")
    try:
        tables, revision = sqlite_tables_and_revision(raw)
        rows = {
            table: int(raw.execute(f"SELECT count(*) FROM {quoted(table)}").fetchone()[0])
            for table in tables
            if table != "alembic_version"
        }
    finally:
        raw.execute("ROLLBACK")
    if refuse:
        _refuse_foreign(where, revision, set(tables))
    return SchemaState(where, revision, rows)


def read_postgresql_state(url: str) -> SchemaState:
    try:
        with psycopg.connect(libpq_uri(url), connect_timeout=CONNECT_TIMEOUT_S) as connection:
            return postgresql_state(connection, mask_url(url))
    except psycopg.OperationalError as exc:
        raise DatabaseUnreachableError(
            f"database {mask_url(url)} is unreachable: {scrub(str(exc), url)}"
        ) from None
    except psycopg.Error as exc:  # e.g. no permission to read a table
        raise BackupError(f"database {mask_url(url)}: {scrub(str(exc), url)}") from None


def postgresql_state(connection: psycopg.Connection[Any], where: str) -> SchemaState:
    """The state seen by an open psycopg connection, in its current transaction."""
    tables = sorted(
        str(row[0])
        for row in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    )
    revision = None
    if "alembic_version" in tables:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = None if row is None else str(row[0])
    rows = {}
    for table in tables:
        if table != "alembic_version":
            count = connection.execute(f"SELECT count(*) FROM {quoted(table)}").fetchone()
            rows[table] = 0 if count is None else int(count[0])
    _refuse_foreign(where, revision, set(tables))
    return SchemaState(where, revision, rows)


def _refuse_foreign(where: str, revision: str | None, tables: set[str]) -> None:
    refuse_newer(where, revision)
    try:
        refuse_unless_ours(revision, tables)
    except StoreRefusedError as exc:
        raise StoreRefusedError(f"{where}: {exc}") from None


def quoted(name: str) -> str:
    """An SQL identifier in double quotes (table names come from the database itself)."""
    return '"' + name.replace('"', '""') + '"'


def libpq_uri(url: str, *, password: bool = True) -> str:
    """A SQLAlchemy PostgreSQL URL as a libpq URI (for psycopg, pg_dump and pg_restore);
    without the password when ``password`` is False (it then goes in ``PGPASSWORD``)."""
    parsed = parse_url(url).set(drivername="postgresql")
    if not password:
        parsed = parsed.set(password=None)
    return parsed.render_as_string(hide_password=False)

"""Store URLs, engines (with SQLite's durability pragmas) and running the migrations.

A database is ours when it is empty or carries one of our schema revisions; anything else
(another application's SQLite file, a PostgreSQL database with other tables) is refused before
a single table is added to it. A SQLite file the store creates is owner-only (0600; SQLite
gives its -wal and -shm files the database file's mode), and so is a folder it creates (0700).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from datetime import datetime
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, inspect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from algotrade.core.errors import InputError
from algotrade.core.money import decimal_text
from algotrade.core.timeutil import datetime_to_ns, ns_to_iso
from algotrade.store.errors import StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BACKENDS = ("sqlite", "postgresql")
# Execution option that makes the SQLite BEGIN an IMMEDIATE one (see _sqlite_begin).
WRITE_OPTION = "algotrade_write"

_USERINFO_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")
_QUERY_PASSWORD = re.compile(r"(password=)[^&]*", re.IGNORECASE)
# Arbitrary constant: the PostgreSQL advisory lock that serialises concurrent migrations.
_MIGRATION_LOCK_ID = 0x616C676F  # "algo"
FILE_MODE = 0o600  # a SQLite database the store creates
DIR_MODE = 0o700  # a folder the store creates for it
_MAX_LISTED_TABLES = 5


class StoreRefusedError(StoreError, InputError):
    """The configured database is not one this store may use: another application's, a newer
    schema, a file that is not SQLite, a path that is a folder. Nothing was written to it."""


def normalize_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` use the installed psycopg 3 driver."""
    text = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if text.startswith(prefix):
            return "postgresql+psycopg://" + text[len(prefix) :]
    return text


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe for logs and error messages."""
    try:
        masked = make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        masked = _USERINFO_PASSWORD.sub(r"\1***@", url)
    return _QUERY_PASSWORD.sub(r"\1***", masked)


def url_password(url: str) -> str | None:
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        return None
    return str(password) if password else None


def parse_url(url: str) -> URL:
    """Parse and check a store URL; raises ``ValueError`` with a short reason."""
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError as exc:
        raise ValueError("not a database URL (e.g. sqlite:///data/algotrade.db)") from exc
    backend = parsed.get_backend_name()
    if backend not in BACKENDS:
        raise ValueError(f"unsupported backend {backend!r}; use sqlite or postgresql")
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        # An in-memory database is private to one connection: the writer thread and the
        # readers would each see a different, empty database.
        raise ValueError("in-memory SQLite is not supported; give a file path")
    return parsed


def _json_default(value: Any) -> Any:
    # Event data and runtime dicts may carry money, times and enums straight from the engine.
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return ns_to_iso(datetime_to_ns(value))
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def make_engine(url: URL, *, echo: bool = False) -> Engine:
    """An engine for ``url`` (already checked by ``parse_url``); no connection is made yet."""
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        create_sqlite_file(Path(url.database).expanduser())
        # Connections move between threads through the pool, one thread at a time.
        engine = create_engine(
            url,
            echo=echo,
            json_serializer=json_dumps,
            connect_args={"check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = 10  # fail an unreachable server, do not hang
    # pre_ping: the daemon is long-lived; a PostgreSQL restart must not break it for good.
    return create_engine(
        url,
        echo=echo,
        json_serializer=json_dumps,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def create_sqlite_file(path: Path) -> None:
    """Create an empty, owner-only database file (and its folder, 0700) unless ``path`` exists.

    SQLite would create the file itself, with the process umask (usually 0644: readable by
    every local user). An empty file is a valid empty database."""
    if path.is_dir():
        raise StoreRefusedError(f"{path} is a directory; expected a SQLite database file")
    if path.exists():
        check_sqlite_file(path)
        return
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return  # another process created it first: theirs is as good
    os.close(fd)


def check_sqlite_file(path: Path) -> None:
    """``StoreRefusedError`` unless the existing file at ``path`` is empty or ours; read-only,
    before the engine's first connection switches the file to WAL mode (which rewrites its
    header: someone else's file must not be changed at all)."""
    if path.stat().st_size == 0:
        return
    try:
        raw = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return  # unreadable here: the engine's own connection reports why
    try:
        tables = {
            str(row[0])
            for row in raw.execute(
                "SELECT name FROM sqlite_master"
                " WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' ESCAPE '~'"
            )
        }
        revision = None
        if "alembic_version" in tables:
            row = raw.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = None if row is None else str(row[0])
    except sqlite3.DatabaseError as exc:
        raise StoreRefusedError(f"{path}: {exc}; expected a SQLite database file") from None
    finally:
        raw.close()
    refuse_unless_ours(revision, tables)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling starts transactions late and commits before DDL;
    # turn it off and let SQLAlchemy's "begin" event emit BEGIN (SQLAlchemy's documented recipe),
    # so every store call, migrations included, is exactly one SQLite transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # Wait up to 5 s for another connection's write lock instead of failing at once.
        cursor.execute("PRAGMA busy_timeout=5000")
        # WAL: readers never block the writer (API threads read while the worker writes).
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode, NORMAL syncs the WAL at checkpoints, not on every commit. A committed
        # transaction is in the WAL file (the OS page cache) when COMMIT returns, so it survives
        # a crash or kill -9 of this process; only a power loss or OS crash can lose the last
        # few transactions (never corrupt the database). FULL would fsync every commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Off by default in SQLite; needed for ON DELETE CASCADE from bots.
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # Writers take the write lock up front (IMMEDIATE): a deferred transaction that reads and
    # then writes can fail with "database is locked" without waiting for busy_timeout.
    if connection.get_execution_options().get(WRITE_OPTION):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


if TYPE_CHECKING:
    from alembic.config import Config

_REVISION = re.compile(r"^revision(?::\s*str)?\s*=\s*[\"']([^\"']+)[\"']", re.M)
_DOWN = re.compile(r"^down_revision(?::[^=]*)?=\s*[\"']([^\"']+)[\"']", re.M)


@lru_cache(maxsize=1)
def _shipped_graph() -> tuple[frozenset[str], frozenset[str]]:
    """(revisions, revisions that are some other's parent), read from the revision files'
    text (so a start-up that finds the schema current never has to import Alembic)."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        if match := _REVISION.search(text):
            revisions.add(match.group(1))
        if match := _DOWN.search(text):
            parents.add(match.group(1))
    return frozenset(revisions), frozenset(parents)


def shipped_revisions() -> frozenset[str]:
    """Every schema revision shipped in this package."""
    return _shipped_graph()[0]


def shipped_head() -> str | None:
    """The newest migration shipped in this package."""
    revisions, parents = _shipped_graph()
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 else None


def current_revision(connection: Connection) -> str | None:
    try:
        with connection.begin_nested():
            row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
    except DBAPIError:
        return None  # a new database: no version table yet
    return None if row is None else str(row[0])


def alembic_config(url: URL) -> Config:
    """An Alembic config built in code: the migrations shipped in this package, this URL."""
    from alembic.config import Config  # noqa: PLC0415 - only when migrating (slow import)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates '%': URL-encoded passwords must be escaped.
    config.set_main_option(
        "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


def check_ours(connection: Connection, revision: str | None) -> None:
    """Refuse a database that is not empty and not ours (``StoreRefusedError``), before any
    migration adds a table to it."""
    refuse_unless_ours(revision, set(inspect(connection).get_table_names()))


def refuse_unless_ours(revision: str | None, tables: set[str]) -> None:
    """``StoreRefusedError`` unless the database is empty or at one of our revisions."""
    if revision is not None:
        if revision not in shipped_revisions():
            raise StoreRefusedError(
                f"the database is at schema revision {revision!r}, which this version of "
                "algotrade does not know (written by a newer algotrade, or another "
                "application's database); refusing to use it"
            )
        return
    # An empty alembic_version is what a downgrade to base leaves: nothing else to keep.
    others = sorted(tables - {"alembic_version"})
    if others:
        listed = ", ".join(others[:_MAX_LISTED_TABLES])
        if len(others) > _MAX_LISTED_TABLES:
            listed += f", ... ({len(others)} tables)"
        raise StoreRefusedError(
            f"the database already has tables that are not algotrade's ({listed}) and no "
            "algotrade schema version; refusing to add ours to it: point database.url (or "
            "daemon.data_dir) at a new or an algotrade database"
        )


def upgrade_to_head(engine: Engine) -> None:
    """Run the migrations on ``engine`` in one transaction (all or nothing)."""
    with engine.execution_options(**{WRITE_OPTION: True}).begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two processes opening a new database at once must not both create the tables.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
        head = shipped_head()
        revision = current_revision(connection)
        if head is not None and revision == head:
            return  # up to date: the common start-up, no Alembic import (~0.2 s)
        check_ours(connection, revision)
        from alembic import command  # noqa: PLC0415 - only when migrating (slow import)

        config = alembic_config(engine.url)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

"""The warm tier's tables, created idempotently, versioned, and a hypertable when it can be.

- ``market_bars``: one row per bar, ``PRIMARY KEY (venue, symbol, interval, ts_ns)``. Time is
  ``ts_ns bigint`` (epoch nanoseconds, the bar's open time) and nothing else: ``timestamptz``
  holds microseconds, so it could not round-trip the catalog's nanoseconds exactly, and a
  second time column would cost 8 bytes per row and COPY bandwidth to say the same thing.
  The view ``market_bars_utc`` adds ``ts timestamptz`` for SQL users (Grafana, psql).
- ``market_series``: per series its first/last bar and row count, rewritten in the same
  transaction as each sync of that series, so listing what is stored never scans the bars.
- ``market_bars_meta``: ``schema_version`` (a later change of these tables is detected, never
  guessed) and ``storage``.

When the ``timescaledb`` extension is available (``pg_available_extensions``) it is created
and ``market_bars`` becomes a hypertable on ``ts_ns`` (integer time: chunks of
``CHUNK_INTERVAL_NS``). Otherwise the table stays a plain table whose primary-key index
serves every read (they all filter on venue, symbol, interval and a ts_ns range). A plain
table found later on a server that now has TimescaleDB is converted (``migrate_data``).
Creating the extension can still fail (it must be in ``shared_preload_libraries``, and the
role needs the right to create it): then the table stays plain and ``SchemaStatus.note``
says why, so the caller can tell the user rather than silently using less.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import psycopg

from algotrade.core.errors import ConfigError

SCHEMA_VERSION = 1
BARS_TABLE = "market_bars"
SERIES_TABLE = "market_series"
META_TABLE = "market_bars_meta"
TIME_VIEW = "market_bars_utc"
NS_PER_DAY = 86_400 * 1_000_000_000
# One week per chunk: 1-minute bars of 500 symbols are ~5M rows (a few hundred MB with the
# index), inside TimescaleDB's advice that the newest chunks fit in a quarter of memory;
# hourly bars of few symbols make small chunks, which only costs planning time.
CHUNK_INTERVAL_NS = 7 * NS_PER_DAY
# Serialises concurrent ensure_schema calls (CREATE TABLE IF NOT EXISTS races otherwise).
_SCHEMA_LOCK = 0x616C676F_7761726D  # "algowarm"

_CREATE_BARS = f"""
CREATE TABLE IF NOT EXISTS {BARS_TABLE} (
    venue text NOT NULL,
    symbol text NOT NULL,
    "interval" text NOT NULL,
    ts_ns bigint NOT NULL,
    open double precision NOT NULL,
    high double precision NOT NULL,
    low double precision NOT NULL,
    close double precision NOT NULL,
    volume double precision NOT NULL,
    PRIMARY KEY (venue, symbol, "interval", ts_ns)
)"""
_CREATE_SERIES = f"""
CREATE TABLE IF NOT EXISTS {SERIES_TABLE} (
    venue text NOT NULL,
    symbol text NOT NULL,
    "interval" text NOT NULL,
    first_ns bigint NOT NULL,
    last_ns bigint NOT NULL,
    row_count bigint NOT NULL,
    synced_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue, symbol, "interval")
)"""
_CREATE_META = f"""
CREATE TABLE IF NOT EXISTS {META_TABLE} (key text PRIMARY KEY, value text NOT NULL)"""
_CREATE_VIEW = f"""
CREATE OR REPLACE VIEW {TIME_VIEW} AS
SELECT venue, symbol, "interval",
       timestamptz 'epoch' + (ts_ns / 1000) * interval '1 microsecond' AS ts,
       ts_ns, open, high, low, close, volume
FROM {BARS_TABLE}"""
HYPERTABLE_SQL = (
    f"SELECT create_hypertable('{BARS_TABLE}', 'ts_ns', "
    f"chunk_time_interval => {CHUNK_INTERVAL_NS}::bigint, "
    "if_not_exists => TRUE, migrate_data => TRUE)"
)


class Storage(StrEnum):
    HYPERTABLE = "hypertable"
    TABLE = "table"


@dataclass(frozen=True, slots=True)
class Observed:
    """What the server has, before anything is created."""

    extension_available: bool  # timescaledb in pg_available_extensions
    extension_installed: bool  # timescaledb in pg_extension (created in this database)
    bars_exists: bool
    is_hypertable: bool
    version: int | None  # market_bars_meta.schema_version, None without the meta table


@dataclass(frozen=True, slots=True)
class StoragePlan:
    create_extension: bool
    make_hypertable: bool


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    storage: Storage
    note: str | None = None  # why a hypertable was possible in principle but not made


def plan_storage(observed: Observed) -> StoragePlan:
    """The decision, apart from the SQL: a hypertable whenever TimescaleDB can be had."""
    if observed.is_hypertable:
        return StoragePlan(create_extension=False, make_hypertable=False)
    if not (observed.extension_available or observed.extension_installed):
        return StoragePlan(create_extension=False, make_hypertable=False)
    return StoragePlan(create_extension=not observed.extension_installed, make_hypertable=True)


def check_version(observed: Observed, where: str) -> None:
    """``ConfigError`` when the tables are not ours or of another schema version."""
    if observed.bars_exists and observed.version is None:
        raise ConfigError(
            f"{where}: table {BARS_TABLE} exists but was not made by algotrade "
            f"(no {META_TABLE}); use another database or schema"
        )
    if observed.version is not None and observed.version != SCHEMA_VERSION:
        raise ConfigError(
            f"{where}: warm-tier schema version {observed.version}, this algotrade knows "
            f"version {SCHEMA_VERSION}; use the algotrade that wrote it or a new database"
        )


def extension_state(connection: psycopg.Connection[tuple[object, ...]]) -> tuple[bool, bool]:
    """Whether ``timescaledb`` is available on the server and created in this database."""
    row = connection.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'),"
        " EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
    ).fetchone()
    assert row is not None
    return bool(row[0]), bool(row[1])


def observe(connection: psycopg.Connection[tuple[object, ...]]) -> Observed:
    available, installed = extension_state(connection)
    row = connection.execute(
        "SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL",
        (BARS_TABLE, META_TABLE),
    ).fetchone()
    assert row is not None
    bars_exists, meta_exists = bool(row[0]), bool(row[1])
    is_hypertable = False
    if installed and bars_exists:
        found = connection.execute(
            "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables"
            " WHERE hypertable_name = %s AND hypertable_schema = current_schema())",
            (BARS_TABLE,),
        ).fetchone()
        is_hypertable = bool(found and found[0])
    version = None
    if meta_exists:
        stored = connection.execute(
            f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
        ).fetchone()
        version = _version(stored[0] if stored else None)
    return Observed(available, installed, bars_exists, is_hypertable, version)


def _version(text: object) -> int:
    try:
        return int(str(text))
    except ValueError:
        return -1  # unreadable: reported as a version mismatch


def ensure_schema(connection: psycopg.Connection[tuple[object, ...]], where: str) -> SchemaStatus:
    """Create what is missing, in one transaction; idempotent. ``connection`` is in
    autocommit mode (each ``transaction()`` block is a real transaction)."""
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        observed = observe(connection)
        check_version(observed, where)
        plan = plan_storage(observed)
        note = None
        if plan.create_extension:
            note = _create_extension(connection)
        connection.execute(_CREATE_BARS)
        connection.execute(_CREATE_SERIES)
        connection.execute(_CREATE_META)
        connection.execute(_CREATE_VIEW)
        storage = Storage.HYPERTABLE if observed.is_hypertable else Storage.TABLE
        if plan.make_hypertable and note is None:
            connection.execute(HYPERTABLE_SQL)
            storage = Storage.HYPERTABLE
        connection.execute(
            f"INSERT INTO {META_TABLE} (key, value) VALUES ('schema_version', %s), "
            "('storage', %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (str(SCHEMA_VERSION), storage.value),
        )
    return SchemaStatus(storage, note)


def _create_extension(connection: psycopg.Connection[tuple[object, ...]]) -> str | None:
    """None when created, else why not (the savepoint keeps the transaction usable)."""
    try:
        with connection.transaction():  # a savepoint
            connection.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"timescaledb is available but could not be created ({reason}): plain table"
    return None

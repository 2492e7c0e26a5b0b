"""``ensure_schema``: the tables, their version, and the hypertable decision.

TimescaleDB is not installable on the machines this project is tested on (Debian does not
package it; PyPI cannot). The hypertable branch is therefore run against a stand-in: a SQL
function ``create_hypertable`` with TimescaleDB's argument names that records its call, and a
``timescaledb_information.hypertables`` view fed by it. That checks our SQL binds to that
signature and that the decision and re-run logic follow it; it is NOT a run against a real
TimescaleDB. When the real extension is available on the server, the plain test below
expects a real hypertable instead.
"""

from __future__ import annotations

import psycopg
import pytest

from algotrade.core.errors import ConfigError
from algotrade.data.warm import SCHEMA_VERSION, WarmStore
from algotrade.data.warm import schema as warm_schema
from algotrade.data.warm.schema import (
    CHUNK_INTERVAL_NS,
    Observed,
    StoragePlan,
    plan_storage,
)

pytestmark = pytest.mark.postgres


def _conninfo(url: str) -> str:
    from testkit.postgres import conninfo

    return conninfo(url)


def _query(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(_conninfo(url), autocommit=True) as connection:
        return connection.execute(sql).fetchall()


def _execute(url: str, sql: str) -> None:
    with psycopg.connect(_conninfo(url), autocommit=True) as connection:
        connection.execute(sql)


def _timescaledb_available(url: str) -> bool:
    rows = _query(url, "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    return bool(rows)


@pytest.mark.parametrize(
    ("available", "installed", "hypertable", "plan"),
    [
        (False, False, False, StoragePlan(create_extension=False, make_hypertable=False)),
        (True, False, False, StoragePlan(create_extension=True, make_hypertable=True)),
        (True, True, False, StoragePlan(create_extension=False, make_hypertable=True)),
        # installed but no longer offered (package removed): still usable in this database
        (False, True, False, StoragePlan(create_extension=False, make_hypertable=True)),
        (True, True, True, StoragePlan(create_extension=False, make_hypertable=False)),
    ],
)
def test_plan_storage(
    available: bool, installed: bool, hypertable: bool, plan: StoragePlan
) -> None:
    for exists in (False, True):
        observed = Observed(available, installed, exists or hypertable, hypertable, 1)
        assert plan_storage(observed) == plan


def test_fresh_database_gets_the_tables_once(warm_url: str) -> None:
    store = WarmStore(warm_url)
    expected = "hypertable" if _timescaledb_available(warm_url) else "table"
    assert store.ensure_schema() == expected
    assert store.ensure_schema() == expected  # idempotent
    meta = dict(_query(warm_url, "SELECT key, value FROM market_bars_meta"))
    assert meta == {"schema_version": str(SCHEMA_VERSION), "storage": expected}
    key = _query(
        warm_url,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'market_bars'::regclass "
        "AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
    )
    assert [name for (name,) in key] == ["venue", "symbol", "interval", "ts_ns"]
    types = dict(
        _query(
            warm_url,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'market_bars'",
        )
    )
    assert types["ts_ns"] == "bigint"
    assert {types[c] for c in ("open", "high", "low", "close", "volume")} == {"double precision"}


def test_the_time_view_shows_utc_timestamps(warm_url: str) -> None:
    WarmStore(warm_url).ensure_schema()
    _execute(
        warm_url,
        "INSERT INTO market_bars VALUES ('v', 'S', '1m', 1704067260123456789, 1, 1, 1, 1, 1)",
    )
    (ts,) = _query(warm_url, "SELECT ts::text FROM market_bars_utc")[0]
    assert ts == "2024-01-01 00:01:00.123456+00"


def test_a_schema_of_another_version_is_refused(warm_url: str) -> None:
    store = WarmStore(warm_url)
    store.ensure_schema()
    _execute(warm_url, "UPDATE market_bars_meta SET value = '2' WHERE key = 'schema_version'")
    for call in (store.ensure_schema, lambda: store.scan("v", ["S"], "1m")):
        with pytest.raises(ConfigError, match=r"schema version 2, this algotrade knows version 1"):
            call()


def test_a_foreign_market_bars_table_is_refused(warm_url: str) -> None:
    _execute(warm_url, "CREATE TABLE market_bars (x int)")
    with pytest.raises(ConfigError, match=r"market_bars exists but was not made by algotrade"):
        WarmStore(warm_url).ensure_schema()


def test_extension_offered_but_not_creatable_leaves_a_plain_table_and_says_why(
    warm_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server claims timescaledb (as one whose package is installed but not preloaded
    would); CREATE EXTENSION really fails here, and the schema is created all the same."""
    if _timescaledb_available(warm_url):
        pytest.skip("the server really has timescaledb")
    monkeypatch.setattr(warm_schema, "extension_state", lambda connection: (True, False))
    store = WarmStore(warm_url)
    assert store.ensure_schema() == "table"
    assert store.note is not None
    assert store.note.startswith("timescaledb is available but could not be created (")
    assert _query(warm_url, "SELECT count(*) FROM market_bars") == [(0,)]


STAND_IN = """
DROP SCHEMA IF EXISTS timescaledb_information CASCADE;
CREATE SCHEMA timescaledb_information;
CREATE TABLE timescaledb_information.hypertables (
    hypertable_schema name, hypertable_name name, time_column name, chunk_ns bigint,
    migrate_data boolean, rows_then bigint);
CREATE FUNCTION create_hypertable(
    relation regclass, time_column_name name, chunk_time_interval anyelement DEFAULT NULL,
    if_not_exists boolean DEFAULT false, migrate_data boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE counted bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', relation) INTO counted;
    INSERT INTO timescaledb_information.hypertables
    SELECT n.nspname, c.relname, time_column_name, chunk_time_interval::bigint,
           migrate_data, counted
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relation;
END $$;
"""


@pytest.fixture
def stand_in(warm_url: str, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """TimescaleDB's SQL surface faked in the test database; ``[created]`` tells whether
    "CREATE EXTENSION" happened."""
    if _timescaledb_available(warm_url):
        pytest.skip("the server really has timescaledb")
    _execute(warm_url, STAND_IN)
    created = [False]

    def create(connection: object) -> None:
        created[0] = True

    monkeypatch.setattr(warm_schema, "extension_state", lambda connection: (True, created[0]))
    monkeypatch.setattr(warm_schema, "_create_extension", create)
    return created


def test_hypertable_branch_against_a_stand_in(warm_url: str, stand_in: list[bool]) -> None:
    store = WarmStore(warm_url)
    assert store.ensure_schema() == "hypertable"
    assert stand_in == [True]
    calls = _query(
        warm_url,
        "SELECT hypertable_schema::text, hypertable_name::text, time_column::text, chunk_ns, "
        "migrate_data FROM timescaledb_information.hypertables",
    )
    assert calls == [("public", "market_bars", "ts_ns", 7 * 86_400 * 10**9, True)]
    assert CHUNK_INTERVAL_NS == 7 * 86_400 * 10**9
    # A second run sees the hypertable and creates nothing again.
    assert store.ensure_schema() == "hypertable"
    assert len(_query(warm_url, "SELECT 1 FROM timescaledb_information.hypertables")) == 1
    assert dict(_query(warm_url, "SELECT key, value FROM market_bars_meta"))["storage"] == (
        "hypertable"
    )


def test_a_plain_table_with_bars_is_converted_once_timescaledb_appears(
    warm_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if _timescaledb_available(warm_url):
        pytest.skip("the server really has timescaledb")
    store = WarmStore(warm_url)
    monkeypatch.setattr(warm_schema, "extension_state", lambda connection: (False, False))
    assert store.ensure_schema() == "table"
    _execute(
        warm_url,
        "INSERT INTO market_bars SELECT 'v', 'S', '1m', g * 60000000000, 1, 1, 1, 1, 1 "
        "FROM generate_series(1, 10) g",
    )
    _execute(warm_url, STAND_IN)
    monkeypatch.setattr(warm_schema, "extension_state", lambda connection: (True, True))
    assert store.ensure_schema() == "hypertable"
    rows = _query(
        warm_url, "SELECT migrate_data, rows_then FROM timescaledb_information.hypertables"
    )
    assert rows == [(True, 10)]

"""The shipped Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from store_factories import bot_config, event

from algotrade.store import Store, StoreError
from algotrade.store.engine import MIGRATIONS_DIR, alembic_config, parse_url
from algotrade.store.models import ALL_TABLES, Base
from algotrade.store.tables import EVENTS
from algotrade.store.writes import event_row


def _fresh(url: str) -> None:
    """SQLite URLs are new files already; a PostgreSQL database is emptied completely."""
    if url.startswith("postgresql"):
        from testkit.postgres import reset_schema

        reset_schema(url)


def test_migrations_and_models_agree(store_url: str) -> None:
    _fresh(store_url)
    with Store(store_url):
        pass
    url = parse_url(store_url)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
            current = context.get_current_revision()
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert differences == []
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert current == head == "0004"
    assert tables == {*ALL_TABLES, "alembic_version"}


def test_open_is_idempotent_and_keeps_data(store_url: str) -> None:
    with Store(store_url) as store:
        store.insert_bot({"bot_id": "b1"})
        store.open()  # already open: nothing happens
    with Store(store_url) as store:  # migrations at head: nothing to do, data intact
        assert store.count_bots() == 1


def test_downgrade_to_base_and_back(store_url: str) -> None:
    _fresh(store_url)
    url = parse_url(store_url)
    with Store(store_url):
        pass
    engine = create_engine(url)
    try:
        config = alembic_config(url)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    with Store(store_url) as store:
        assert store.count_bots() == 0


def test_a_newer_schema_than_this_code_is_refused(store_url: str) -> None:
    with Store(store_url):
        pass
    engine = create_engine(parse_url(store_url))
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    finally:
        engine.dispose()
    try:
        with pytest.raises(StoreError, match="9999"):
            Store(store_url).open()
    finally:
        url = parse_url(store_url)
        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        engine = create_engine(url)
        with engine.begin() as connection:  # leave the database usable for the next test
            connection.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{head}'")
        engine.dispose()


def test_migration_files_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0002_risk.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0003_research.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0004_event_log_bot_fk.py").is_file()
    # Packages (with __init__.py), so setuptools installs env.py and the revisions.
    assert (MIGRATIONS_DIR / "__init__.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "__init__.py").is_file()


def test_0004_drops_the_lines_of_deleted_bots_and_ties_the_rest_to_their_bot(
    store_url: str,
) -> None:
    # Before 0004 a bot's event log outlived it and showed on the next bot of that id.
    _fresh(store_url)
    url = parse_url(store_url)
    with Store(store_url) as store:
        store.insert_bot(bot_config("kept"))
    engine = create_engine(url)
    try:
        config = alembic_config(url)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0003")
            # What a 0003 daemon left: lines of a bot deleted since, and a daemon line.
            lines = [event("kept"), event("gone"), event(None, "reloaded")]
            connection.execute(EVENTS.insert(), [event_row(line) for line in lines])
    finally:
        engine.dispose()

    with Store(store_url) as store:  # upgraded to head on open
        assert store.events("gone").total == 0
        assert [e.bot_id for e in store.events(None).items] == ["kept", None]
        store.delete_bot("kept")
        assert [e.message for e in store.events(None).items] == ["reloaded"]

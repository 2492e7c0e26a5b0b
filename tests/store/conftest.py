"""Every store test runs on SQLite (a file under tmp_path) and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from algotrade.store import Store
from algotrade.store.models import ALL_TABLES


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty, migrated database's URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('store') / 'algotrade.db'}"
    # Only the PostgreSQL half asks for the server, so a missing one skips only that half.
    url: str = request.getfixturevalue("pg_url")
    from testkit.postgres import truncate_tables

    with Store(url):  # migrate (first test of the session) so the tables exist to be emptied
        pass
    truncate_tables(url, ALL_TABLES)
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store(store_url) as opened:
        yield opened

"""PostgreSQL for the warm-tier tests: one throwaway database per test module, emptied
before each test (skipped without a server, failed under CI: testkit.postgres)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from algotrade.data.catalog import Catalog


@pytest.fixture(scope="module")
def warm_database() -> Iterator[str]:
    from testkit.postgres import temporary_database

    with temporary_database() as url:
        yield url


@pytest.fixture
def warm_url(warm_database: str) -> str:
    """A database with nothing in it (the previous test's tables dropped)."""
    from testkit.postgres import reset_schema

    reset_schema(warm_database)
    return warm_database


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog.for_data_dir(tmp_path)

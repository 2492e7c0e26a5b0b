"""PostgreSQL for the warm-tier tests: the session's market database (tests/conftest.py),
emptied before each test (skipped without a server, failed under CI: testkit.postgres)."""

from __future__ import annotations

from pathlib import Path

import pytest

from algotrade.data.catalog import Catalog


@pytest.fixture
def warm_url(market_pg_url: str) -> str:
    """A database with nothing in it (the previous test's tables dropped)."""
    return market_pg_url


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog.for_data_dir(tmp_path)

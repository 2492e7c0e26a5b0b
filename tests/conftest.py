"""Shared fixtures: paths to the reference data (optional) and bar builders."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The reference OHLCV folder beside the repo; skip when this checkout has none."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data folder {SHARED_DATA} is absent")
    return SHARED_DATA


# PostgreSQL for the store tests: one throwaway database per test session (testkit/postgres.py).
from collections.abc import Iterator  # noqa: E402


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database, dropped at session end; skips (fails under CI)
    when no server can be reached or started."""
    from testkit.postgres import temporary_database

    with temporary_database() as url:
        yield url


@pytest.fixture(scope="session")
def _market_database() -> Iterator[str]:
    from testkit.postgres import temporary_database

    with temporary_database() as url:
        yield url


@pytest.fixture
def market_pg_url(_market_database: str) -> str:
    """An empty PostgreSQL database for the warm tier (market_bars …), apart from the store
    tests' database (``pg_url``): the store refuses a database holding tables not its own."""
    from testkit.postgres import reset_schema

    reset_schema(_market_database)
    return _market_database


# The longest tests first. pytest-xdist hands tests out in collection order, so a soak of a
# minute or two collected in the middle can still be running on one worker after the other
# worker ran out of tests; started first, the short tests fill in around them. (Not
# ``--dist worksteal``: it ran asyncio tests after the browser tests on one worker. tests/web
# stays last: its Playwright browser leaves an event loop running on its worker.)
LONGEST_FIRST = (
    "tests/daemon/test_crash_soak.py",
    "tests/daemon/test_hyperliquid_crash_soak.py",
    "tests/venues/ccxt/test_bybit_crash_soak.py",
    "tests/daemon/workers/test_workers_crash_soak.py",
    "tests/daemon/test_daemon_openapi_fuzz.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: every other test keeps its place

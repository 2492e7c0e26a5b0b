"""Fixtures of the ProjectX venue tests: one fake gateway per module, and a fresh account on
it for each test (a module may define its own ``venue``/``account`` instead)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from projectx_bot_kit import KEY, USER

from testkit.fake_projectx import FakeProjectX


@pytest.fixture(scope="module")
def venue() -> Iterator[FakeProjectX]:
    with FakeProjectX(keepalive_s=1.0) as fake:
        yield fake


@pytest.fixture
def account(venue: FakeProjectX) -> int:
    venue.reset()
    venue.add_user(USER, KEY)
    return venue.add_account(USER, "TEST_ACCOUNT_1", balance=50_000)

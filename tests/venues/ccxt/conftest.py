"""Fixtures of the ccxt (Bybit) venue tests: a fake Bybit, an account on it with the
credentials in the environment, and the venue connected to it in process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from bybit_harness import ENV, KEY, SECRET, Owner, Sink, connect

from algotrade.venues.ccxt.connection import CcxtConnection
from testkit.fake_bybit import FakeBybit


@pytest.fixture
def fake() -> Iterator[FakeBybit]:
    with FakeBybit() as venue:
        yield venue


@pytest.fixture
def uid(fake: FakeBybit, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return fake.add_account(KEY, SECRET, balance=100_000)


@pytest.fixture
async def setup(fake: FakeBybit, uid: str) -> AsyncIterator[tuple[CcxtConnection, Sink, Owner]]:
    sink = Sink()
    owner = Owner([sink])
    connection = await connect(fake, owner)
    try:
        yield connection, sink, owner
    finally:
        await connection.stop()

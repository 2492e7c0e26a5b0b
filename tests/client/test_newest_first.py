"""Pages counted from the newest record (the API pages oldest first), both clients."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from algotrade.client import AlgoTradeClient, AsyncAlgoTradeClient
from testkit.api_harness import ADMIN_KEY, ServerThread
from testkit.fake_bot_service import FakeBotService

RECORDS = 7


@pytest.fixture
def recorded(server: ServerThread, service: FakeBotService) -> ServerThread:
    def record() -> None:
        for i in range(RECORDS):
            service.add_order("alpha", {"id": i})
            service.add_fill("alpha", {"id": i})
            service.add_equity("alpha", {"id": i})

    server.call(record)
    return server


def ids(page: dict[str, Any]) -> list[int]:
    return [item["id"] for item in page["items"]]


@pytest.mark.parametrize(
    ("offset", "limit", "expected"),
    [
        (0, 3, [6, 5, 4]),  # the newest three
        (3, 3, [3, 2, 1]),  # the next page
        (6, 3, [0]),  # the oldest, a short page
        (7, 3, []),  # past the oldest
        (0, 100, [6, 5, 4, 3, 2, 1, 0]),  # everything
        (0, 1, [6]),
    ],
)
def test_newest_first_pages(
    recorded: ServerThread, offset: int, limit: int, expected: list[int]
) -> None:
    with AlgoTradeClient(recorded.base_url, ADMIN_KEY) as client:
        for read in (client.orders, client.fills, client.equity):
            page = read("alpha", offset, limit, newest_first=True)
            assert ids(page) == expected
            assert page | {"items": None} == {
                "items": None,
                "total": RECORDS,
                "offset": offset,
                "limit": limit,
                "order": "desc",
            }
        # Oldest first, as the API serves it, unless asked otherwise.
        assert ids(client.orders("alpha", 0, 3)) == [0, 1, 2]


def test_newest_first_of_a_bot_without_records(server: ServerThread) -> None:
    with AlgoTradeClient(server.base_url, ADMIN_KEY) as client:
        page = client.fills("alpha", 0, 10, newest_first=True)
    assert (page["items"], page["total"]) == ([], 0)


def test_the_async_client_pages_alike(recorded: ServerThread) -> None:
    async def read() -> list[list[int]]:
        async with AsyncAlgoTradeClient(recorded.base_url, ADMIN_KEY) as client:
            return [
                ids(await client.orders("alpha", 2, 2, newest_first=True)),
                ids(await client.fills("alpha", 0, 3, newest_first=True)),
                ids(await client.equity("alpha", 5, 5, newest_first=True)),
                ids(await client.orders("alpha", 0, 2)),
            ]

    assert asyncio.run(read()) == [[4, 3], [6, 5, 4], [1, 0], [0, 1]]

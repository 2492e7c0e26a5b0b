"""``QueuedHttpClient``: at most ``max_in_flight`` requests outstanding, the rest sent in their
turn (first come, first served); one that waits in vain says so, and a full connection pool
is never told as a failure to connect. The venue is a handler held by an event."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from algotrade.venues.live.http_queue import QueuedHttpClient, RequestNotSent, RequestQueueSettings


class HeldVenue:
    """Answers every request once ``release`` is set; records what it got, in order."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.received: list[int] = []
        self.outstanding = 0
        self.most_outstanding = 0

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.received.append(json.loads(request.content)["n"])
        self.outstanding += 1
        self.most_outstanding = max(self.most_outstanding, self.outstanding)
        try:
            await self.release.wait()
        finally:
            self.outstanding -= 1
        return httpx.Response(200, json={"ok": True})


def queued_client(venue: HeldVenue, **settings: float) -> QueuedHttpClient:
    return QueuedHttpClient(
        "http://venue.test",
        RequestQueueSettings.model_validate(settings),
        timeout_s=30,
        headers={},
        transport=httpx.MockTransport(venue.handler),
    )


async def until(condition: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(10):
            while not condition():
                await asyncio.sleep(0)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_requests_beyond_the_slots_wait_their_turn_and_all_are_sent() -> None:
    venue = HeldVenue()
    client = queued_client(venue, max_in_flight=4)
    posts = [asyncio.ensure_future(client.post("/x", json={"n": n})) for n in range(20)]
    await until(lambda: client.waiting == 16, "16 requests waiting for a slot")
    assert (venue.received, client.in_flight, client.queued) == ([0, 1, 2, 3], 4, 16)

    venue.release.set()
    replies = await asyncio.gather(*posts)

    assert [r.status_code for r in replies] == [200] * 20
    assert venue.received == list(range(20))  # in the order asked
    assert venue.most_outstanding == 4
    assert (client.in_flight, client.waiting, client.not_sent) == (0, 0, 0)
    await client.aclose()


async def test_a_request_that_waits_in_vain_says_so_and_was_never_sent() -> None:
    venue = HeldVenue()
    client = queued_client(venue, max_in_flight=2, queue_timeout_s=0.01)
    posts = [asyncio.ensure_future(client.post("/x", json={"n": n})) for n in range(3)]

    done, _ = await asyncio.wait(posts, return_when=asyncio.FIRST_COMPLETED)

    assert done == {posts[2]}
    with pytest.raises(RequestNotSent) as failure:
        posts[2].result()
    assert str(failure.value) == (
        "not sent: waited 0.01 s for its turn: 2 requests in flight (at most 2 at once), "
        "0 more waiting; the venue is answering slowly or too much is asked of it at once"
    )
    assert venue.received == [0, 1]
    venue.release.set()
    assert [r.status_code for r in await asyncio.gather(*posts[:2])] == [200, 200]
    assert client.not_sent == 1
    await client.aclose()


async def test_a_full_connection_pool_is_not_a_failure_to_connect() -> None:
    def pool_full(request: httpx.Request) -> httpx.Response:
        raise httpx.PoolTimeout("timed out", request=request)

    client = QueuedHttpClient(
        "http://venue.test",
        RequestQueueSettings(),
        timeout_s=1,
        headers={},
        transport=httpx.MockTransport(pool_full),
    )
    with pytest.raises(RequestNotSent, match=r"^not sent: no free connection in the pool "):
        await client.post("/x", json={})
    assert client.in_flight == 0
    await client.aclose()


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        RequestQueueSettings(max_in_flight=0)
    with pytest.raises(ValueError, match="queue_timeout_s"):
        RequestQueueSettings(queue_timeout_s=0)

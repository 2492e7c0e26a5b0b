"""The ProjectX gateway client's request queue (shared with Hyperliquid: venues/live/http_queue)
over real HTTP to the fake gateway, whose replies the test holds: requests beyond
``max_in_flight`` wait their turn; one that waits in vain says so and was never sent."""

from __future__ import annotations

import asyncio

import pytest
from projectx_bot_kit import KEY, USER

from algotrade.venues.projectx.config import ProjectXConfig, ProjectXCredentials
from algotrade.venues.projectx.errors import ProjectXRequestFailed
from algotrade.venues.projectx.transport import GatewayTransport, Kind
from testkit.fake_projectx import FakeProjectX

SEARCH = "/api/Account/search"


async def test_requests_wait_their_turn_and_one_waiting_in_vain_says_so(
    venue: FakeProjectX, account: int
) -> None:
    config = ProjectXConfig(api_url=venue.base_url, max_in_flight=2, queue_timeout_s=0.05)
    transport = GatewayTransport(config, ProjectXCredentials(USER, KEY))
    async with transport:
        await transport.token()  # logged in before the gateway is held
        venue.hold_replies()
        try:
            searches = [
                asyncio.ensure_future(
                    transport.call(SEARCH, {"onlyActiveAccounts": True}, kind=Kind.READ)
                )
                for _ in range(3)
            ]
            done, _ = await asyncio.wait(searches, return_when=asyncio.FIRST_COMPLETED)
            assert done == {searches[2]}
            assert venue.held == 2
        finally:
            venue.release_replies()
        replies = await asyncio.gather(*searches[:2])

    with pytest.raises(ProjectXRequestFailed) as failure:
        searches[2].result()
    assert str(failure.value) == (
        f"{SEARCH}: not sent: waited 0.05 s for its turn: 2 requests in flight (at most 2 at "
        "once), 0 more waiting; the venue is answering slowly or too much is asked of it at once"
    )
    assert [[a["id"] for a in r["accounts"]] for r in replies] == [[account], [account]]

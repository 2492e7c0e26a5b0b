"""Many orders at once on a Hyperliquid that answers slowly: over real HTTP to the fake venue,
whose replies the test holds and releases (no clock decides anything here).

httpx's pool (100 connections) used to time out the requests queued behind the slow ones
(``httpx.PoolTimeout``), reported as "cannot connect to ..." although the venue was reachable;
now at most ``max_in_flight`` requests are on the wire and the rest wait their turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account

from algotrade.venues.hyperliquid.config import HlCredentials, HlNetwork, HyperliquidConfig
from algotrade.venues.hyperliquid.errors import HlRequestFailed, HlRequestTimeout
from algotrade.venues.hyperliquid.exchange import ExchangeClient, OrderSpec, cloid_for
from algotrade.venues.hyperliquid.http import HlHttp
from algotrade.venues.hyperliquid.info import InfoClient
from algotrade.venues.hyperliquid.schemas import PlacedOrder
from testkit.fake_hyperliquid import FakeHyperliquid

MORE_THAN_THE_OLD_POOL = 110  # httpx's default pool: 100 connections
Trader = tuple[FakeHyperliquid, tuple[Any, Any]]  # the venue; the account and its API wallet


@pytest.fixture(scope="module")
def venue() -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid() as fake:
        yield fake


@pytest.fixture
async def trader(venue: FakeHyperliquid) -> AsyncIterator[Trader]:
    venue.reset()
    user, agent = Account.create(), Account.create()
    venue.add_account(user.address, [agent.address], balance=10_000_000)
    try:
        yield venue, (user, agent)
    finally:
        venue.release_replies()


async def exchange(
    venue: FakeHyperliquid, keys: tuple[Any, Any], http: HlHttp, config: HyperliquidConfig
) -> ExchangeClient:
    assets = await InfoClient(http).assets()  # before the venue is held
    user, agent = keys
    credentials = HlCredentials(str(user.address).lower(), agent.key.hex())
    return ExchangeClient(http, credentials, config, assets)


def config_for(venue: FakeHyperliquid, **fields: object) -> HyperliquidConfig:
    return HyperliquidConfig.model_validate(
        {"network": HlNetwork.TESTNET, "api_url": venue.base_url, "max_retries": 0, **fields}
    )


async def place(client: ExchangeClient, n: int) -> PlacedOrder:
    price, size = Decimal(60_000), Decimal("0.001")
    spec = OrderSpec(coin="BTC", is_buy=True, size=size, limit_px=price, cloid=cloid_for(f"b-{n}"))
    [placed] = await client.place_orders([spec])
    return placed


async def test_orders_behind_slow_replies_wait_their_turn_instead_of_failing_to_connect(
    trader: Trader,
) -> None:
    # The venue answers slowly: each reply's status at once, its body when the test releases
    # it (a blank every 50 ms meanwhile, so no read timeout ends the wait). The orders behind
    # httpx's 100 connections waited request_timeout_s for one and failed with "cannot connect
    # to .../exchange" (httpx.PoolTimeout); now they wait their turn and all are sent.
    venue, keys = trader
    config = config_for(venue, request_timeout_s=1)
    async with HlHttp(config) as http:
        client = await exchange(venue, keys, http, config)
        venue.hold_replies(trickle_s=0.05)
        orders = [asyncio.ensure_future(place(client, n)) for n in range(MORE_THAN_THE_OLD_POOL)]
        # Time for the old pool's timeout to end the waits behind it (nothing is asserted
        # about time: an order that ends meanwhile ends this wait).
        await asyncio.wait(orders, timeout=3 * config.request_timeout_s)
        held = venue.held
        venue.release_replies()
        outcomes = await asyncio.gather(*orders, return_exceptions=True)

    assert [str(o) for o in outcomes if isinstance(o, BaseException)] == []
    assert held == config.max_in_flight  # the rest waited on our side, unsent
    assert {o.kind for o in outcomes if isinstance(o, PlacedOrder)} == {"resting"}
    assert venue.request_count("/exchange", "order") == MORE_THAN_THE_OLD_POOL


async def test_an_order_that_cannot_be_sent_in_time_says_why(
    trader: Trader,
) -> None:
    venue, keys = trader
    config = config_for(venue, max_in_flight=2, queue_timeout_s=0.05)
    async with HlHttp(config) as http:
        client = await exchange(venue, keys, http, config)
        venue.hold_replies()
        orders = [asyncio.ensure_future(place(client, n)) for n in range(3)]
        done, _ = await asyncio.wait(orders, return_when=asyncio.FIRST_COMPLETED)
        assert done == {orders[2]}
        with pytest.raises(HlRequestFailed) as failure:
            orders[2].result()
        venue.release_replies()
        placed = await asyncio.gather(*orders[:2])

    assert not isinstance(failure.value, HlRequestTimeout)  # never sent: nothing to look up
    assert str(failure.value) == (
        "exchange:order: not sent: waited 0.05 s for its turn: 2 requests in flight (at most 2 "
        "at once), 0 more waiting; the venue is answering slowly or too much is asked of it at "
        "once"
    )
    assert [p.kind for p in placed] == ["resting", "resting"]
    assert venue.request_count("/exchange", "order") == 2

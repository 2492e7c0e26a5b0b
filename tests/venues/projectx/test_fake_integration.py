"""ProjectX client against the local fake gateway (tests/testkit/fake_projectx): REST, the user
hub fed by the fake's "human trader", dropped hubs, and tokens expiring mid-session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from algotrade.venues.projectx.config import ProjectXConfig, ProjectXCredentials
from algotrade.venues.projectx.http import ProjectXHttp
from algotrade.venues.projectx.realtime import MarketHub, UserHub
from algotrade.venues.projectx.schemas import Order, OrderSide, OrderStatus, OrderType, Quote
from algotrade.venues.projectx.transport import GatewayTransport
from testkit.fake_projectx import FakeProjectX

ES = "CON.F.US.EP.Z25"


@pytest.fixture(scope="module")
def venue() -> Iterator[FakeProjectX]:
    with FakeProjectX(keepalive_s=1.0) as fake:
        yield fake


@pytest.fixture
def account(venue: FakeProjectX) -> int:
    venue.reset()
    venue.add_user("trader", "key-123")
    return venue.add_account("trader", "TEST_ACCOUNT_1", balance=50_000)


def client(venue: FakeProjectX) -> tuple[ProjectXConfig, GatewayTransport, ProjectXHttp]:
    config = ProjectXConfig(
        api_url=venue.base_url,
        user_hub_url=f"{venue.rtc_url}/hubs/user",
        market_hub_url=f"{venue.rtc_url}/hubs/market",
        reconnect_min_s=0.05,
        reconnect_max_s=0.2,
    )
    transport = GatewayTransport(config, ProjectXCredentials("trader", "key-123"))
    return config, transport, ProjectXHttp(transport)


async def until(check: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def test_login_contracts_and_order_lifecycle(venue: FakeProjectX, account: int) -> None:
    _, _, http = client(venue)
    async with http:
        accounts = await http.search_accounts()
        assert [a.id for a in accounts] == [account]
        contracts = await http.search_contracts("EP")
        es = next(c for c in contracts if c.id == ES)
        assert es.tick_size == Decimal("0.25")
        assert es.tick_value == Decimal("12.50")
        assert (await http.contract_by_id(ES)).point_value == Decimal(50)
        order_id = await http.place_order(
            account_id=account,
            contract_id=ES,
            type=OrderType.LIMIT,
            side=OrderSide.BID,
            size=1,
            limit_price=Decimal("5990.00"),
            custom_tag="cid-1",
        )
        await http.modify_order(account_id=account, order_id=order_id, limit_price=Decimal("5980"))
        open_orders = await http.search_open_orders(account_id=account)
        assert [(o.id, o.limit_price, o.custom_tag) for o in open_orders] == [
            (order_id, Decimal("5980"), "cid-1")
        ]
        await http.cancel_order(account_id=account, order_id=order_id)
        assert await http.search_open_orders(account_id=account) == []


async def test_user_hub_delivers_a_human_order_and_its_fill(
    venue: FakeProjectX, account: int
) -> None:
    config, transport, http = client(venue)
    orders: list[Order] = []
    async with http:
        hub = UserHub(config, transport, account_ids=[account], on_order=orders.append)
        hub.start()
        try:
            await hub.wait_connected(5)
            await until(lambda: len(venue.hub_subscriptions("user")) >= 3, "subscriptions")
            order_id = venue.web.place_order(account, ES, "market", "buy", 1)
            await until(
                lambda: any(o.id == order_id and o.status is OrderStatus.FILLED for o in orders),
                "the human's filled order on the user hub",
            )
            positions = await http.search_open_positions(account_id=account)
            assert [(p.contract_id, p.signed_size) for p in positions] == [(ES, 1)]
        finally:
            await hub.stop()


async def test_dropped_hub_reconnects_resubscribes_and_asks_for_resync(
    venue: FakeProjectX, account: int
) -> None:
    config, transport, http = client(venue)
    orders: list[Order] = []
    resyncs: list[int] = []

    async def resync() -> None:
        resyncs.append(len(orders))

    async with http:
        hub = UserHub(
            config, transport, account_ids=[account], on_order=orders.append, on_resync=resync
        )
        hub.start()
        try:
            await hub.wait_connected(5)
            assert venue.drop_connections("user") == 1
            await until(lambda: resyncs != [], "the resync after a reconnect")
            await until(lambda: len(venue.hub_subscriptions("user")) >= 3, "resubscription")
            subscribes = [t for t, _ in venue.hub_invocations("user") if t == "SubscribeOrders"]
            assert len(subscribes) == 2
            order_id = venue.web.place_order(account, ES, "limit", "buy", 1, limit_price=5900)
            await until(lambda: any(o.id == order_id for o in orders), "an event after reconnect")
            assert hub.connection.connects == 2
        finally:
            await hub.stop()


async def test_token_expiry_mid_session_is_renewed_without_losing_events(
    venue: FakeProjectX, account: int
) -> None:
    config, transport, http = client(venue)
    orders: list[Order] = []
    quotes: list[Quote] = []
    async with http:
        user = UserHub(config, transport, account_ids=[account], on_order=orders.append)
        market = MarketHub(config, transport, on_quote=quotes.append)
        user.start()
        market.start()
        await market.subscribe_quotes(ES)
        try:
            await user.wait_connected(5)
            await market.wait_connected(5)
            first_token = await transport.token()
            venue.expire_tokens()
            # REST: the 401 is answered by Auth/validate and the call retried once.
            assert await http.search_open_orders(account_id=account) == []
            assert transport.renewals == 1
            assert await transport.token() != first_token
            # Hubs: a drop now must reconnect with the new token (the old one is refused).
            venue.drop_connections()
            order_id = venue.web.place_order(account, ES, "limit", "buy", 2, limit_price=5900)
            await until(lambda: user.connection.connects == 2, "user hub reconnect")
            await until(lambda: market.connection.connects == 2, "market hub reconnect")
            # The order placed while we were away is found by the gap fill over REST ...
            missed = await http.search_open_orders(account_id=account)
            assert [o.id for o in missed] == [order_id]
            # ... and later events flow on the new connections.
            venue.web.modify_order(account, order_id, limit_price=5905)
            await until(
                lambda: any(o.id == order_id and o.limit_price == Decimal(5905) for o in orders),
                "the modify on the renewed user hub",
            )
            venue.set_price(ES, "6001.25")
            await until(lambda: any(q.last_price == Decimal("6001.25") for q in quotes), "quote")
            assert transport.logins == 1  # renewed with validate, never a second loginKey
        finally:
            await user.stop()
            await market.stop()

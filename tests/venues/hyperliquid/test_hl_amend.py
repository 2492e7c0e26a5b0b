"""Amending orders on Hyperliquid (the ``modify`` exchange action, a cancel-replace at the
venue) through the engine, against the fake venue: the wire body per the exchange-endpoint
docs, the outcome events, the old oid's cancel never ending the order, refusals, and an
amended order adopted after a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account

from algotrade.core.engine import Engine
from algotrade.core.events import OrderAmended, OrderAmendRejected, OrderEvent, OrderSide
from algotrade.core.instruments import InstrumentRegistry
from algotrade.core.orders import Order, OrderRequest, OrderStatus, OrderType, TimeInForce
from algotrade.core.portfolio import Portfolio
from algotrade.core.strategy import Strategy
from algotrade.venues.hyperliquid.account import HyperliquidAccount
from algotrade.venues.hyperliquid.config import HlCredentials, HlNetwork, HyperliquidConfig
from algotrade.venues.hyperliquid.exchange import cloid_for
from testkit.fake_hyperliquid import FakeHyperliquid

D = Decimal


class Owner:
    def __init__(self) -> None:
        self.blocked: dict[str, str | None] = {}
        self.alerts: list[str] = []
        self.positions: dict[str, Decimal] = {}

    def local_positions(self) -> dict[str, Decimal]:
        return dict(self.positions)

    def set_blocked(self, coin: str, reason: str | None) -> None:
        self.blocked[coin] = reason

    def alert(self, message: str) -> None:
        self.alerts.append(message)

    def connection_changed(self, connected: bool, reason: str) -> None:
        pass


class Recorder(Strategy):
    name = "hl-amend-recorder"

    def __init__(self) -> None:
        super().__init__()
        self.events: list[OrderEvent] = []

    def on_order(self, event: OrderEvent) -> None:
        self.events.append(event)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid() as server:
        yield server


@pytest.fixture
def owner() -> Owner:
    return Owner()


@pytest.fixture
async def account(fake: FakeHyperliquid, owner: Owner) -> AsyncIterator[HyperliquidAccount]:
    fake.reset()
    user, agent = Account.create(), Account.create()
    fake.add_account(user.address, [agent.address], balance=100_000)
    config = HyperliquidConfig(
        network=HlNetwork.TESTNET,
        api_url=fake.base_url,
        request_timeout_s=2,
        reconcile_interval_s=0,
        reconnect_min_s=0.05,
        reconnect_max_s=0.1,
        max_retries=1,
    )
    adapter = HyperliquidAccount(
        config, HlCredentials(str(user.address).lower(), agent.key.hex()), owner
    )
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


def bot(account: HyperliquidAccount, owner: Owner) -> tuple[Engine, Recorder]:
    registry = InstrumentRegistry({i.symbol: i for i in account.instruments()})
    strategy = Recorder()
    engine = Engine(
        strategy,
        account.venue("bot"),
        portfolio=Portfolio(D(100_000), registry),
        instruments=registry,
    )
    engine.start()
    return engine, strategy


async def until(condition: Callable[[], Any], what: str, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)
    assert condition(), what


def limit(px: str, qty: str, tif: TimeInForce = TimeInForce.GTC) -> OrderRequest:
    return OrderRequest("BTC", OrderSide.BUY, D(qty), OrderType.LIMIT, limit_price=D(px), tif=tif)


async def resting(engine: Engine, request: OrderRequest) -> Order:
    coid = engine.submit_order(request)
    assert coid is not None
    order = engine.orders[coid]
    await until(lambda: order.status is OrderStatus.ACCEPTED, "resting")
    return order


def user_of(account: HyperliquidAccount) -> str:
    assert account.credentials is not None
    return account.credentials.account_address


def modifies(fake: FakeHyperliquid) -> list[dict[str, Any]]:
    return [a["action"] for a in fake.actions if a["action"]["type"] == "modify"]


async def test_amend_sends_modify_per_docs_and_the_old_oid_cancel_does_not_end_it(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    engine, strategy = bot(account, owner)
    order = await resting(engine, limit("60000", "0.001"))
    old_oid = int(order.venue_order_id)
    cloid = cloid_for(order.client_order_id)

    engine.amend_order(order.client_order_id, qty="0.002", price=61000)
    await until(lambda: order.request.limit_price == D(61000), "amended")

    # The documented body: {"type": "modify", "oid": <oid or cloid>, "order": <full order>}.
    assert modifies(fake) == [
        {
            "type": "modify",
            "oid": cloid,
            "order": {
                "a": 0,
                "b": True,
                "p": "61000",
                "s": "0.002",
                "r": False,
                "t": {"limit": {"tif": "Gtc"}},
                "c": cloid,
            },
        }
    ]
    amended = [e for e in strategy.events if isinstance(e, OrderAmended)]
    assert [(e.qty, e.limit_price, e.stop_price) for e in amended] == [(D("0.002"), D(61000), None)]
    assert order.qty == D("0.002")
    # At the venue: a new oid rests, the old one was cancelled (cancel-replace).
    [listed] = fake.open_orders(user_of(account))
    assert listed["cloid"] == cloid
    assert (D(listed["limitPx"]), D(listed["sz"])) == (D(61000), D("0.002"))
    assert listed["oid"] != old_oid
    assert fake.order_status(old_oid) == "canceled"
    # ... which never reaches the order as a cancellation, even after a reconciliation.
    await account.reconcile("test")
    assert order.status is OrderStatus.ACCEPTED
    assert owner.blocked == {}

    # The replacement fills (routed by cloid and by its new oid) for the amended size.
    fake.set_mid("BTC", D(60_900))
    await until(lambda: order.status is OrderStatus.FILLED, "filled")
    assert engine.position("BTC") == D("0.002")
    assert order.avg_fill_price == D(61000)


async def test_a_stop_order_moves_its_trigger(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    engine, _ = bot(account, owner)
    stop = OrderRequest("BTC", OrderSide.BUY, D("0.001"), OrderType.STOP, stop_price=D(70000))
    order = await resting(engine, stop)
    engine.amend_order(order.client_order_id, stop_price=66000)
    await until(lambda: order.request.stop_price == D(66000), "amended")
    [action] = modifies(fake)
    trigger = action["order"]["t"]["trigger"]
    assert (trigger["triggerPx"], trigger["isMarket"], trigger["tpsl"]) == ("66000", True, "sl")
    fake.set_mid("BTC", D(66_500))
    await until(lambda: order.status is OrderStatus.FILLED, "triggered and filled")


async def test_a_local_rule_refuses_the_amendment_before_sending(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    engine, strategy = bot(account, owner)
    order = await resting(engine, limit("60000", "0.001"))
    engine.amend_order(order.client_order_id, price="60000.5")  # 6 significant figures
    await until(lambda: any(isinstance(e, OrderAmendRejected) for e in strategy.events), "refused")
    [rejected] = [e for e in strategy.events if isinstance(e, OrderAmendRejected)]
    assert "significant" in rejected.reason
    assert modifies(fake) == []
    assert order.is_open
    assert order.request.limit_price == D(60000)


async def test_the_venue_refusing_a_filled_order_is_reported_and_the_fill_found(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    engine, strategy = bot(account, owner)
    order = await resting(engine, limit("60000", "0.001"))
    fake.ws_silence()  # the fill below is not pushed: the bot amends an order already filled
    fake.set_mid("BTC", D(59_000))
    engine.amend_order(order.client_order_id, price=59000)
    await until(lambda: order.status is OrderStatus.FILLED, "the look-up found the fill", 10)
    [rejected] = [e for e in strategy.events if isinstance(e, OrderAmendRejected)]
    assert "Cannot modify canceled or filled order" in rejected.reason
    assert order.request.limit_price == D(60000)
    assert engine.position("BTC") == D("0.001")
    fake.ws_silence(False)


async def test_a_replacement_that_fails_to_place_leaves_the_order_cancelled(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    engine, strategy = bot(account, owner)
    order = await resting(engine, limit("60000", "0.001", TimeInForce.POST_ONLY))
    engine.amend_order(order.client_order_id, price=66000)  # a post-only crossing the book
    await until(lambda: order.status is OrderStatus.CANCELLED, "cancelled")
    [rejected] = [e for e in strategy.events if isinstance(e, OrderAmendRejected)]
    assert "Error placing new order during modify" in rejected.reason
    assert fake.open_orders(user_of(account)) == []
    assert engine.open_orders() == []


async def test_a_second_amendment_while_one_is_in_flight_is_refused(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    engine, strategy = bot(account, owner)
    order = await resting(engine, limit("60000", "0.001"))
    fake.delay_next_exchange(0.3)
    engine.amend_order(order.client_order_id, price=60100)
    engine.amend_order(order.client_order_id, price=60200)
    await until(lambda: order.request.limit_price == D(60100), "first amendment applied")
    [rejected] = [e for e in strategy.events if isinstance(e, OrderAmendRejected)]
    assert "still in flight" in rejected.reason
    assert len(modifies(fake)) == 1


async def test_an_amended_order_adopted_after_a_restart_takes_its_new_oid(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    first, _ = bot(account, owner)
    order = await resting(first, limit("60000", "0.001"))
    old_venue_id = order.venue_order_id
    first.amend_order(order.client_order_id, qty="0.003", price=60500)
    await until(lambda: order.qty == D("0.003"), "amended")
    await account.stop()

    again = HyperliquidAccount(account.config, account.credentials, Owner())
    await again.start()
    try:
        engine, _ = bot(again, Owner())
        # As the daemon restores it: the stored (amended) request, the old venue id.
        stored = Order(order.client_order_id, order.request, created_ts=0)
        stored.venue_order_id = old_venue_id
        engine.adopt_open_order(stored)
        await until(lambda: stored.status is OrderStatus.ACCEPTED, "adopted")
        assert stored.venue_order_id != old_venue_id  # the replacement's oid
        fake.set_mid("BTC", D(60_400))
        await until(lambda: stored.status is OrderStatus.FILLED, "filled")
        assert engine.position("BTC") == D("0.003")
    finally:
        await again.stop()

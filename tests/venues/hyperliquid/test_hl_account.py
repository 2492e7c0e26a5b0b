"""The account adapter and one bot's venue against the fake Hyperliquid server (no daemon):
order outcomes, cancels, local rejections, foreign orders and fills, blocking, connection
status and malformed pushes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account

from algotrade.core.engine import Engine
from algotrade.core.events import OrderSide
from algotrade.core.instruments import InstrumentRegistry
from algotrade.core.orders import Order, OrderRequest, OrderStatus, OrderType, TimeInForce
from algotrade.core.portfolio import Portfolio
from algotrade.core.strategy import Strategy
from algotrade.venues.hyperliquid import account as account_module
from algotrade.venues.hyperliquid.account import HyperliquidAccount
from algotrade.venues.hyperliquid.config import HlCredentials, HlNetwork, HyperliquidConfig
from algotrade.venues.hyperliquid.exchange import cloid_for
from algotrade.venues.hyperliquid.execution import HyperliquidVenue
from algotrade.venues.hyperliquid.schemas import Fill, OrderUpdate
from algotrade.venues.live.reconciliation import RESUME_WINDOW_MS
from testkit.fake_hyperliquid import VENUE_GREETING, FakeHyperliquid

D = Decimal


class Owner:
    def __init__(self) -> None:
        self.portfolios: list[Portfolio] = []
        self.blocked: dict[str, str | None] = {}
        self.alerts: list[str] = []
        self.connection: list[bool] = []

    def local_positions(self) -> dict[str, Decimal]:
        total: dict[str, Decimal] = {}
        for portfolio in self.portfolios:
            for symbol, position in portfolio.positions.items():
                if position.qty:
                    total[symbol] = total.get(symbol, D(0)) + position.qty
        return total

    def set_blocked(self, coin: str, reason: str | None) -> None:
        self.blocked[coin] = reason

    def alert(self, message: str) -> None:
        self.alerts.append(message)

    def connection_changed(self, connected: bool, reason: str) -> None:
        self.connection.append(connected)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid(greeting=VENUE_GREETING) as server:
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
    credentials = HlCredentials(str(user.address).lower(), agent.key.hex())
    adapter = HyperliquidAccount(config, credentials, owner)
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


def bot(account: HyperliquidAccount, owner: Owner) -> Engine:
    registry = InstrumentRegistry({i.symbol: i for i in account.instruments()})
    portfolio = Portfolio(D(100_000), registry)
    owner.portfolios.append(portfolio)
    engine = Engine(
        Strategy(), account.venue("bot"), portfolio=portfolio, instruments=portfolio.instruments
    )
    engine.start()
    return engine


async def until(condition: Callable[[], Any], what: str, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)
    assert condition(), what


def limit(side: OrderSide, px: str, qty: str, tif: TimeInForce = TimeInForce.GTC) -> OrderRequest:
    return OrderRequest("BTC", side, D(qty), OrderType.LIMIT, limit_price=D(px), tif=tif)


async def test_resting_order_is_accepted_then_cancelled(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    engine = bot(account, owner)
    coid = engine.submit_order(limit(OrderSide.BUY, "60000", "0.001"))
    assert coid is not None
    order = engine.orders[coid]
    await until(lambda: order.status is OrderStatus.ACCEPTED, "accepted")
    assert order.venue_order_id.isdigit()
    engine.cancel_order(coid)
    await until(lambda: order.status is OrderStatus.CANCELLED, "cancelled")
    assert fake.order_status(int(order.venue_order_id)) == "canceled"


async def test_local_rule_violations_are_rejected_without_sending(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    engine = bot(account, owner)
    too_small = engine.submit_order(limit(OrderSide.BUY, "60000", "0.0001"))  # $6
    too_precise = engine.submit_order(limit(OrderSide.BUY, "60000.5", "0.001"))  # 6 sig figs
    assert too_small is not None
    assert too_precise is not None
    await until(
        lambda: (
            engine.orders[too_small].status is OrderStatus.REJECTED
            and engine.orders[too_precise].status is OrderStatus.REJECTED
        ),
        "both rejected",
    )
    assert "10" in engine.orders[too_small].reason
    assert "significant" in engine.orders[too_precise].reason
    assert fake.actions == []


async def test_venue_errors_reject_the_order(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    engine = bot(account, owner)
    post_only = engine.submit_order(
        limit(OrderSide.BUY, "70000", "0.001", TimeInForce.POST_ONLY)  # would cross
    )
    assert post_only is not None
    await until(lambda: engine.orders[post_only].status is OrderStatus.REJECTED, "rejected")
    assert engine.orders[post_only].reason.startswith("venue: Post only")


async def test_rate_limited_placement_is_rejected_not_duplicated(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid, monkeypatch: Any
) -> None:
    monkeypatch.setattr(account.http, "_backoff_base_s", 0.01)
    engine = bot(account, owner)
    fake.fail_next(5, 429, "/exchange")
    coid = engine.submit_order(OrderRequest("BTC", OrderSide.BUY, D("0.001")))
    assert coid is not None
    await until(lambda: engine.orders[coid].status is OrderStatus.REJECTED, "rejected", 30)
    assert "venue unavailable" in engine.orders[coid].reason
    assert fake.orders_by_cloid(cloid_for(coid)) == 0


async def test_market_fill_reaches_the_portfolio_once(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    engine = bot(account, owner)
    coid = engine.submit_order(OrderRequest("BTC", OrderSide.BUY, D("0.002")))
    assert coid is not None
    await until(lambda: engine.position("BTC") == D("0.002"), "filled")
    await account.sync_fills(0)  # the same fill again over REST: de-duplicated by trade id
    await account.reconcile("test")
    assert engine.position("BTC") == D("0.002")
    assert owner.blocked == {}
    assert len(fake.fills(_user(account))) == 1


def _user(account: HyperliquidAccount) -> str:
    assert account.credentials is not None
    return account.credentials.account_address


async def test_open_orders_listed_without_cloid_are_known_by_their_oid(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid, monkeypatch: Any
) -> None:
    """Defect: reconciliation knew our open orders only by the ``cloid`` of the venue's list,
    which the docs' ``frontendOpenOrders`` example does not carry: every bot order was taken
    for a foreign one (an alert each) and looked up again on every run."""
    monkeypatch.setattr(account_module, "PENDING_CLAIM_S", 0.0)
    fake.omit_open_order_cloids()
    engine = bot(account, owner)
    coid = engine.submit_order(limit(OrderSide.BUY, "60000", "0.001"))
    assert coid is not None
    await until(lambda: engine.orders[coid].status is OrderStatus.ACCEPTED, "resting")
    [listed] = await account.info.open_orders(_user(account))
    assert listed.cloid is None  # the venue lists it as the docs show
    lookups = fake.request_count("/info", "orderStatus")
    report = await account.reconcile("test")
    assert report.foreign_orders == []
    assert report.orders_adopted == 1
    assert not any("not known to any bot" in alert for alert in owner.alerts)
    assert fake.request_count("/info", "orderStatus") == lookups  # known: no lookup


async def test_foreign_orders_and_fills_are_reported_and_block_after_the_grace(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid, monkeypatch: Any
) -> None:
    monkeypatch.setattr(account_module, "PENDING_CLAIM_S", 0.0)
    engine = bot(account, owner)
    user = _user(account)
    oid = fake.place_resting_order(user, "BTC", "buy", "50000", "0.001")
    report = await account.reconcile("test")
    assert report.foreign_orders == [f"BTC oid {oid}"]
    assert any(f"oid {oid}" in alert for alert in owner.alerts)
    assert fake.open_orders(user)  # reported, left untouched

    # An order placed outside the daemon fills: its fill belongs to no bot → mismatch.
    fake.set_mid("BTC", D(49_000))
    report = await account.reconcile("test")
    assert report.mismatches
    assert "position mismatch on BTC" in (owner.blocked.get("BTC") or "")
    assert engine.position("BTC") == 0

    # Put right at the venue (flattened outside too): the next run unblocks.
    fake.set_position(user, "BTC", D(0))
    report = await account.reconcile("test")
    assert report.mismatches == []
    assert owner.blocked["BTC"] is None


async def test_connection_loss_is_reported_and_pushes_keep_flowing_after(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    engine = bot(account, owner)
    fake.drop_websockets()
    await until(lambda: owner.connection[-2:] == [False, True], "lost then back")
    for frame in (
        "{oops",
        json.dumps({"channel": "user", "data": {"liquidation": {"lid": 1, "liquidator": "x"}}}),
        json.dumps({"channel": "user", "data": ["not", "an", "object"]}),
        json.dumps({"channel": "userFills", "data": {"fills": "nope"}}),
    ):
        fake.inject_ws_message(frame)
    await until(lambda: any("liquidation" in a for a in owner.alerts), "liquidation alert")
    coid = engine.submit_order(OrderRequest("BTC", OrderSide.BUY, D("0.001")))
    assert coid is not None
    await until(lambda: engine.position("BTC") == D("0.001"), "a fill after all that")
    assert account.ws.stats.handler_errors >= 2


async def test_fills_from_before_a_restart_are_not_booked_again(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid, monkeypatch: Any
) -> None:
    first = bot(account, owner)
    coid = first.submit_order(OrderRequest("BTC", OrderSide.BUY, D("0.002")))
    assert coid is not None
    await until(lambda: first.position("BTC") == D("0.002"), "filled")
    [booked] = fake.fills(_user(account))

    # A second run resumes after that fill (as the daemon does from its store), more than the
    # window of booked trade ids it is given later. The userFills snapshot and the REST query
    # carry the old fill again.
    monkeypatch.setattr(account_module, "PENDING_CLAIM_S", 0.0)
    again_owner = Owner()
    resumed = booked["time"] + RESUME_WINDOW_MS + 10_000
    again = HyperliquidAccount(account.config, account.credentials, again_owner, since_ms=resumed)
    await again.start()
    try:
        # (a) Its order is closed, so nobody adopts it: the old fill is neither booked nor
        # taken for a foreign one.
        await again.sync_fills(0)
        await again.reconcile("test")
        assert again._pending == {}
        assert not any("belongs to no bot" in alert for alert in again_owner.alerts)

        # (b) An open order adopted with the executions it booked before: the venue reporting
        # one of them again changes nothing.
        portfolio = Portfolio(D(100_000), InstrumentRegistry())
        engine = Engine(Strategy(), again.venue("bot"), portfolio=portfolio)
        order = Order(
            coid,
            OrderRequest("BTC", OrderSide.BUY, D("0.004")),
            created_ts=0,
            filled_qty=D("0.002"),
            fill_ids=[str(booked["tid"])],
        )
        engine.adopt_open_order(order)
        await again.sync_fills(0)
        await asyncio.sleep(0.2)
        assert engine.position("BTC") == 0
        assert order.filled_qty == D("0.002")
    finally:
        await again.stop()

    # (c) Resuming within that window: the trade ids the store gives tell it was booked.
    within = HyperliquidAccount(
        account.config,
        account.credentials,
        Owner(),
        since_ms=booked["time"] + 10_000,
        seen_trade_ids=[str(booked["tid"])],
    )
    await within.start()
    try:
        await within.sync_fills(0)
        await within.reconcile("test")
        assert within._pending == {}
    finally:
        await within.stop()


async def test_an_adopted_order_filled_while_down_books_its_fill_whatever_its_age(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    # A fresh bot (no fills recorded yet) with a resting order; it fills while the daemon is
    # down, a few seconds before the restart.
    first = bot(account, owner)
    coid = first.submit_order(limit(OrderSide.BUY, "60000", "0.001"))
    assert coid is not None
    await until(lambda: first.orders[coid].status is OrderStatus.ACCEPTED, "resting")
    await account.stop()
    fake.set_mid("BTC", D(59_000))
    await asyncio.sleep(2.5)  # older than the new run's resume point (start - 2 s)

    again = HyperliquidAccount(account.config, account.credentials, Owner())
    await again.start()
    try:
        portfolio = Portfolio(D(100_000), InstrumentRegistry())
        engine = Engine(Strategy(), again.venue("bot"), portfolio=portfolio)
        order = Order(coid, limit(OrderSide.BUY, "60000", "0.001"), created_ts=0)
        engine.adopt_open_order(order)
        await until(lambda: order.status is OrderStatus.FILLED, "filled while down, booked")
        assert engine.position("BTC") == D("0.001")
    finally:
        await again.stop()


async def test_an_ioc_filled_in_part_has_its_remainder_cancelled_after_its_fill(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    engine = bot(account, owner)
    opened = engine.submit_order(OrderRequest("BTC", OrderSide.BUY, D("0.002")))
    assert opened is not None
    await until(lambda: engine.position("BTC") == D("0.002"), "long 0.002")
    # A reduce-only IOC for more than the position: the venue fills 0.002 and cancels the
    # rest (its cancel may overtake the fill on the other stream).
    request = OrderRequest(
        "BTC", OrderSide.SELL, D("0.005"), OrderType.LIMIT, limit_price=D(60_000),
        tif=TimeInForce.IOC, reduce_only=True,
    )  # fmt: skip
    coid = engine.submit_order(request)
    assert coid is not None
    order = engine.orders[coid]
    await until(lambda: order.status is OrderStatus.CANCELLED, "remainder cancelled")
    assert order.filled_qty == D("0.002")
    assert engine.position("BTC") == 0
    await account.reconcile("test")
    assert owner.blocked == {}


async def test_a_cancel_that_overtakes_its_fill_waits_for_it(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    engine = bot(account, owner)
    coid = engine.submit_order(limit(OrderSide.BUY, "60000", "0.001"))
    assert coid is not None
    order = engine.orders[coid]
    await until(lambda: order.status is OrderStatus.ACCEPTED, "resting")
    venue = engine.venue
    assert isinstance(venue, HyperliquidVenue)
    wire = {
        "coin": "BTC", "side": "B", "limitPx": "60000", "oid": int(order.venue_order_id),
        "timestamp": 1, "origSz": "0.001", "cloid": cloid_for(coid),
    }  # fmt: skip
    # The venue filled half, then cancelled the rest; the cancel is pushed first.
    cancelled = {"order": {**wire, "sz": "0.0005"}, "status": "canceled", "statusTimestamp": 2}
    venue.on_venue_status(coid, OrderUpdate.model_validate(cancelled))
    assert order.status is OrderStatus.ACCEPTED  # held back until the fill is booked
    fill = {
        "coin": "BTC", "px": "60000", "sz": "0.0005", "side": "B", "time": 2,
        "oid": wire["oid"], "tid": 987654, "crossed": False, "fee": "0.003",
    }  # fmt: skip
    venue.on_venue_fill(coid, Fill.model_validate(fill))
    await until(lambda: order.status is OrderStatus.CANCELLED, "cancelled after the fill")
    assert order.filled_qty == D("0.0005")
    assert engine.position("BTC") == D("0.0005")


def test_old_trade_ids_are_forgotten_and_old_fills_ignored() -> None:
    config = HyperliquidConfig(api_url="http://127.0.0.1:9")
    now = 1_800_000_000_000
    adapter = HyperliquidAccount(config, None, since_ms=now, seen_trade_ids=["1", "2"])

    def fill(tid: int, time_ms: int) -> Fill:
        return Fill.model_validate(
            {"coin": "BTC", "px": "1", "sz": "1", "side": "B", "time": time_ms, "oid": 7,
             "tid": tid}
        )  # fmt: skip

    adapter._route_fills([fill(3, now + 1000)])  # no route: held as unclaimed
    later = now + account_module.SEEN_HORIZON_MS + 60_000
    adapter._route_fills([fill(4, later)])
    adapter._forget_old_fills()
    assert set(adapter._seen_tids) == set()  # booked ids older than the horizon are gone
    adapter._pending.clear()
    adapter._route_fills([fill(3, now + 1000)])  # re-sent from an old snapshot: ignored
    assert adapter._pending == {}
    adapter._route_fills([fill(5, later)])  # recent: still handled
    assert "5" in adapter._pending


async def test_an_ambiguous_failure_is_looked_up_and_resent_only_if_unknown(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    engine = bot(account, owner)
    venue = engine.venue
    assert isinstance(venue, HyperliquidVenue)
    # A 502 from a proxy: the venue may or may not have acted. Here it did not.
    fake.fail_next(1, 502, "/exchange")
    coid = engine.submit_order(limit(OrderSide.BUY, "60000", "0.001"))
    assert coid is not None
    order = engine.orders[coid]
    await until(lambda: order.status is OrderStatus.ACCEPTED, "accepted after the resend")
    assert venue.lookups >= 1
    assert venue.resends == 1
    assert fake.orders_by_cloid(cloid_for(coid)) == 1  # placed once

    # This time the venue acted but the reply is lost: found by cloid, not sent again.
    lookups = venue.lookups
    fake.delay_next_exchange(3.0)  # longer than request_timeout_s
    second = engine.submit_order(limit(OrderSide.BUY, "59000", "0.001"))
    assert second is not None
    await until(lambda: engine.orders[second].status is OrderStatus.ACCEPTED, "found", 10)
    await until(lambda: venue.lookups > lookups, "looked up after the timeout", 10)
    await asyncio.sleep(0.3)  # a resend would follow the lookup at once
    assert venue.resends == 1
    assert fake.orders_by_cloid(cloid_for(second)) == 1


async def test_a_stop_order_rests_as_a_trigger_and_fills_when_touched(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    engine = bot(account, owner)
    opened = engine.submit_order(OrderRequest("BTC", OrderSide.BUY, D("0.002")))
    assert opened is not None
    await until(lambda: engine.position("BTC") == D("0.002"), "long")
    stop = engine.submit_order(
        OrderRequest(
            "BTC", OrderSide.SELL, D("0.002"), OrderType.STOP, stop_price=D(60_000),
            reduce_only=True,
        )
    )  # fmt: skip
    assert stop is not None
    order = engine.orders[stop]
    await until(lambda: order.status is OrderStatus.ACCEPTED, "resting trigger")
    [sent] = [a["action"] for a in fake.actions if a["action"]["type"] == "order"][-1:]
    assert sent["orders"][0]["t"] == {
        "trigger": {"isMarket": True, "triggerPx": "60000", "tpsl": "sl"}
    }
    assert sent["orders"][0]["r"] is True
    fake.set_mid("BTC", D(59_500))  # touched: the stop fires and fills at market
    await until(lambda: engine.position("BTC") == 0, "stopped out")
    assert order.status is OrderStatus.FILLED


@pytest.mark.parametrize(
    ("status", "state_before", "ends"),
    [
        ("siblingFilledCanceled", OrderStatus.ACCEPTED, OrderStatus.CANCELLED),
        ("liquidatedCanceled", OrderStatus.ACCEPTED, OrderStatus.CANCELLED),
        ("scheduledCancel", OrderStatus.ACCEPTED, OrderStatus.CANCELLED),
        ("badAloPxRejected", OrderStatus.NEW, OrderStatus.REJECTED),
        ("someFutureCanceled", OrderStatus.ACCEPTED, OrderStatus.CANCELLED),
    ],
)
async def test_every_terminal_venue_status_ends_the_order(
    account: HyperliquidAccount,
    owner: Owner,
    fake: FakeHyperliquid,
    status: str,
    state_before: OrderStatus,
    ends: OrderStatus,
) -> None:
    engine = bot(account, owner)
    venue = engine.venue
    assert isinstance(venue, HyperliquidVenue)
    if state_before is OrderStatus.NEW:
        # An adopted order whose lookup is still failing: new, and no placement in flight
        # (a placement's own reply is what rejects an order it is sending).
        fake.fail_next(50, 500, "/info")
        coid = "o1"
        order = Order(coid, limit(OrderSide.BUY, "60000", "0.001"), created_ts=0)
        engine.adopt_open_order(order)
    else:
        submitted = engine.submit_order(limit(OrderSide.BUY, "60000", "0.001"))
        assert submitted is not None
        coid = submitted
        order = engine.orders[coid]
    await until(lambda: order.status is state_before, f"{state_before}")
    wire = {
        "coin": "BTC", "side": "B", "limitPx": "60000", "oid": 1, "timestamp": 1,
        "origSz": "0.001", "sz": "0.001", "cloid": cloid_for(coid),
    }  # fmt: skip
    update = {"order": wire, "status": status, "statusTimestamp": 2}
    venue.on_venue_status(coid, OrderUpdate.model_validate(update))
    assert order.status is ends
    assert order.reason == f"venue: {status}"


async def test_adopting_an_order_open_at_the_last_reconciliation_needs_no_lookup(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    first = bot(account, owner)
    coid = first.submit_order(limit(OrderSide.BUY, "60000", "0.001"))
    assert coid is not None
    await until(lambda: first.orders[coid].status is OrderStatus.ACCEPTED, "resting")
    await account.stop()

    again = HyperliquidAccount(account.config, account.credentials, Owner())
    await again.start()  # reconciles: the resting order is listed
    try:
        lookups = fake.request_count("/info", "orderStatus")
        engine = Engine(Strategy(), again.venue("bot"), portfolio=Portfolio(D(100_000)))
        order = Order(coid, limit(OrderSide.BUY, "60000", "0.001"), created_ts=0)
        engine.adopt_open_order(order)
        await until(lambda: order.status is OrderStatus.ACCEPTED, "adopted")
        assert order.venue_order_id == first.orders[coid].venue_order_id
        assert fake.request_count("/info", "orderStatus") == lookups
    finally:
        await again.stop()


async def test_the_venue_greeting_is_not_malformed_but_garbage_still_is(
    account: HyperliquidAccount, fake: FakeHyperliquid
) -> None:
    # The fixture's venue greets every connection; the allMids snapshot that follows the
    # subscription proves the greeting (sent first) has been read.
    await until(lambda: account._mids, "the allMids snapshot")
    assert account.snapshot()["counters"]["ws_malformed"] == 0
    fake.inject_ws_message("Websocket connection lost.")
    await until(lambda: account.ws.stats.malformed == 1, "garbage counted")


async def test_a_fill_without_cloid_reaching_a_restarted_account_is_booked_once(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid, monkeypatch: Any
) -> None:
    first = bot(account, owner)
    coid = first.submit_order(limit(OrderSide.BUY, "60000", "0.001"))
    assert coid is not None
    await until(lambda: first.orders[coid].status is OrderStatus.ACCEPTED, "resting")
    oid = first.orders[coid].venue_order_id
    await account.stop()

    # The daemon restarts: the account lists the resting order, then it fills before the bot
    # adopts it, and the venue reports the fill by oid only.
    monkeypatch.setattr(account_module, "PENDING_CLAIM_S", 0.0)
    fake.omit_fill_cloids()
    again_owner = Owner()
    again = HyperliquidAccount(account.config, account.credentials, again_owner)
    await again.start()
    try:
        fake.set_mid("BTC", D(59_000))
        await until(lambda: again._pending, "the fill waits for its order")
        [fill] = fake.fills(_user(account))
        assert "cloid" not in fill

        registry = InstrumentRegistry({i.symbol: i for i in again.instruments()})
        portfolio = Portfolio(D(100_000), registry)
        again_owner.portfolios.append(portfolio)
        engine = Engine(Strategy(), again.venue("bot"), portfolio=portfolio, instruments=registry)
        order = Order(
            coid, limit(OrderSide.BUY, "60000", "0.001"), created_ts=0,
            status=OrderStatus.ACCEPTED, venue_order_id=oid,
        )  # fmt: skip
        engine.adopt_open_order(order)
        await until(lambda: order.status is OrderStatus.FILLED, "the waiting fill is claimed")
        assert order.fill_ids == [str(fill["tid"])]

        await again.sync_fills(0)  # the venue reports it again: not booked twice
        report = await again.reconcile("test")
        assert engine.position("BTC") == D("0.001")
        assert report.mismatches == []
        assert again._pending == {}
        assert "BTC" not in again.blocked
        assert not any("belongs to no bot" in alert for alert in again_owner.alerts)
    finally:
        await again.stop()


async def test_a_waiting_fill_without_cloid_is_claimed_once_its_oid_is_learnt(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    # An order adopted without its oid (recorded before the venue acknowledged it): the
    # waiting fill is claimed when the lookup tells its oid, and a re-fetch re-offers it.
    first = bot(account, owner)
    coid = first.submit_order(limit(OrderSide.BUY, "60000", "0.001"))
    assert coid is not None
    await until(lambda: first.orders[coid].status is OrderStatus.ACCEPTED, "resting")
    await account.stop()

    fake.omit_fill_cloids()
    again_owner = Owner()
    again = HyperliquidAccount(account.config, account.credentials, again_owner)
    await again.start()
    try:
        fake.set_mid("BTC", D(59_000))
        await until(lambda: again._pending, "the fill waits for its order")

        registry = InstrumentRegistry({i.symbol: i for i in again.instruments()})
        portfolio = Portfolio(D(100_000), registry)
        again_owner.portfolios.append(portfolio)
        engine = Engine(Strategy(), again.venue("bot"), portfolio=portfolio, instruments=registry)
        order = Order(coid, limit(OrderSide.BUY, "60000", "0.001"), created_ts=0)
        engine.adopt_open_order(order)
        await until(lambda: order.status is OrderStatus.FILLED, "claimed by oid")
        await again.reconcile("test")
        assert engine.position("BTC") == D("0.001")
        assert again._pending == {}
        assert "BTC" not in again.blocked
    finally:
        await again.stop()


async def test_an_adopted_order_that_knows_its_oid_claims_a_waiting_fill_without_lookups(
    account: HyperliquidAccount, owner: Owner, fake: FakeHyperliquid
) -> None:
    first = bot(account, owner)
    coid = first.submit_order(limit(OrderSide.BUY, "60000", "0.001"))
    assert coid is not None
    await until(lambda: first.orders[coid].status is OrderStatus.ACCEPTED, "resting")
    oid = first.orders[coid].venue_order_id
    await account.stop()

    fake.omit_fill_cloids()
    again = HyperliquidAccount(account.config, account.credentials, Owner())
    await again.start()
    try:
        fake.set_mid("BTC", D(59_000))
        await until(lambda: again._pending, "the fill waits for its order")
        fake.fail_next(1_000, 500, "/info")  # no lookup can tell the oid
        again._open_at_venue.clear()
        engine = Engine(Strategy(), again.venue("bot"), portfolio=Portfolio(D(100_000)))
        order = Order(
            coid, limit(OrderSide.BUY, "60000", "0.001"), created_ts=0,
            status=OrderStatus.ACCEPTED, venue_order_id=oid,
        )  # fmt: skip
        engine.adopt_open_order(order)
        await until(lambda: order.status is OrderStatus.FILLED, "claimed by its recorded oid")
        assert again._pending == {}
    finally:
        await again.stop()

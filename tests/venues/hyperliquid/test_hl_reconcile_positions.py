"""The account's position check against the fake Hyperliquid when fills race the snapshot.

Found by the live crash soak (tests/daemon/test_hyperliquid_crash_soak.py), which saw false
"position mismatch" alerts (each blocking the coin until the next reconciliation):

- a restarted daemon's first reconciliation, when a resting order filled between the
  ``clearinghouseState`` snapshot and the ``userFillsByTime`` query (the fill, unclaimed yet,
  was taken off a snapshot that did not hold it);
- on a busy daemon, when a fill newer than the ``userFillsByTime`` reply was booked before the
  comparison ran (in the books, not in the snapshot, and not taken back out);
- at a restart, when a stopped bot's resting order filled right after the snapshot was read,
  within the millisecond of its ``time`` (taken for a fill the snapshot holds); likewise a fill
  of that millisecond booked during the round. Such a coin is now left for the next round;
- at a restart, when a stopped bot's order sent just before a crash (never recorded) had
  filled seconds before fills other bots booked in the run after the crash: its fill, older
  than the newest booked one less 2 s, was taken for booked before and the coin reported at
  once, instead of the 15 s its bot gets to claim it (found by the live crash soak, seed 7).
  Likewise, by any amount: a stored open order's fill never stored, more than the minute of
  booked trade ids older than the newest booked fill, was taken for booked by its age (an
  immediate mismatch, its coin blocked until its bot adopted the order and a later round
  agreed). The store now decides by trade id.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account

from algotrade.core.engine import Engine
from algotrade.core.events import OrderSide
from algotrade.core.instruments import InstrumentRegistry
from algotrade.core.orders import Order, OrderRequest, OrderStatus, OrderType
from algotrade.core.portfolio import Portfolio
from algotrade.core.strategy import Strategy
from algotrade.venues.hyperliquid.account import HyperliquidAccount
from algotrade.venues.hyperliquid.config import (
    ENV_ACCOUNT_ADDRESS,
    ENV_PRIVATE_KEY,
    HlCredentials,
    HlNetwork,
    HyperliquidConfig,
)
from algotrade.venues.hyperliquid.exchange import cloid_for
from algotrade.venues.hyperliquid.factory import HyperliquidConnection, factory
from algotrade.venues.live.reconciliation import RESUME_WINDOW_MS
from algotrade.venues.live.resume import StoredOrder
from testkit.fake_hyperliquid import FakeHyperliquid
from testkit.venue_store import StoreAnswers


class Owner:
    """The bots' books: none at first (a restart, before the bots adopt their orders)."""

    def __init__(self) -> None:
        self.blocked: dict[str, str | None] = {}
        self.alerts: list[str] = []
        self.portfolios: list[Portfolio] = []

    def local_positions(self) -> dict[str, Decimal]:
        total: dict[str, Decimal] = {}
        for portfolio in self.portfolios:
            for symbol, position in portfolio.positions.items():
                total[symbol] = total.get(symbol, Decimal(0)) + position.qty
        return {symbol: qty for symbol, qty in total.items() if qty}

    def set_blocked(self, coin: str, reason: str | None) -> None:
        self.blocked[coin] = reason

    def alert(self, message: str) -> None:
        self.alerts.append(message)

    def connection_changed(self, connected: bool, reason: str) -> None:
        del connected, reason


class Clock:
    """The venue's clock: every reading one millisecond later (a fill made after a snapshot
    is stamped after it, whatever the machine's speed), unless ``held`` at one millisecond."""

    def __init__(self) -> None:
        self.ticks = itertools.count(int(time.time() * 1000))
        self.held: int | None = None

    def __call__(self) -> int:
        return next(self.ticks) if self.held is None else self.held

    def hold(self, held: bool = True) -> None:
        self.held = self() if held else None


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeHyperliquid]:
    with FakeHyperliquid(clock=clock) as server:
        yield server


@pytest.fixture
def user() -> Any:
    return Account.create()


@pytest.fixture
async def account(
    fake: FakeHyperliquid, user: Any
) -> AsyncIterator[tuple[HyperliquidAccount, Owner]]:
    agent = Account.create()
    fake.add_account(user.address, [agent.address], balance=100_000)
    config = HyperliquidConfig(
        network=HlNetwork.TESTNET, api_url=fake.base_url, request_timeout_s=2,
        reconcile_interval_s=0, max_retries=1,
    )  # fmt: skip
    owner = Owner()
    adapter = HyperliquidAccount(
        config, HlCredentials(str(user.address).lower(), agent.key.hex()), owner
    )
    await adapter.start()
    try:
        yield adapter, owner
    finally:
        await adapter.stop()


async def bot_with_a_resting_sell(adapter: HyperliquidAccount, owner: Owner) -> Portfolio:
    """A running bot whose limit sell of 0.002 BTC at 65,100 rests at the venue; its books."""
    registry = InstrumentRegistry({i.symbol: i for i in adapter.instruments()})
    portfolio = Portfolio(Decimal(100_000), registry)
    owner.portfolios.append(portfolio)
    engine = Engine(Strategy(), adapter.venue("bot"), portfolio=portfolio, instruments=registry)
    engine.start()
    request = OrderRequest("BTC", OrderSide.SELL, Decimal("0.002"), OrderType.LIMIT,
                           limit_price=Decimal(65_100))  # fmt: skip
    coid = engine.submit_order(request)
    assert coid is not None
    async with asyncio.timeout(5):
        while engine.orders[coid].venue_order_id == "":
            await asyncio.sleep(0.01)
    return portfolio


async def test_a_fill_newer_than_the_snapshot_is_not_taken_off_it(
    fake: FakeHyperliquid, user: Any, account: tuple[HyperliquidAccount, Owner]
) -> None:
    adapter, owner = account
    # A bot's resting sell, not claimed yet (its bot adopts it a moment later).
    fake.place_resting_order(user.address, "BTC", "sell", "65100", "0.002", cloid_for("b-1"))
    snapshot = adapter.info.clearinghouse_state

    async def snapshot_then_fill(address: str) -> Any:
        state = await snapshot(address)
        fake.set_mid("BTC", 65_200)  # fills the sell after the snapshot was taken
        return state

    adapter.info.clearinghouse_state = snapshot_then_fill  # type: ignore[method-assign]
    report = await adapter.reconcile("race")
    assert report.mismatches == []
    assert owner.alerts == []
    assert "BTC" not in adapter.blocked

    # Next time the snapshot holds the fill, still unclaimed: taken off, nothing to report.
    adapter.info.clearinghouse_state = snapshot  # type: ignore[method-assign]
    report = await adapter.reconcile("again")
    assert report.mismatches == []
    assert owner.alerts == []


async def test_a_fill_booked_after_the_fills_query_is_taken_back_out(
    fake: FakeHyperliquid, account: tuple[HyperliquidAccount, Owner]
) -> None:
    adapter, owner = account
    portfolio = await bot_with_a_resting_sell(adapter, owner)
    fills_since = adapter.info.user_fills_since

    async def fills_then_a_fill_is_booked(*args: Any, **kwargs: Any) -> Any:
        fills = await fills_since(*args, **kwargs)
        fake.set_mid("BTC", 65_200)  # fills the resting sell after the query
        async with asyncio.timeout(5):  # the fills stream books it before the comparison
            while portfolio.positions.get("BTC") is None:
                await asyncio.sleep(0.01)
        return fills

    adapter.info.user_fills_since = fills_then_a_fill_is_booked  # type: ignore[method-assign]
    report = await adapter.reconcile("busy")
    assert report.mismatches == []
    assert owner.alerts == []
    adapter.info.user_fills_since = fills_since  # type: ignore[method-assign]
    report = await adapter.reconcile("again")  # the snapshot holds it now
    assert report.mismatches == []


async def test_an_unclaimed_fill_of_the_snapshots_millisecond_waits_a_round(
    fake: FakeHyperliquid, clock: Clock, user: Any, account: tuple[HyperliquidAccount, Owner]
) -> None:
    adapter, owner = account
    # A stopped bot's resting sell: no bot claims its fill until the bot is started.
    fake.place_resting_order(user.address, "BTC", "sell", "65100", "0.002", cloid_for("b-1"))
    snapshot = adapter.info.clearinghouse_state

    async def snapshot_then_fill_within_its_millisecond(address: str) -> Any:
        clock.hold()
        state = await snapshot(address)
        fake.set_mid("BTC", 65_200)  # fills the sell after the read, stamped its time
        return state

    adapter.info.clearinghouse_state = snapshot_then_fill_within_its_millisecond  # type: ignore[method-assign]
    report = await adapter.reconcile("race")
    assert report.mismatches == []
    assert owner.alerts == []
    assert "BTC" not in adapter.blocked

    clock.hold(False)
    adapter.info.clearinghouse_state = snapshot  # type: ignore[method-assign]
    report = await adapter.reconcile("again")  # the snapshot holds it now: taken off
    assert report.mismatches == []
    assert owner.alerts == []


async def test_a_fill_booked_of_the_snapshots_millisecond_waits_a_round(
    fake: FakeHyperliquid, clock: Clock, account: tuple[HyperliquidAccount, Owner]
) -> None:
    adapter, owner = account
    portfolio = await bot_with_a_resting_sell(adapter, owner)
    snapshot = adapter.info.clearinghouse_state

    async def snapshot_then_a_fill_is_booked(address: str) -> Any:
        clock.hold()
        state = await snapshot(address)
        fake.set_mid("BTC", 65_200)  # fills the sell after the read, stamped its time
        async with asyncio.timeout(5):  # the fills stream books it before the comparison
            while portfolio.positions.get("BTC") is None:
                await asyncio.sleep(0.01)
        return state

    adapter.info.clearinghouse_state = snapshot_then_a_fill_is_booked  # type: ignore[method-assign]
    report = await adapter.reconcile("race")
    assert report.mismatches == []
    assert owner.alerts == []
    clock.hold(False)
    adapter.info.clearinghouse_state = snapshot  # type: ignore[method-assign]
    report = await adapter.reconcile("again")
    assert report.mismatches == []


async def test_a_restart_offers_an_unrecorded_fill_older_than_the_newest_booked(
    fake: FakeHyperliquid, clock: Clock, user: Any
) -> None:
    agent = Account.create()
    fake.add_account(user.address, [agent.address], balance=100_000)
    # A stopped bot's order sent just before a crash, never recorded, filled 4 s before the
    # newest fill the daemon booked (another bot's, in the run after the crash).
    fake.place_resting_order(user.address, "BTC", "buy", "64900", "0.002", cloid_for("b2-5"))
    now_ms = clock()
    clock.held = now_ms - 4_000
    fake.set_mid("BTC", 64_800)
    clock.hold(False)
    config = HyperliquidConfig(
        network=HlNetwork.TESTNET, api_url=fake.base_url, request_timeout_s=2,
        reconcile_interval_s=0, max_retries=1,
    )  # fmt: skip
    owner = Owner()  # the bots' books: without that fill
    credentials = HlCredentials(str(user.address).lower(), agent.key.hex())
    adapter = HyperliquidAccount(config, credentials, owner, since_ms=now_ms, seen_trade_ids=[])
    await adapter.start()  # its start reconciles
    try:
        assert adapter.last_report is not None
        assert adapter.last_report.mismatches == []
        assert owner.alerts == []
        assert adapter.pending_fill_count == 1  # offered to its bot, not taken for booked
    finally:
        await adapter.stop()


class RestartOwner(Owner, StoreAnswers):
    """The daemon after a restart: its store (the newest booked fill and the trade ids booked
    within a minute of it, open orders, any booked trade id) and the books of the bots that
    take no part here (``others``)."""

    def __init__(self, latest: tuple[int, list[str]], stored: list[StoredOrder]) -> None:
        Owner.__init__(self)
        StoreAnswers.__init__(self, latest, stored)
        self.others: dict[str, Decimal] = {}

    def bot_ids(self) -> list[str]:
        return ["b1", "b2"]

    def local_positions(self) -> dict[str, Decimal]:
        total = super().local_positions()
        for coin, qty in self.others.items():
            total[coin] = total.get(coin, Decimal(0)) + qty
        return total


async def test_a_restart_books_an_unrecorded_fill_however_much_older_than_the_newest_booked(
    fake: FakeHyperliquid, clock: Clock, user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = Account.create()
    fake.add_account(user.address, [agent.address], balance=100_000)
    now_ms = clock()
    # b2's buy rests at the venue (stored open, with its oid). It fills; the daemon is killed
    # before the fill is stored. In the next run b2 stays stopped while b1 trades on ETH for
    # more than a minute: the newest booked fill is b1's, 70 s after b2's.
    created_ns = (now_ms - 100_000) * 1_000_000
    oid = fake.place_resting_order(user.address, "BTC", "buy", "64900", "0.002", cloid_for("b2-5"))
    clock.held = now_ms - RESUME_WINDOW_MS - 10_000
    fake.set_mid("BTC", 64_800)
    fake.place_resting_order(user.address, "ETH", "sell", "3010", "0.5", cloid_for("b1-1"))
    clock.held = now_ms
    fake.set_mid("ETH", 3_020)
    clock.hold(False)
    unrecorded, booked = (str(f["tid"]) for f in fake.fills(user.address))
    stored = [StoredOrder("b2-5", str(oid), created_ns)]
    owner = RestartOwner((now_ms * 1_000_000, [booked]), stored)
    owner.others = {"ETH": Decimal("-0.5")}  # b1 booked its fill

    # The restart after that, where b2 is started (as a user would).
    monkeypatch.setenv(ENV_ACCOUNT_ADDRESS, str(user.address))
    monkeypatch.setenv(ENV_PRIVATE_KEY, agent.key.hex())
    config = HyperliquidConfig(
        network=HlNetwork.TESTNET, api_url=fake.base_url, request_timeout_s=2,
        reconcile_interval_s=0, max_retries=1,
    )  # fmt: skip
    connection = await factory.connect(config, owner)  # its start reconciles, before b2 adopts
    assert isinstance(connection, HyperliquidConnection)
    adapter = connection.account
    try:
        assert adapter.last_report is not None
        assert adapter.last_report.mismatches == []
        assert owner.alerts == []
        assert adapter.pending_fill_count == 1  # offered to its bot, not taken for booked
        assert owner.asked == [unrecorded]  # the store decided, not the fill's age

        registry = InstrumentRegistry({i.symbol: i for i in adapter.instruments()})
        portfolio = Portfolio(Decimal(100_000), registry)
        owner.portfolios.append(portfolio)
        engine = Engine(Strategy(), adapter.venue("b2"), portfolio=portfolio, instruments=registry)
        request = OrderRequest("BTC", OrderSide.BUY, Decimal("0.002"), OrderType.LIMIT,
                               limit_price=Decimal(64_900))  # fmt: skip
        order = Order("b2-5", request, created_ts=created_ns, venue_order_id=str(oid))
        order.status = OrderStatus.ACCEPTED
        engine.adopt_open_order(order)
        async with asyncio.timeout(5):
            while order.status is not OrderStatus.FILLED:
                await asyncio.sleep(0.01)

        # Reported again (a query, the next reconciliation): booked once.
        await adapter.sync_fills(now_ms - 3_600_000)
        report = await adapter.reconcile("again")
        assert order.fill_ids == [unrecorded]
        assert portfolio.position_qty("BTC") == Decimal("0.002")
        assert report.mismatches == []
        assert owner.alerts == []
        assert adapter.pending_fill_count == 0
    finally:
        await connection.stop()

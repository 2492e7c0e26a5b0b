"""The account's position check against the fake Bybit when executions race the snapshot.

Found by the Bybit crash soak (tests/venues/ccxt/test_bybit_crash_soak.py), which saw false
"position mismatch" alerts (each blocking the symbol's bots until the next reconciliation):

- an execution pushed on the stream and booked after the ``/v5/execution/list`` reply, while
  the reconciliation still waited for the wallet balance: in the books, not in the snapshot,
  and not taken back out (only executions in that reply were);
- an execution stamped the very millisecond of the ``/v5/position/list`` reply's ``time`` but
  made after the position was read: taken for one the snapshot holds.

The same race with an execution no bot has claimed yet (a restarted bot adopts its order a
moment later) took it off a snapshot that did not hold it. Bybit's cross sequence (``seq`` of
the execution and of the position) tells which executions a snapshot holds.

And at a restart: an order sent just before a crash and never recorded, of a bot that comes
back stopped, filled seconds before fills other bots booked in the next run; the restart after
that took its execution for one booked before (older than the newest booked fill less 2 s) and
never asked for it: an immediate mismatch instead of the 15 s its bot gets to claim it. And
by any amount: a stored open order's execution never stored, more than the minute of booked
ids older than the newest booked one, was taken for booked by its age; the store now decides
by execId.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from bybit_harness import (
    Owner,
    Setup,
    Sink,
    connect,
    limit,
    market,
    place_directly,
    resting,
    until,
    venue_for,
)

from algotrade.core.events import OrderSide
from algotrade.core.orders import Order, OrderStatus
from algotrade.venues.ccxt.account import CcxtAccount
from algotrade.venues.ccxt.model import VenueFill, VenuePosition
from algotrade.venues.ccxt.reconcile import PositionSnapshot, compare_positions
from algotrade.venues.live.reconciliation import RESUME_WINDOW_MS
from algotrade.venues.live.resume import StoredOrder
from testkit.fake_bybit import FakeBybit


class FrozenClock:
    """The venue's clock: the wall clock, or one millisecond held (``hold``)."""

    def __init__(self) -> None:
        self.held: int | None = None

    def __call__(self) -> int:
        return self.held if self.held is not None else time.time_ns() // 1_000_000

    def hold(self, ms: int | None = None) -> None:
        self.held = self() if ms is None else ms

    def release(self) -> None:
        self.held = None


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def fake(clock: FrozenClock) -> Iterator[FakeBybit]:  # replaces conftest's: a clock to hold
    with FakeBybit(clock=clock) as venue:
        yield venue


async def _long(setup: Setup) -> Any:
    """The bot holds 0.002 BTCUSDT and rests a sell of 0.001 at 65,100; the venue agrees."""
    connection, sink, _ = setup
    venue = await venue_for(connection, sink)
    buy = sink.new(market("buy", "0.002"))
    venue.submit(buy)
    await until(lambda: buy.status is OrderStatus.FILLED, "the bot's buy")
    sell = await resting(venue, sink.new(limit("sell", "0.001", "65100")))
    state = await connection.reconcile()
    assert state["last_reconcile"]["mismatches"] == []
    return sell


async def test_an_execution_booked_after_the_executions_reply_is_taken_back_out(
    fake: FakeBybit, setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection, sink, owner = setup
    sell = await _long(setup)
    account: CcxtAccount = connection.account
    balance = account.rest.balance

    async def a_fill_is_booked_meanwhile() -> Any:
        fake.set_price("BTCUSDT", 65_200)  # fills the resting sell after the executions reply
        await until(lambda: sell.status is OrderStatus.FILLED, "the stream books it")
        return await balance()

    monkeypatch.setattr(account.rest, "balance", a_fill_is_booked_meanwhile)
    state = await connection.reconcile()
    assert state["last_reconcile"]["mismatches"] == []
    assert owner.alerts == []
    assert state["blocked"] == {}
    monkeypatch.setattr(account.rest, "balance", balance)
    state = await connection.reconcile()  # the snapshot holds it now
    assert state["last_reconcile"]["mismatches"] == []
    assert sink.positions["BTCUSDT"] == Decimal("0.001")


async def test_an_execution_of_the_snapshots_millisecond_it_does_not_hold(
    fake: FakeBybit, clock: FrozenClock, setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection, _, owner = setup
    sell = await _long(setup)
    account: CcxtAccount = connection.account
    positions = account.rest.positions

    async def read_then_a_fill_the_same_millisecond() -> Any:
        clock.hold()
        snapshot = await positions()
        fake.set_price("BTCUSDT", 65_200)  # fills the resting sell, stamped the reply's time
        await until(lambda: sell.status is OrderStatus.FILLED, "the stream books it")
        return snapshot

    monkeypatch.setattr(account.rest, "positions", read_then_a_fill_the_same_millisecond)
    state = await connection.reconcile()
    assert state["last_reconcile"]["mismatches"] == []
    assert owner.alerts == []
    assert state["blocked"] == {}


async def test_an_unclaimed_execution_newer_than_the_snapshot_is_not_taken_off_it(
    fake: FakeBybit, clock: FrozenClock, setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection, _, owner = setup
    await _long(setup)
    # Another bot's resting buy (a restarted bot adopts it a moment later): no route yet.
    await place_directly(fake, "other-1", "buy", "0.001", "64900")
    account: CcxtAccount = connection.account
    positions = account.rest.positions

    async def read_then_it_fills() -> Any:
        clock.hold()
        snapshot = await positions()
        fake.set_price("BTCUSDT", 64_800)  # fills it after the read, the same millisecond
        return snapshot

    monkeypatch.setattr(account.rest, "positions", read_then_it_fills)
    state = await connection.reconcile()
    assert state["pending_fills"] == 1
    assert state["last_reconcile"]["mismatches"] == []
    assert owner.alerts == []
    assert state["blocked"] == {}
    monkeypatch.setattr(account.rest, "positions", positions)
    state = await connection.reconcile()  # the snapshot holds it now: taken off it
    assert state["last_reconcile"]["mismatches"] == []
    assert owner.alerts == []


async def test_a_restart_offers_an_unrecorded_execution_older_than_the_newest_booked(
    fake: FakeBybit, clock: FrozenClock, uid: str
) -> None:
    # A stopped bot's order sent just before a crash, never recorded, filled 4 s before the
    # newest fill the daemon booked (another bot's, in the run after the crash).
    await place_directly(fake, "b2-5", "buy", "0.001", "64900")
    now_ms = time.time_ns() // 1_000_000
    clock.hold(now_ms - 4_000)
    fake.set_price("BTCUSDT", 64_800)
    clock.release()
    assert fake.position(uid, "BTCUSDT")[0] == Decimal("0.001")
    owner = Owner()  # the bots' books: without that fill
    owner.latest = (now_ms * 1_000_000, [])
    connection = await connect(fake, owner)  # its start reconciles
    try:
        state = connection.account.snapshot()
        assert state["last_reconcile"]["mismatches"] == []
        assert owner.alerts == []
        assert state["blocked"] == {}
        assert state["pending_fills"] == 1  # offered to its bot, not taken for booked
    finally:
        await connection.stop()


async def test_a_restart_books_an_unrecorded_execution_however_much_older_than_the_newest(
    fake: FakeBybit, clock: FrozenClock, uid: str
) -> None:
    # b2's buy of 0.002 rests at the venue (stored open). It fills in two executions: the
    # first is booked; the daemon is killed before the second is stored. In the next run b2
    # stays stopped while b1 trades for more than a minute: the newest booked execution is
    # b1's, 70 s after b2's second.
    now_ms = time.time_ns() // 1_000_000
    fake.set_max_fill_qty("BTCUSDT", "0.001")
    clock.hold(now_ms - 130_000)
    order_id = fake.place_resting_order(uid, "BTCUSDT", "buy", "0.002", "64900", "b2-5")
    clock.hold(now_ms - 120_000)
    fake.set_price("BTCUSDT", 64_800)
    clock.hold(now_ms - RESUME_WINDOW_MS - 10_000)
    fake.set_price("BTCUSDT", 64_700)
    clock.release()
    await place_directly(fake, "b1-1", "buy", "0.001")
    first, unrecorded, b1s = (e["execId"] for e in fake.executions(uid))
    newest_ms = int(fake.executions(uid)[-1]["execTime"])
    assert fake.position(uid, "BTCUSDT")[0] == Decimal("0.003")
    b1, b2 = Sink("b1"), Sink("b2")
    b1.positions["BTCUSDT"] = Decimal("0.001")  # the bots' books as stored
    b2.positions["BTCUSDT"] = Decimal("0.001")
    owner = Owner([b1, b2])
    owner.latest = (newest_ms * 1_000_000, [b1s])
    owner.booked = {first, b1s}
    created_ns = (now_ms - 130_000) * 1_000_000
    owner.stored = [StoredOrder("b2-5", order_id, created_ns)]

    connection = await connect(fake, owner)  # its start reconciles, before b2 adopts
    try:
        state = connection.account.snapshot()
        assert state["last_reconcile"]["mismatches"] == []
        assert owner.alerts == []
        assert state["blocked"] == {}
        assert state["pending_fills"] == 1  # offered to its bot, not taken for booked
        assert owner.asked == [first, unrecorded]  # the store decided, not their age

        # b2 is started (as a user would): it adopts its order with the execution it booked.
        venue = await venue_for(connection, b2)
        order = Order(
            "b2-5", limit("buy", "0.002", "64900"), created_ts=created_ns,
            venue_order_id=order_id, filled_qty=Decimal("0.001"), fill_ids=[first],
        )  # fmt: skip
        order.status = OrderStatus.PARTIALLY_FILLED
        b2.orders[order.client_order_id] = order
        venue.adopt(order)
        await until(lambda: order.status is OrderStatus.FILLED, "the adopted order filled")
        state = await connection.reconcile()
        assert [f.trade_id for f in b2.fills()] == [unrecorded]  # booked once
        assert b2.positions["BTCUSDT"] == Decimal("0.002")
        assert state["last_reconcile"]["mismatches"] == []
        assert owner.alerts == []
        assert state["pending_fills"] == 0
    finally:
        await connection.stop()


def _fill(seq: int | None, time_ms: int, symbol: str = "BTCUSDT") -> VenueFill:
    return VenueFill(
        "e", "o", "l", symbol, OrderSide.BUY, Decimal(1), Decimal(1), Decimal(0), False,
        time_ms, seq=seq,
    )  # fmt: skip


def _position(symbol: str, size: str, seq: int | None) -> VenuePosition:
    return VenuePosition(symbol, Decimal(size), Decimal(1), None, Decimal(0), 0, seq=seq)


def test_a_snapshot_holds_an_execution_by_sequence_else_by_time() -> None:
    snapshot = PositionSnapshot(1_000, [_position("BTCUSDT", "2", seq=50)])
    assert snapshot.holds(_fill(50, 2_000)) is True  # the sequence decides, not the time
    assert snapshot.holds(_fill(51, 900)) is False
    # ETHUSDT is flat (not listed): by time, and the snapshot's own millisecond is unknown.
    assert snapshot.holds(_fill(7, 999, "ETHUSDT")) is True
    assert snapshot.holds(_fill(7, 1_001, "ETHUSDT")) is False
    assert snapshot.holds(_fill(7, 1_000, "ETHUSDT")) is None
    assert snapshot.holds(_fill(None, 1_000)) is None
    assert snapshot.undecided([_fill(7, 1_000, "ETHUSDT"), _fill(51, 1_000)]) == {"ETHUSDT"}


def test_positions_compare_as_of_the_snapshot() -> None:
    snapshot = PositionSnapshot(1_000, [_position("BTCUSDT", "2", seq=50)])
    booked_after = _fill(51, 1_000)  # in the books (3), not in the snapshot (2)
    assert compare_positions({"BTCUSDT": Decimal(3)}, snapshot, booked=[booked_after]) == []
    unclaimed_in = _fill(50, 990)  # in the snapshot (2), in no bot's books (1)
    assert compare_positions({"BTCUSDT": Decimal(1)}, snapshot, unclaimed=[unclaimed_in]) == []
    unclaimed_after = _fill(52, 1_010)  # in neither
    assert compare_positions({"BTCUSDT": Decimal(2)}, snapshot, [unclaimed_after]) == []
    found = compare_positions({"BTCUSDT": Decimal(3)}, snapshot)
    assert [m.message for m in found] == [
        "position mismatch on BTCUSDT: the bots hold 3, the venue reports 2"
    ]
    # A symbol with an execution the snapshot may or may not hold is not compared this time.
    unsure = _fill(None, 1_000, "ETHUSDT")
    local = {"BTCUSDT": Decimal(2), "ETHUSDT": Decimal(1)}
    assert compare_positions(local, snapshot, booked=[unsure]) == []

"""Reconciliation against the fake Bybit: fail closed on a position mismatch (blocked and
alerted, unblocked once it agrees), foreign orders reported and left alone, and a restart that
adopts resting, filled-while-down and never-recorded orders without sending any again."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from bybit_harness import (
    Owner,
    Setup,
    Sink,
    connect,
    limit,
    market,
    place_directly,
    until,
    venue_for,
)

from algotrade.core.orders import Order, OrderStatus
from algotrade.venues.ccxt import account as account_module
from testkit.fake_bybit import FakeBybit


async def test_a_position_mismatch_blocks_until_it_agrees_again(
    fake: FakeBybit,
    uid: str,
    setup: Setup,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection, sink, owner = setup
    venue = await venue_for(connection, sink)
    buy = sink.new(market("buy", "0.002"))
    venue.submit(buy)
    await until(lambda: buy.status is OrderStatus.FILLED, "the bot's fill")
    state = await connection.reconcile()
    assert state["blocked"] == {}
    assert state["last_reconcile"]["mismatches"] == []

    # Someone trades the account behind the daemon's back.
    await place_directly(fake, "manual-1", "buy", "0.001")
    await until(lambda: len(fake.executions(uid)) == 2, "the manual fill")
    state = await connection.reconcile()
    assert state["blocked"] == {}  # an unclaimed fill may still be claimed by a bot (15 s)
    monkeypatch.setattr(account_module, "PENDING_CLAIM_S", 0.0)
    state = await connection.reconcile()
    expected = "position mismatch on BTCUSDT: the bots hold 0.002, Bybit reports 0.003"
    assert state["blocked"]["BTCUSDT"].startswith(expected)
    assert owner.blocked["BTCUSDT"] == state["blocked"]["BTCUSDT"]
    assert any(a.startswith(expected) for a in owner.alerts)
    assert any("belongs to no bot" in a for a in owner.alerts)
    assert state["last_reconcile"]["mismatches"] == [expected]
    assert connection.blocked_reason(_Bot()) == state["blocked"]["BTCUSDT"]

    # Put right at the venue: the next reconciliation unblocks.
    await place_directly(fake, "manual-2", "sell", "0.001")
    await until(lambda: fake.position(uid, "BTCUSDT")[0] == Decimal("0.002"), "the put-right")
    state = await connection.reconcile()
    assert state["blocked"] == {}
    assert owner.blocked["BTCUSDT"] is None
    assert connection.blocked_reason(_Bot()) is None


class _Bot:
    symbol = "BTCUSDT"


async def test_foreign_open_orders_are_reported_and_left_alone(
    fake: FakeBybit,
    uid: str,
    setup: Setup,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection, _, owner = setup
    order_id = await place_directly(fake, "by-hand", "buy", "0.001", "60000")
    monkeypatch.setattr(account_module, "PENDING_CLAIM_S", 0.0)
    state = await connection.reconcile()
    assert state["last_reconcile"]["foreign_orders"] == [f"BTCUSDT order {order_id}"]
    (alert,) = owner.alerts
    assert "is not known to any bot; left untouched" in alert
    assert "client id by-hand" in alert
    assert len(fake.open_orders(uid)) == 1
    assert state["blocked"] == {}
    await connection.reconcile()
    assert len(owner.alerts) == 1  # said once


def carried(order: Order) -> Order:
    """The order as a restarted daemon restores it from its store."""
    return Order(
        order.client_order_id,
        order.request,
        created_ts=order.created_ts,
        status=order.status,
        venue_order_id=order.venue_order_id,
        filled_qty=order.filled_qty,
        fill_ids=list(order.fill_ids),
    )


async def test_restart_adopts_resting_filled_and_unrecorded_orders(
    fake: FakeBybit, uid: str
) -> None:
    sink = Sink()
    owner = Owner([sink])
    first = await connect(fake, owner)
    try:
        venue = await venue_for(first, sink)
        buy = sink.new(market("buy", "0.002"))
        low = sink.new(limit("buy", "0.001", "50000"))
        high = sink.new(limit("buy", "0.001", "60000"))
        for order in (buy, low, high):
            venue.submit(order)
        await until(
            lambda: (
                buy.status is OrderStatus.FILLED
                and low.status is high.status is OrderStatus.ACCEPTED
            ),
            "a fill and two resting orders",
        )
    finally:
        await first.stop()
    newest = max(f.ts for f in sink.fills())
    booked = [f.trade_id for f in sink.fills()]

    # While the daemon is down the 60,000 bid fills; and the bot's next order (sent just
    # before a crash, never recorded) is at the venue.
    fake.set_price("BTCUSDT", 59_000)
    fake.set_price("BTCUSDT", 65_000)
    lost = await place_directly(fake, "b1-4", "buy", "0.001", "55000")

    restarted = Sink()
    restarted.positions = dict(sink.positions)
    for order in (low, high):
        restarted.orders[order.client_order_id] = carried(order)
    owner2 = Owner([restarted])
    owner2.latest = (newest, booked)
    second = await connect(fake, owner2)
    try:
        venue2 = await venue_for(second, restarted)
        for order in list(restarted.orders.values()):
            venue2.adopt(order)
        recovered = await venue2.unrecorded_orders("b1-", 3)
        assert [o.client_order_id for o in recovered] == ["b1-4"]
        assert recovered[0].request.tag == "recovered"
        restarted.orders["b1-4"] = recovered[0]
        venue2.adopt(recovered[0])
        orders = restarted.orders
        await until(
            lambda: (
                orders["b1-3"].status is OrderStatus.FILLED
                and orders["b1-4"].status is OrderStatus.ACCEPTED
            ),
            "the adoption",
        )
        assert orders["b1-2"].status is OrderStatus.ACCEPTED
        assert orders["b1-4"].venue_order_id == lost
        assert restarted.positions["BTCUSDT"] == fake.position(uid, "BTCUSDT")[0]
        assert fake.position(uid, "BTCUSDT")[0] == Decimal("0.003")
        for link in ("b1-1", "b1-2", "b1-3"):
            assert len(fake.create_requests(link)) == 1  # nothing sent again
        assert len(restarted.fills()) == 1  # only the fill while down
        state = await second.reconcile()
        assert state["blocked"] == {}
        assert owner2.alerts == []
    finally:
        await second.stop()


async def test_an_adopted_order_the_venue_never_saw_is_cancelled_locally(
    fake: FakeBybit, uid: str, setup: Setup
) -> None:
    connection, sink, _ = setup
    venue = await venue_for(connection, sink)
    ghost = sink.new(limit("buy", "0.001", "60000"))  # recorded, but never reached the venue
    started = time.monotonic()
    venue.adopt(ghost)
    await until(lambda: ghost.status is OrderStatus.CANCELLED, "the local cancel")
    assert ghost.reason == "not found at the venue after restart"
    assert fake.create_requests() == []
    assert time.monotonic() - started < 5

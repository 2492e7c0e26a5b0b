"""Orders on the fake Bybit through the ccxt venue, in process: placement, fills, amend,
cancel, IOC/post-only, reduce-only, instrument rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from bybit_harness import (
    Setup,
    limit,
    market,
    place_directly,
    resting,
    until,
    venue_for,
)

from algotrade.core.events import (
    OrderAmended,
    OrderAmendRejected,
    OrderCancelled,
    OrderSide,
)
from algotrade.core.orders import OrderRequest, OrderStatus, OrderType, TimeInForce
from testkit.fake_bybit import FakeBybit


async def test_market_and_limit_orders_fill_and_cancel(
    fake: FakeBybit, uid: str, setup: Setup
) -> None:
    connection, sink, owner = setup
    venue = await venue_for(connection, sink)
    buy = sink.new(market("buy", "0.002"))
    venue.submit(buy)
    await until(lambda: buy.status is OrderStatus.FILLED, "the market fill")
    (fill,) = sink.fills(buy.client_order_id)
    assert (fill.qty, fill.price) == (Decimal("0.002"), Decimal(65000))
    assert fill.fee == Decimal("0.002") * 65000 * Decimal("0.00055")
    assert fake.position(uid, "BTCUSDT")[0] == Decimal("0.002")
    (body,) = fake.create_requests()
    assert body["orderLinkId"] == "b1-1"

    rest = await resting(venue, sink.new(limit("buy", "0.001", "64000")))
    venue.cancel(rest.client_order_id)
    await until(lambda: rest.status is OrderStatus.CANCELLED, "the cancel")
    assert sink.of(OrderCancelled)[-1].reason == "cancelled by request"
    assert fake.open_orders(uid) == []
    assert sink.positions["BTCUSDT"] == Decimal("0.002")
    snapshot = connection.snapshot()
    assert snapshot["venue"] == "bybit"
    assert snapshot["connected"] is True
    assert owner.alerts == []


async def test_time_in_force_post_only_and_ioc(fake: FakeBybit, uid: str, setup: Setup) -> None:
    connection, sink, _ = setup
    venue = await venue_for(connection, sink)
    resting = sink.new(limit("buy", "0.001", "64000", tif=TimeInForce.POST_ONLY))
    crossing = sink.new(limit("buy", "0.001", "66000", tif=TimeInForce.POST_ONLY))
    ioc = sink.new(limit("buy", "0.001", "64000", tif=TimeInForce.IOC))
    for order in (resting, crossing, ioc):
        venue.submit(order)
    await until(lambda: not crossing.is_open and not ioc.is_open, "the refusals")
    await until(lambda: resting.status is OrderStatus.ACCEPTED, "the resting post-only order")
    assert crossing.status is OrderStatus.CANCELLED
    assert crossing.reason == "post-only order would have taken liquidity"
    assert ioc.status is OrderStatus.CANCELLED
    assert ioc.reason == "IOC remainder not filled"
    sent = {b["orderLinkId"]: b["timeInForce"] for b in fake.create_requests()}
    assert sent == {"b1-1": "PostOnly", "b1-2": "PostOnly", "b1-3": "IOC"}
    fake.set_price("BTCUSDT", 63_900)
    await until(lambda: resting.status is OrderStatus.FILLED, "the maker fill")
    (fill,) = sink.fills(resting.client_order_id)
    assert (fill.price, fill.liquidity.value) == (Decimal(64000), "maker")
    assert fill.fee == Decimal("64") * Decimal("0.0002")


async def test_reduce_only_cut_to_the_position(fake: FakeBybit, uid: str, setup: Setup) -> None:
    connection, sink, _ = setup
    venue = await venue_for(connection, sink)
    buy = sink.new(market("buy", "0.002"))
    venue.submit(buy)
    await until(lambda: buy.status is OrderStatus.FILLED, "the buy")
    close = sink.new(market("sell", "0.005", reduce_only=True))
    venue.submit(close)
    await until(lambda: not close.is_open, "the reduce-only close")
    assert close.filled_qty == Decimal("0.002")
    assert close.status is OrderStatus.CANCELLED
    assert "reduce-only" in close.reason
    assert fake.create_requests("b1-2")[0]["reduceOnly"] is True
    assert fake.position(uid, "BTCUSDT")[0] == 0
    assert sink.positions["BTCUSDT"] == 0
    # Nothing left to reduce: the venue refuses (110017) and says why.
    again = sink.new(market("sell", "0.001", reduce_only=True))
    venue.submit(again)
    await until(lambda: again.status is OrderStatus.REJECTED, "the refusal")
    assert again.reason.startswith("Bybit 110017")


@pytest.mark.parametrize(
    ("request_", "rule"),
    [
        (limit("buy", "0.001", "64000.05"), "tick_size"),
        (limit("buy", "0.0015", "64000"), "qty_step"),
        (limit("buy", "0.001", "64000", symbol="ETHUSDT"), None),
        (limit("buy", "0.01", "100", symbol="ETHUSDT"), "min_notional"),
        (market("buy", "600"), "max_qty"),
        (limit("buy", "0.0001", "64000"), "qty_step"),
        (limit("buy", "0.05", "1", symbol="SOLUSDT"), "qty_step"),
        (limit("buy", "0.001", "2000000"), "price_range"),
        (
            OrderRequest(
                "BTCUSDT",
                OrderSide.BUY,
                Decimal("0.001"),
                OrderType.STOP,
                stop_price=Decimal(60000),
            ),
            "order_type",
        ),
    ],
)
async def test_instrument_rules_refuse_before_sending(
    fake: FakeBybit,
    uid: str,
    setup: Setup,
    request_: OrderRequest,
    rule: str | None,
) -> None:
    connection, sink, _ = setup
    venue = await venue_for(connection, sink, symbol=request_.symbol)
    order = sink.new(request_)
    venue.submit(order)
    if rule is None:  # ETHUSDT min qty 0.01: a 0.001 order is refused locally too
        assert order.status is OrderStatus.REJECTED
        assert order.reason.startswith("qty_step") or order.reason.startswith("min_qty")
    else:
        assert order.status is OrderStatus.REJECTED, order
        assert order.reason.startswith(f"{rule}:"), order.reason
    assert fake.create_requests() == []


async def test_market_order_without_a_known_price_leaves_the_min_value_to_the_venue(
    fake: FakeBybit, uid: str, setup: Setup
) -> None:
    connection, sink, _ = setup
    venue = await venue_for(connection, sink, symbol="ETHUSDT")
    small = sink.new(market("buy", "0.001", symbol="ETHUSDT"))
    venue.submit(small)
    assert small.reason.startswith("qty_step:")
    # No price seen yet: the venue checks the minimum value itself (110094).
    fake.set_price("ETHUSDT", 100)
    cheap = sink.new(market("buy", "0.01", symbol="ETHUSDT"))
    venue.submit(cheap)
    await until(lambda: cheap.status is OrderStatus.REJECTED, "the venue's refusal")
    assert cheap.reason.startswith("Bybit 110094")
    assert len(fake.create_requests()) == 1


async def test_amend_price_and_size_then_cancel(fake: FakeBybit, uid: str, setup: Setup) -> None:
    connection, sink, _ = setup
    venue = await venue_for(connection, sink)
    order = await resting(venue, sink.new(limit("buy", "0.001", "60000")))
    venue.amend(order.client_order_id, qty=Decimal("0.002"), limit_price=Decimal("61000"))
    await until(lambda: order.qty == Decimal("0.002"), "the amendment")
    assert order.request.limit_price == Decimal(61000)
    (amended,) = sink.of(OrderAmended)
    assert (amended.qty, amended.limit_price) == (Decimal("0.002"), Decimal(61000))
    (at_venue,) = fake.open_orders(uid)
    assert (at_venue["qty"], at_venue["price"]) == ("0.002", "61000")
    # Refused locally by a rule: nothing is sent.
    venue.amend(order.client_order_id, limit_price=Decimal("61000.05"))
    (refused,) = sink.of(OrderAmendRejected)
    assert refused.reason.startswith("tick_size:")
    assert fake.request_count("/v5/order/amend") == 1
    venue.cancel(order.client_order_id)
    await until(lambda: order.status is OrderStatus.CANCELLED, "the cancel")
    assert len(fake.create_requests()) == 1


async def test_amend_through_the_market_books_the_bigger_fill(
    fake: FakeBybit, uid: str, setup: Setup
) -> None:
    connection, sink, owner = setup
    venue = await venue_for(connection, sink)
    order = await resting(venue, sink.new(limit("buy", "0.001", "60000")))
    # Size up and price through the last price: the venue fills 0.003 at once (taker); the
    # execution (larger than the old size) may come before the amend's reply.
    venue.amend(order.client_order_id, qty=Decimal("0.003"), limit_price=Decimal("66000"))
    await until(lambda: order.status is OrderStatus.FILLED, "the fill of the amended order")
    assert order.filled_qty == Decimal("0.003")
    assert sink.positions["BTCUSDT"] == fake.position(uid, "BTCUSDT")[0] == Decimal("0.003")
    assert owner.alerts == []
    assert connection.account.blocked == {}


async def test_amend_of_a_filled_order_is_refused_by_the_venue(
    fake: FakeBybit, uid: str, setup: Setup
) -> None:
    connection, sink, _ = setup
    venue = await venue_for(connection, sink)
    order = await resting(venue, sink.new(limit("buy", "0.001", "60000")))
    fake.ws_silence()  # the fill is not pushed: the order looks open locally
    fake.set_price("BTCUSDT", 59_000)
    venue.amend(order.client_order_id, limit_price=Decimal("59500"))
    await until(lambda: bool(sink.of(OrderAmendRejected)), "the refusal")
    assert sink.of(OrderAmendRejected)[0].reason.startswith("Bybit 110008")
    await until(lambda: order.status is OrderStatus.FILLED, "the lookup books the fill")
    fake.ws_silence(False)


async def test_partial_fills_then_cancel(fake: FakeBybit, uid: str, setup: Setup) -> None:
    connection, sink, _ = setup
    venue = await venue_for(connection, sink)
    order = await resting(venue, sink.new(limit("sell", "0.005", "66000")))
    fake.set_max_fill_qty("BTCUSDT", "0.002")
    fake.set_price("BTCUSDT", 66_100)
    await until(lambda: order.filled_qty == Decimal("0.002"), "a partial fill")
    assert order.status is OrderStatus.PARTIALLY_FILLED
    venue.cancel(order.client_order_id)
    await until(lambda: order.status is OrderStatus.CANCELLED, "the cancel")
    assert sink.positions["BTCUSDT"] == fake.position(uid, "BTCUSDT")[0] == Decimal("-0.002")


async def test_a_client_id_already_at_the_venue_is_looked_up_not_sent_again(
    fake: FakeBybit, uid: str, setup: Setup
) -> None:
    connection, sink, _ = setup
    venue = await venue_for(connection, sink)
    order = sink.new(limit("buy", "0.001", "60000"))
    # An earlier run placed b1-1 already (its reply was lost).
    await place_directly(fake, "b1-1", "buy", "0.001", "60000")
    venue.submit(order)
    await until(lambda: order.status is OrderStatus.ACCEPTED, "the adopted placement")
    (at_venue,) = fake.open_orders(uid)
    assert order.venue_order_id == at_venue["orderId"]
    assert len(fake.create_requests("b1-1")) == 2  # ours was refused as a duplicate (110072)
    assert len(fake.orders(uid)) == 1


async def test_sending_at_full_speed_never_meets_the_venues_limit(
    fake: FakeBybit, uid: str, setup: Setup
) -> None:
    # The venue counts requests as they arrive; the client's windows keep a margin so that
    # sending as fast as the documented limit allows is never answered with retCode 10006.
    connection, sink, _ = setup
    venue = await venue_for(connection, sink)
    orders = [sink.new(market("buy" if i % 2 == 0 else "sell", "0.001")) for i in range(25)]
    for order in orders:  # 2.5 windows of /v5/order/create at 10 per second
        venue.submit(order)
    await until(lambda: all(o.status is OrderStatus.FILLED for o in orders), "25 fills", 20)
    assert len(fake.create_requests()) == 25
    assert connection.account.rest.limiter.stats.pauses == 0  # no 10006 from the venue

"""The shared ProjectX connection against the fake gateway: gap fill after a dropped user hub
(a fill booked exactly once), fail-closed reconciliation per contract (mismatch → blocked →
agreement → unblocked), foreign orders and trades, bot bars (warm-up and live, each once),
and hubs that reconnect with a renewed session token."""

from __future__ import annotations

import time
from decimal import Decimal

from projectx_bot_kit import ES, ES_ID, Owner, bot, connect, connected, limit, until, venue_position

from algotrade.core.events import Bar, OrderFilled, OrderSide
from algotrade.core.orders import OrderRequest, OrderStatus
from algotrade.venues.projectx.feed import ProjectXBotFeed
from algotrade.venues.projectx.reconcile import compare_positions
from testkit.fake_projectx import BarUnit, FakeProjectX


def test_compare_positions() -> None:
    local = {ES: Decimal(2), "MNQZ25": Decimal(-1)}
    venue = {ES: Decimal(2), "ENQZ25": Decimal(1)}
    found = compare_positions(local, venue, skip={"ENQZ25"})
    assert [(m.contract, m.local, m.venue) for m in found] == [("MNQZ25", Decimal(-1), Decimal(0))]
    assert found[0].message == ("position mismatch on MNQZ25: the bots hold -1, ProjectX reports 0")


async def test_fill_while_the_user_hub_is_down_is_booked_once_after_reconnect(
    venue: FakeProjectX, account: int
) -> None:
    owner = Owner()
    async with connected(venue, owner) as connection:
        books = await bot(connection)
        order = books.submit(limit(OrderSide.BUY, "5990"))
        await until(lambda: order.status is OrderStatus.ACCEPTED, "the resting order")
        trade_searches = venue.request_count("/api/Trade/search")
        venue.refuse_websockets()
        assert venue.drop_connections("user") == 1
        await until(lambda: not connection.user_hub.connected, "the user hub down")
        venue.set_price(ES_ID, "5990")  # fills while nobody listens
        assert venue_position(venue, account) == 1
        assert order.status is OrderStatus.ACCEPTED
        venue.refuse_websockets(False)
        await until(lambda: order.status is OrderStatus.FILLED, "the missed fill", 10)
        assert venue.request_count("/api/Trade/search") > trade_searches
        assert (False, owner.changes[0][1]) == owner.changes[0]
        await until(lambda: owner.changes[-1][0] is True, "told the connection is back")
        # The hub and the searches report the same trade again: still one fill.
        await connection.reconcile("requested")
        await connection.sync_trades(order.created_ts)
        assert len(books.of(OrderFilled)) == 1
        assert books.position == 1 == venue_position(venue, account)
        assert owner.blocked == {}


async def test_position_mismatch_blocks_until_the_books_agree_again(
    venue: FakeProjectX, account: int
) -> None:
    owner = Owner()
    async with connected(venue, owner) as connection:
        books = await bot(connection)
        filled = books.submit(OrderRequest(ES, OrderSide.BUY, Decimal(1)))
        await until(lambda: filled.status is OrderStatus.FILLED, "the bot's fill")
        # A person trades the same contract on the account: the venue holds 3, the bot 1.
        venue.web.place_order(account, ES_ID, "market", "buy", 2)
        await until(lambda: len(connection.router.pending_trades()) == 1, "the unclaimed trade")
        report = await connection.reconcile("requested")
        assert report.mismatches == []  # within pending_claim_s the trade may still be claimed
        await elapsed(connection.config.pending_claim_s)
        report = await connection.reconcile("requested")
        assert report.mismatches == [
            "position mismatch on EPZ25: the bots hold 1, ProjectX reports 3"
        ]
        assert owner.blocked == {ES: report.mismatches[0]}
        assert connection.blocked_reason(ES) is not None
        assert any("belongs to no bot" in a for a in owner.alerts)
        assert any("position mismatch on EPZ25" in a for a in owner.alerts)
        # The person closes their part: the books agree again and the bots are unblocked.
        venue.web.place_order(account, ES_ID, "market", "sell", 2)
        await elapsed(connection.config.pending_claim_s)
        report = await connection.reconcile("requested")
        assert report.mismatches == []
        assert owner.blocked == {}
        assert owner.block_calls[-1] == (ES, None)


async def test_foreign_open_order_is_reported_once_and_left_alone(
    venue: FakeProjectX, account: int
) -> None:
    owner = Owner()
    async with connected(venue, owner) as connection:
        order_id = venue.web.place_order(account, ES_ID, "limit", "buy", 1, limit_price=5900)
        await connection.reconcile("requested")
        assert owner.alerts == []  # a restarting bot may still claim it
        await elapsed(connection.config.pending_claim_s)
        await connection.reconcile("requested")
        await connection.reconcile("requested")
        reports = [a for a in owner.alerts if f"open order {order_id}" in a]
        assert len(reports) == 1
        assert "not known to any bot; left untouched" in reports[0]
        assert [o["id"] for o in venue.open_orders(account)] == [order_id]


async def test_orders_with_statuses_7_and_8_do_not_fail_the_order_list(
    venue: FakeProjectX, account: int
) -> None:
    """Defect: 7 and 8 (listed by the gateway's Swagger enum only) were unknown values, and one
    such order failed the parsing of the whole searchOpen reply: nothing was reconciled."""
    owner = Owner()
    async with connected(venue, owner) as connection:
        books = await bot(connection)
        order = books.submit(limit(OrderSide.BUY, "5900"))
        await until(lambda: order.status is OrderStatus.ACCEPTED, "the resting order")
        for status in (7, 8):
            other = venue.web.place_order(account, ES_ID, "limit", "buy", 1, limit_price="5800")
            venue.set_order_status(account, other, status)
        report = await connection.reconcile("requested")
        assert report.orders_adopted == 1
        assert order.status is OrderStatus.ACCEPTED
        assert owner.blocked == {}


async def test_an_undocumented_status_fails_only_that_order_with_one_alert(
    venue: FakeProjectX, account: int
) -> None:
    owner = Owner()
    async with connected(venue, owner) as connection:
        books = await bot(connection)
        order = books.submit(limit(OrderSide.BUY, "5900"))
        await until(lambda: order.status is OrderStatus.ACCEPTED, "the resting order")
        other = venue.web.place_order(account, ES_ID, "limit", "buy", 1, limit_price="5800")
        venue.set_order_status(account, other, 9)  # pushed on the user hub too
        expected = (
            f"order {other} on {ES} has status 9, which the gateway docs do not define: that "
            "order is left out (the account's other orders are still reconciled); check it on "
            "the trading platform"
        )
        await until(lambda: expected in owner.alerts, "the alert of the hub event")
        report = await connection.reconcile("requested")
        await connection.reconcile("requested")
        assert report.orders_adopted == 1  # the bot's order was reconciled
        assert order.status is OrderStatus.ACCEPTED
        assert [a for a in owner.alerts if f"order {other} " in a] == [expected]  # once


async def test_bot_bars_warm_up_and_arrive_live_each_once(
    venue: FakeProjectX, account: int
) -> None:
    now = int(time.time())
    for seconds in range(now - 30, now):
        venue.add_bars(ES_ID, BarUnit.SECOND, 1, [_bar(seconds, 6000 + seconds % 7)])
    async with connected(venue, bar_delay_s=0.05, bar_retries=3) as connection:
        received: list[Bar] = []
        feed = ProjectXBotFeed(connection, "b1", ES_ID, "1s", received.append)
        warm = await feed.start(10)
        assert len(warm) == 10
        assert [b.symbol for b in warm] == [ES_ID] * 10  # the bot's own spelling
        assert [b.ts for b in warm] == sorted({b.ts for b in warm})
        # Live: bars appear at the venue as their seconds close.
        for _ in range(3):
            second = int(time.time())
            await until(lambda s=second: time.time() >= s + 1, "the second to close")
            venue.add_bars(ES_ID, BarUnit.SECOND, 1, [_bar(second, 6001)])
        await until(lambda: len(received) >= 3, "three live bars", 10)
        other: list[Bar] = []
        late = ProjectXBotFeed(connection, "b2", ES, "1s", other.append)
        history = await late.start(5)
        assert history[-1].ts >= received[-1].ts - 1_000_000_000
        feed.stop()
        late.stop()
        stamps = [b.ts for b in received]
        assert stamps == sorted(set(stamps))  # in order, none twice
        assert stamps[0] > warm[-1].ts
        assert all(b.close == 6001.0 for b in received[-2:])


async def test_hubs_reconnect_with_the_renewed_token(venue: FakeProjectX, account: int) -> None:
    venue.set_token_lifetime(4.0)
    owner = Owner()
    connection = await connect(venue, owner, token_renew_margin_s=3.0)
    try:
        books = await bot(connection)
        first = connection.transport.current_token
        await until(lambda: connection.transport.renewals >= 1, "the renewal before expiry", 5)
        assert connection.transport.current_token != first
        await until(
            lambda: (
                connection.user_hub.connection.rotations >= 1
                and connection.market_hub.connection.rotations >= 1
            ),
            "both hubs reconnected with the new token",
        )
        await until(lambda: connection.user_hub.connected, "the user hub back")
        assert connection.transport.logins == 1
        # Events keep flowing on the renewed connection.
        order = books.submit(limit(OrderSide.BUY, "5990"))
        await until(lambda: order.status is OrderStatus.ACCEPTED, "the resting order")
        venue.set_price(ES_ID, "5990")
        await until(lambda: order.status is OrderStatus.FILLED, "its fill")
        assert owner.changes == []  # a planned reconnect is not a lost connection
    finally:
        venue.set_token_lifetime(24 * 3600.0)
        await connection.stop()


async def elapsed(seconds: float) -> None:
    """Let a documented waiting time (the claim window) pass, the loop running meanwhile."""
    done = time.monotonic() + seconds
    await until(lambda: time.monotonic() >= done, f"{seconds} s to pass", seconds + 5)


def _bar(second: int, close: int) -> dict[str, object]:
    px = Decimal(close)
    return {"t": float(second), "o": px, "h": px + 1, "l": px - 1, "c": px, "v": 3}

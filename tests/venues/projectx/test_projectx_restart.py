"""A ProjectX restart after a ``kill -9`` that left trades at the gateway the store never
booked: whether a trade was booked is the store's to say (by trade id), never the trade's age.
The gateway here stamps orders and trades with a clock the test holds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from projectx_bot_kit import (
    ES,
    ES_ID,
    KEY,
    USER,
    Owner,
    bot,
    config_for,
    limit,
    until,
    venue_position,
)

from algotrade.core.events import OrderFilled, OrderSide
from algotrade.core.orders import Order, OrderStatus
from algotrade.core.timeutil import datetime_to_ns
from algotrade.venues.live.reconciliation import RESUME_WINDOW_MS
from algotrade.venues.live.resume import StoredOrder
from algotrade.venues.projectx.config import ENV_API_KEY, ENV_USERNAME
from algotrade.venues.projectx.factory import ProjectXVenueConnection, factory
from algotrade.venues.projectx.order_rules import tag_for
from testkit.fake_projectx import FakeProjectX, OrderType
from testkit.fake_projectx import OrderSide as PxSide

NQ_ID, NQ = "CON.F.US.ENQ.Z25", "ENQZ25"
NS = 1_000_000_000


class Clock:
    """The gateway's clock: the machine's, unless ``held`` at a moment (seconds)."""

    def __init__(self) -> None:
        self.held: float | None = None

    def __call__(self) -> float:
        return time.time() if self.held is None else self.held


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def venue(clock: Clock) -> Iterator[FakeProjectX]:
    with FakeProjectX(keepalive_s=1.0, clock=clock) as fake:
        yield fake


def place_by_api(
    venue: FakeProjectX, account: int, contract: str, kind: OrderType, tag: str
) -> int:
    """A buy of one contract sent through the API with ``tag`` (a bot's order): its id."""
    limit = Decimal(5990) if kind is OrderType.LIMIT else None
    with venue.state.lock:
        order = venue.state.place(
            venue.state.accounts[account], contract, kind, PxSide.BID, 1, limit, None, tag, "api"
        )
    return order.id


class RestartOwner(Owner):
    """The daemon after the restart: both bots configured on the venue (b1 takes no part here
    but its booked position, ``others``)."""

    others: dict[str, Decimal]

    def bot_ids(self) -> list[str]:
        return ["b1", "b2"]

    def local_positions(self) -> dict[str, Decimal]:
        total = super().local_positions()
        for symbol, qty in self.others.items():
            total[symbol] = total.get(symbol, Decimal(0)) + qty
        return total


async def test_a_restart_books_unrecorded_trades_however_much_older_than_the_newest_booked(
    venue: FakeProjectX, account: int, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    created_ns = int((now - 100) * NS)
    # b2's two buys rest at the gateway: b2-5 stored open (with its order id), b2-6 sent just
    # before a crash and never recorded. b1 buys one ES, booked. b2's buys fill; the daemon is
    # killed before either trade is stored. In the next run b2 stays stopped while b1 trades
    # NQ: the newest booked trade, more than the store's minute of trade ids after b2's.
    clock.held = created_ns / NS
    stored_id = place_by_api(venue, account, ES_ID, OrderType.LIMIT, tag_for("b2-5", created_ns))
    lost_id = place_by_api(venue, account, ES_ID, OrderType.LIMIT, tag_for("b2-6", created_ns))
    clock.held = now - 90
    b1_es = place_by_api(
        venue, account, ES_ID, OrderType.MARKET, tag_for("b1-1", int((now - 90) * NS))
    )
    clock.held = now - RESUME_WINDOW_MS / 1000 - 10
    venue.set_price(ES_ID, "5990")
    clock.held = now
    b1_nq = place_by_api(venue, account, NQ_ID, OrderType.MARKET, tag_for("b1-2", int(now * NS)))
    clock.held = None
    trades = {t["orderId"]: t for t in venue.trades(account)}
    unrecorded = sorted(str(trades[i]["id"]) for i in (stored_id, lost_id))
    newest = trades[b1_nq]
    newest_ns = datetime_to_ns(datetime.fromisoformat(newest["creationTimestamp"]))
    owner = RestartOwner(
        (newest_ns, [str(newest["id"])]),
        [StoredOrder("b2-5", str(stored_id), created_ns)],
        booked=[str(trades[b1_es]["id"])],  # older than the minute of ids the store gives
    )
    owner.others = {ES: Decimal(1), NQ: Decimal(1)}  # b1 booked its trades

    # The restart after that, where b2 is started (as a user would).
    monkeypatch.setenv(ENV_USERNAME, USER)
    monkeypatch.setenv(ENV_API_KEY, KEY)
    registered = await factory.connect(config_for(venue, pending_claim_s=15.0), owner)
    assert isinstance(registered, ProjectXVenueConnection)
    connection = registered.connection  # its start reconciled, before b2 adopts
    try:
        report = connection.reconciler.last_report
        assert report is not None
        assert report.mismatches == []
        assert owner.alerts == []
        pending = sorted(str(trade.id) for trade, _ in connection.router.pending_trades())
        assert pending == unrecorded  # offered to their bot, not taken for booked
        # The store decided, not the trades' age: b1's older trade is taken for booked.
        assert sorted(owner.asked) == sorted([*unrecorded, str(trades[b1_es]["id"])])

        books = await bot(connection, "b2", prefix="b2-")
        request = limit(OrderSide.BUY, "5990")
        stored = Order("b2-5", request, created_ts=created_ns, venue_order_id=str(stored_id))
        stored.status = OrderStatus.ACCEPTED
        books.adopt(stored)
        (recovered,) = await books.venue.unrecorded_orders("b2-", 5)
        assert recovered.client_order_id == "b2-6"
        books.adopt(recovered)
        filled = OrderStatus.FILLED
        await until(lambda: stored.status is filled and recovered.status is filled, "both booked")

        # Reported again (a search, the next reconciliation): booked once each.
        await connection.sync_trades(created_ns)
        report = await connection.reconcile("again")
        assert sorted([*stored.fill_ids, *recovered.fill_ids]) == unrecorded
        assert len(books.of(OrderFilled)) == 2
        assert books.position == 2
        assert venue_position(venue, account) == 3
        assert report.mismatches == []
        assert owner.alerts == []
        assert owner.blocked == {}
        assert connection.router.pending_trades() == []
        assert venue.request_count("/api/Order/place") == 0
    finally:
        await connection.stop()

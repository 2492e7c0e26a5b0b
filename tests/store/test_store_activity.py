"""Trading facts: exact money, upserts, idempotent fills, batches, paging and reads."""

from __future__ import annotations

import threading
from dataclasses import replace
from decimal import Decimal

import pytest
from store_factories import (
    SECOND,
    T0,
    account,
    bot_config,
    equity,
    event,
    fill,
    order,
    position,
)

from algotrade.core.events import Liquidity, OrderFilled, OrderSide
from algotrade.core.orders import Order, OrderRequest, OrderType
from algotrade.store import (
    Activity,
    FillRecord,
    OrderRecord,
    Store,
    StoreError,
    UnknownBotError,
)

TINY = Decimal("0.000000012345678901234567")
HUGE = Decimal("123456789012345678901234567890.123456789012345678901234567")


@pytest.fixture
def bot(store: Store) -> str:
    store.insert_bot(bot_config("bot1"))
    return "bot1"


@pytest.mark.parametrize(
    "value",
    [
        TINY,
        HUGE,
        HUGE.copy_negate(),
        Decimal("2.50"),
        Decimal("0"),
        Decimal("-0.000"),
        Decimal("1E-30"),
    ],
)
def test_money_round_trips_exactly(store: Store, bot: str, value: Decimal) -> None:
    store.record_activity(
        bot,
        orders=[order(qty=abs(value) or Decimal(1), limit_price=value, avg_fill_price=value)],
        fills=[fill(price=value, fee=value)],
        account=account(cash=value, realized_pnl=value),
    )
    (stored,) = store.orders(bot).items
    assert stored.limit_price == value
    assert stored.limit_price is not None
    assert stored.limit_price.as_tuple() == value.as_tuple()  # digits, sign and exponent
    assert stored.avg_fill_price == value
    (stored_fill,) = store.fills(bot).items
    assert (stored_fill.price, stored_fill.fee) == (value, value)
    stored_account = store.account(bot)
    assert stored_account is not None
    assert (stored_account.cash, stored_account.realized_pnl) == (value, value)


def test_exponent_and_scale_survive(store: Store, bot: str) -> None:
    store.record_activity(bot, fills=[fill(qty=TINY, price=HUGE, fee=Decimal("2.50"))])
    (stored,) = store.fills(bot).items
    assert stored.qty.as_tuple() == TINY.as_tuple()
    assert stored.price.as_tuple() == HUGE.as_tuple()
    assert str(stored.fee) == "2.50"  # the scale too, not only the value
    assert stored.to_api()["qty"] == "0.000000012345678901234567"


def test_float_money_is_refused(store: Store, bot: str) -> None:
    with pytest.raises(StoreError, match="Decimal"):
        store.record_activity(bot, fills=[fill(price=0.1)])
    assert store.fills(bot).total == 0


def test_orders_are_upserted_by_client_order_id(store: Store, bot: str) -> None:
    store.record_activity(bot, orders=[order(client_order_id="bot1-1")])
    done = order(
        client_order_id="bot1-1",
        status="filled",
        venue_order_id="v9",
        filled_qty=Decimal("0.5"),
        avg_fill_price=Decimal("41999.9"),
        fees=Decimal("0.021"),
        created_ts=T0 + 99,  # ignored: an order's creation time never moves
        updated_ts=T0 + 5 * SECOND,
    )
    store.record_activity(bot, orders=[done])
    page = store.orders(bot)
    assert page.total == 1
    assert page.items[0] == replace(done, created_ts=T0)


def test_fills_are_idempotent_by_trade_id(store: Store, bot: str) -> None:
    assert store.record_activity(bot, fills=[fill(trade_id="t1"), fill(trade_id="t1")]) == []
    assert store.record_activity(bot, fills=[fill(trade_id="t1"), fill(trade_id="t2")]) == []
    page = store.fills(bot)
    assert [(f.trade_id, f.qty) for f in page.items] == [
        ("t1", Decimal("0.25")),
        ("t2", Decimal("0.25")),
    ]


def test_a_fill_conflicting_with_a_stored_one_is_reported_never_dropped_silently(
    store: Store, bot: str
) -> None:
    """Defect: fills were inserted with ON CONFLICT DO NOTHING, so a new fill reusing a stored
    trade id vanished without a word while the bot's position moved."""
    store.record_activity(bot, fills=[fill(trade_id="t1")])
    conflicts = store.record_activity(
        bot, fills=[fill(trade_id="t1", qty=Decimal(9), price=Decimal(7)), fill(trade_id="t2")]
    )
    assert [(c.bot_id, c.trade_id) for c in conflicts] == [(bot, "t1")]
    assert conflicts[0].differences == {
        "qty": (Decimal("0.25"), Decimal(9)),
        "price": (Decimal("42000.1"), Decimal(7)),
    }
    assert "fill t1 conflicts" in conflicts[0].describe()
    assert "qty 0.25 stored vs 9 new" in conflicts[0].describe()
    # The stored fact stands; the rest of the batch is written.
    assert [(f.trade_id, f.qty) for f in store.fills(bot).items] == [
        ("t1", Decimal("0.25")),
        ("t2", Decimal("0.25")),
    ]


def test_two_different_fills_under_one_trade_id_in_one_batch_conflict(
    store: Store, bot: str
) -> None:
    conflicts = store.record_activity(
        bot, fills=[fill(trade_id="t1"), fill(trade_id="t1", fee=Decimal(1))]
    )
    assert [(c.trade_id, sorted(c.differences)) for c in conflicts] == [("t1", ["fee"])]
    assert len(store.fills(bot).items) == 1


def test_absurd_money_is_refused_before_it_is_turned_into_text(store: Store, bot: str) -> None:
    """Defect: 1e-999999999 became a billion-character string on every write attempt."""
    with pytest.raises(StoreError, match="money out of range"):
        store.record_activity(bot, fills=[fill(price=Decimal("1e-999999999"))])
    assert store.fills(bot).items == []


def test_positions_and_account_are_upserted(store: Store, bot: str) -> None:
    store.record_activity(
        bot, positions=[position(symbol="ETHUSDT"), position()], account=account()
    )
    store.record_activity(
        bot,
        positions=[position(qty=Decimal(0), avg_price=Decimal(0), realized_pnl=Decimal("12.5"))],
        account=account(cash=Decimal("10012.4895"), updated_ts=T0 + 9),
    )
    positions = store.positions(bot)
    assert [(p.symbol, p.qty, p.realized_pnl) for p in positions] == [
        ("BTCUSDT", Decimal(0), Decimal("12.5")),
        ("ETHUSDT", Decimal("0.25"), Decimal(0)),
    ]
    assert store.account(bot) == account(cash=Decimal("10012.4895"), updated_ts=T0 + 9)
    assert store.all_accounts() == [account(cash=Decimal("10012.4895"), updated_ts=T0 + 9)]
    assert [p.symbol for p in store.all_positions()] == ["BTCUSDT", "ETHUSDT"]


def test_last_version_in_one_call_wins(store: Store, bot: str) -> None:
    store.record_activity(
        bot,
        orders=[order(status="new"), order(status="accepted"), order(status="filled")],
        positions=[position(qty=Decimal(1)), position(qty=Decimal(2))],
    )
    assert store.orders(bot).items[0].status == "filled"
    assert store.positions(bot)[0].qty == Decimal(2)


def test_unknown_bot_writes_nothing(store: Store, bot: str) -> None:
    with pytest.raises(UnknownBotError, match="ghost"):
        store.record_activity_batch(
            [
                (bot, Activity(orders=[order()], events=[event()])),
                ("ghost", Activity(orders=[order("ghost")])),
            ]
        )
    assert store.orders(bot).total == 0
    assert store.events(None).total == 0  # one transaction: the known bot's part rolled back


def test_records_must_belong_to_their_bot(store: Store, bot: str) -> None:
    with pytest.raises(ValueError, match="other"):
        store.record_activity(bot, fills=[fill("other")])


def test_batch_across_bots_in_one_call(store: Store) -> None:
    store.insert_bots([bot_config(f"b{i}") for i in range(3)])
    items = [
        (
            f"b{i}",
            Activity(
                orders=[order(f"b{i}", f"b{i}-1")],
                fills=[fill(f"b{i}", "t1")],
                positions=[position(f"b{i}")],
                account=account(f"b{i}"),
                equity=[equity(f"b{i}", T0), equity(f"b{i}", T0 + SECOND)],
                events=[event(f"b{i}")],
            ),
        )
        for i in range(3)
    ]
    store.record_activity_batch([*items, ("b0", Activity())])
    assert store.order_fill_counts() == {f"b{i}": (1, 1) for i in range(3)}
    assert all(store.equity(f"b{i}").total == 2 for i in range(3))
    assert store.events(None).total == 3
    store.record_activity_batch([])


def test_paging_is_ordered_and_counts_the_whole_list(store: Store, bot: str) -> None:
    orders = [order(client_order_id=f"bot1-{n}", created_ts=T0 + (n % 5)) for n in range(25)]
    store.record_activity(bot, orders=orders)
    expected = sorted(orders, key=lambda o: (o.created_ts, o.client_order_id))
    page = store.orders(bot, offset=20, limit=10)
    assert (page.total, page.offset, page.limit) == (25, 20, 10)
    assert page.items == expected[20:]
    assert store.orders(bot, offset=0, limit=7).items == expected[:7]
    assert store.orders(bot, limit=0).items == []
    assert store.orders(bot, limit=0).total == 25
    with pytest.raises(ValueError, match="offset"):
        store.orders(bot, offset=-1)


def test_fills_and_equity_pages_are_in_time_order(store: Store, bot: str) -> None:
    store.record_activity(
        bot,
        fills=[fill(trade_id=f"t{n}", ts=T0 + (10 - n) * SECOND) for n in range(10)],
        equity=[equity(ts=T0 + (10 - n) * SECOND, equity=Decimal(n)) for n in range(10)],
    )
    fills = store.fills(bot, offset=2, limit=3)
    assert fills.total == 10
    assert [f.trade_id for f in fills.items] == ["t7", "t6", "t5"]
    points = store.equity(bot, limit=2)
    assert points.total == 10
    assert [p.equity for p in points.items] == [Decimal(9), Decimal(8)]


def test_open_orders(store: Store, bot: str) -> None:
    statuses = ["new", "accepted", "partially_filled", "filled", "cancelled", "rejected"]
    store.record_activity(
        bot,
        orders=[
            order(client_order_id=f"bot1-{n}", status=status, created_ts=T0 + n)
            for n, status in enumerate(statuses)
        ],
    )
    assert [o.status for o in store.open_orders(bot)] == statuses[:3]
    page = store.orders(bot, open_only=True, limit=2)
    assert page.total == 3
    assert [o.status for o in page.items] == statuses[:2]


def test_trade_ids_of_open_orders_and_latest_fills(store: Store, bot: str) -> None:
    store.record_activity(
        bot,
        orders=[
            order(client_order_id="bot1-1", status="partially_filled"),
            order(client_order_id="bot1-2", status="filled"),
        ],
        fills=[
            fill(trade_id="a2", client_order_id="bot1-1", ts=T0 + 2 * SECOND),
            fill(trade_id="a1", client_order_id="bot1-1", ts=T0 + SECOND),
            fill(trade_id="b1", client_order_id="bot1-2", ts=T0 + 3 * SECOND),
        ],
    )
    assert store.open_order_trade_ids(bot) == {"bot1-1": ["a1", "a2"]}  # oldest first
    assert store.open_order_trade_ids("someone-else") == {}
    newest, ids = store.latest_fills([bot])
    assert newest == T0 + 3 * SECOND
    assert sorted(ids) == ["a1", "a2", "b1"]  # all within a minute of the newest
    assert store.latest_fills([]) == (0, [])
    assert store.latest_fills(["someone-else"]) == (0, [])


def test_booked_trade_ids_and_open_orders_of_several_bots(store: Store, bot: str) -> None:
    """After a restart, a venue's account asks which of the executions the venue reports were
    booked (by trade id, whatever their age) and which orders were open, for its bots."""
    store.insert_bot(bot_config("bot2"))
    store.insert_bot(bot_config("elsewhere"))
    store.record_activity(
        bot,
        orders=[
            order(client_order_id="bot1-1", status="filled", created_ts=T0),
            order(client_order_id="bot1-2", status="accepted", created_ts=T0 + 5 * SECOND),
        ],
        fills=[fill(trade_id="old", client_order_id="bot1-1", ts=T0 - 3600 * SECOND)],
    )
    store.record_activity(
        "bot2",
        orders=[order("bot2", "bot2-1", status="partially_filled", created_ts=T0)],
        fills=[fill("bot2", "new", client_order_id="bot2-1", ts=T0 + SECOND)],
    )
    store.record_activity("elsewhere", fills=[fill("elsewhere", "theirs")])

    ours = [bot, "bot2"]
    asked = ["old", "new", "theirs", "never", "old"]
    assert store.booked_trade_ids(ours, asked) == {"old", "new"}
    assert store.booked_trade_ids(["bot2"], asked) == {"new"}
    assert store.booked_trade_ids([], asked) == set()
    assert store.booked_trade_ids(ours, []) == set()
    # More ids than one query carries: asked in batches, every one answered.
    many = [f"x{n}" for n in range(1_234)] + ["new"]
    assert store.booked_trade_ids(ours, many) == {"new"}

    opened = store.open_orders_of(ours)
    assert [(o.bot_id, o.client_order_id) for o in opened] == [
        ("bot2", "bot2-1"),
        (bot, "bot1-2"),
    ]  # oldest first
    assert store.open_orders_of([]) == []
    assert store.open_orders_of(["elsewhere"]) == []


def test_max_order_seq(store: Store, bot: str) -> None:
    assert store.max_order_seq(bot, "bot1-") == 0
    ids = ["bot1-1", "bot1-2", "bot1-10", "bot1-x", "bot1-5a", "BOT1-99", "other-50", "bot1_7"]
    store.record_activity(bot, orders=[order(client_order_id=i) for i in ids])
    assert store.max_order_seq(bot, "bot1-") == 10
    assert store.max_order_seq(bot, "bot1_") == 7  # "_" is not a LIKE wildcard here
    assert store.max_order_seq(bot, "bot1%") == 0
    assert store.max_order_seq("someone-else", "bot1-") == 0


def test_events_log(store: Store, bot: str) -> None:
    store.add_events([event(None, "daemon up"), event(bot, "a", data={"price": Decimal("1.50")})])
    store.record_activity(bot, events=[event(bot, "b"), event(None, "c")])
    everything = store.events(None)
    assert [e.message for e in everything.items] == ["daemon up", "a", "b", "c"]
    ids = [e.id for e in everything.items if e.id is not None]
    assert len(ids) == 4
    assert ids == sorted(ids)
    mine = store.events(bot, offset=1, limit=5)
    assert mine.total == 2
    assert [e.message for e in mine.items] == ["b"]
    first = everything.items[1]
    assert first.ts == event().ts
    assert first.ts.tzinfo is not None
    assert first.data == {"price": "1.5"}  # money in event data is written as exact text
    assert first.to_api()["timestamp"] == "2024-05-01T12:00:00.123456Z"


def test_records_from_core_objects_and_enums(store: Store, bot: str) -> None:
    request = OrderRequest("BTCUSDT", OrderSide.SELL, Decimal("0.1"), OrderType.LIMIT, Decimal(1))
    core_order = Order("bot1-3", request, created_ts=T0)
    core_fill = OrderFilled(
        "bot1-3", "v1", "t9", "BTCUSDT", OrderSide.SELL, Decimal("0.1"), Decimal(1),
        Decimal("0.001"), Liquidity.TAKER, T0 + 1,
    )  # fmt: skip
    store.record_activity(
        bot,
        orders=[OrderRecord.from_order(bot, core_order)],
        fills=[FillRecord.from_fill(bot, core_fill)],
    )
    (stored,) = store.orders(bot).items
    assert (stored.side, stored.type, stored.tif, stored.status) == ("sell", "limit", "gtc", "new")
    assert store.fills(bot).items[0].liquidity == "taker"
    # StrEnum members straight in a record are stored as their values.
    store.record_activity(bot, fills=[fill(trade_id="t10", side=OrderSide.BUY)])
    assert store.fills(bot).items[-1].side == "buy"


def test_to_api_shapes(store: Store, bot: str) -> None:
    store.record_activity(bot, orders=[order(limit_price=TINY)], equity=[equity()])
    api = store.orders(bot).items[0].to_api()
    assert api["limit_price"] == "0.000000012345678901234567"
    assert api["stop_price"] is None
    assert api["created_at"] == "2023-11-14T22:13:20Z"
    assert api["created_ts"] == T0
    point = store.equity(bot).items[0].to_api()
    assert (point["timestamp"], point["ts"], point["equity"]) == (
        "2023-11-14T22:13:20Z",
        T0,
        "10000.5",
    )
    bot_api = store.load_bots()[0].to_api()
    assert bot_api["created_at"].endswith("Z")


def test_readers_in_other_threads_while_writing(store: Store, bot: str) -> None:
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                page = store.orders(bot, limit=5)
                assert page.total >= len(page.items)
                store.count_bots()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        for n in range(100):
            store.record_activity(bot, orders=[order(client_order_id=f"bot1-{n}")])
    finally:
        done.set()
        for reader in readers:
            reader.join()
    assert errors == []
    assert store.orders(bot).total == 100

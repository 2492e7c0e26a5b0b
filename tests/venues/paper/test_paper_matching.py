"""Paper venue semantics (docs/backtest-semantics.md), driven through the real engine."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from algotrade.core.engine import Engine
from algotrade.core.events import Bar, Liquidity, OrderSide
from algotrade.core.instruments import Instrument, InstrumentRegistry
from algotrade.core.orders import Order, OrderRequest, OrderStatus, OrderType, TimeInForce
from algotrade.core.portfolio import Portfolio
from algotrade.core.strategy import Strategy
from algotrade.venues.paper import PaperVenue, PaperVenueConfig
from testkit.factories import MINUTE, bar

D = Decimal
Action = Callable[[Engine], None]


class Script(Strategy):
    """Runs ``actions[i]`` on the i-th bar."""

    name = "script"

    def __init__(self, actions: dict[int, Action]) -> None:
        super().__init__()
        self.actions = actions
        self.seen = 0

    def on_bar(self, bar: Bar) -> None:
        action = self.actions.get(self.seen)
        self.seen += 1
        if action is not None:
            action(self.ctx)  # type: ignore[arg-type]


def run(
    bars: list[Bar],
    actions: dict[int, Action],
    *,
    taker: str = "0",
    maker: str = "0",
    slippage_bps: str = "0",
    tick: str = "0.01",
) -> Engine:
    registry = InstrumentRegistry({"X": Instrument("X", tick_size=D(tick), lot_size=D("0.001"))})
    venue = PaperVenue(
        PaperVenueConfig(
            taker_fee_rate=D(taker), maker_fee_rate=D(maker), slippage_bps=D(slippage_bps)
        ),
        registry,
    )
    engine = Engine(
        Script(actions), venue, portfolio=Portfolio(D(10_000), registry), instruments=registry
    )
    engine.start()
    for b in bars:
        engine.on_bar(b)
    engine.stop()
    return engine


def limit(side: str, qty: str, price: str, **kw: object) -> Action:
    request = OrderRequest(
        "X", OrderSide(side), D(qty), OrderType.LIMIT, limit_price=D(price), **kw
    )  # type: ignore[arg-type]
    return lambda e: e.submit_order(request) and None


def stop(side: str, qty: str, price: str) -> Action:
    request = OrderRequest("X", OrderSide(side), D(qty), OrderType.STOP, stop_price=D(price))
    return lambda e: e.submit_order(request) and None


BARS = [
    bar(0, 100, 101, 99, 100),
    bar(1, 102, 104, 101, 103),
    bar(2, 103, 106, 95, 96),
    bar(3, 90, 92, 88, 91),
]


def test_market_order_fills_at_next_open_with_taker_fee() -> None:
    engine = run(BARS, {0: lambda e: e.target_position("X", 2)}, taker="0.001")
    (f,) = engine.fills
    assert (f.ts, f.side, f.qty, f.price) == (1 * MINUTE, OrderSide.BUY, D(2), D(102))
    assert f.fee == D("0.204")
    assert f.liquidity is Liquidity.TAKER


def test_market_slippage_moves_price_against_trader_and_rounds_adversely() -> None:
    engine = run(
        BARS,
        {0: lambda e: e.target_position("X", 1), 1: lambda e: e.target_position("X", 0)},
        slippage_bps="7",
    )
    buy, sell = engine.fills
    assert buy.price == D("102.08")  # 102 × 1.0007 = 102.0714 → up to the tick
    assert sell.price == D("102.92")  # 103 × 0.9993 = 102.9279 → down to the tick


def test_buy_limit_fills_at_limit_when_range_touches_it_as_maker() -> None:
    engine = run(BARS, {0: limit("buy", "1", "97")}, maker="0.0002", taker="0.001")
    (f,) = engine.fills
    assert (f.ts, f.price, f.liquidity) == (2 * MINUTE, D(97), Liquidity.MAKER)
    assert f.fee == D("0.0194")


def test_buy_limit_fills_at_open_when_bar_gaps_through() -> None:
    engine = run(BARS, {2: limit("buy", "1", "93")})
    (f,) = engine.fills
    assert (f.ts, f.price) == (3 * MINUTE, D(90))


def test_sell_limit_and_untouched_limit() -> None:
    engine = run(BARS, {0: limit("sell", "1", "105"), 1: limit("sell", "1", "200")})
    (f,) = engine.fills
    assert (f.ts, f.price, f.side) == (2 * MINUTE, D(105), OrderSide.SELL)
    assert len(engine.open_orders()) == 1


def test_marketable_limit_is_taker() -> None:
    engine = run(BARS, {0: limit("buy", "1", "103")}, maker="0", taker="0.001")
    (f,) = engine.fills
    assert (f.price, f.liquidity) == (D(102), Liquidity.TAKER)


def test_stop_orders_trigger_on_range_and_gap() -> None:
    engine = run(BARS, {0: stop("buy", "1", "103.5"), 2: stop("sell", "1", "94")})
    up, down = engine.fills
    assert (up.ts, up.price) == (1 * MINUTE, D("103.5"))
    assert (down.ts, down.price) == (3 * MINUTE, D(90))  # gapped below the stop: the open


def test_order_is_never_matched_against_the_bar_it_was_placed_on() -> None:
    # Bar 2's own range contains 97, but the order is placed during bar 2.
    engine = run(BARS, {2: limit("buy", "1", "97")})
    (f,) = engine.fills
    assert (f.ts, f.price) == (3 * MINUTE, D(90))  # the next bar, which gapped below 97
    assert f.liquidity is Liquidity.TAKER  # marketable on arrival: the close was 96


def test_cancel_removes_working_order() -> None:
    def place_and_cancel(e: Engine) -> None:
        coid = e.submit_order(
            OrderRequest("X", OrderSide.BUY, D(1), OrderType.LIMIT, limit_price=D(97))
        )
        assert coid is not None
        e.cancel_order(coid)

    engine = run(BARS, {0: place_and_cancel})
    assert engine.fills == []
    (order,) = engine.orders.values()
    assert order.status is OrderStatus.CANCELLED


def test_ioc_limit_not_marketable_is_cancelled() -> None:
    engine = run(BARS, {0: limit("buy", "1", "97", tif=TimeInForce.IOC)})
    (order,) = engine.orders.values()
    assert order.status is OrderStatus.CANCELLED
    assert "IOC" in order.reason
    assert engine.fills == []


def test_post_only_that_would_take_is_rejected() -> None:
    engine = run(BARS, {0: limit("buy", "1", "100.5", tif=TimeInForce.POST_ONLY)})
    (order,) = engine.orders.values()
    assert order.status is OrderStatus.REJECTED
    assert "post-only" in order.reason


def test_reduce_only_is_clamped_to_position_and_remainder_cancelled() -> None:
    def reduce_more(e: Engine) -> None:
        e.submit_order(OrderRequest("X", OrderSide.SELL, D(5), reduce_only=True))

    engine = run(BARS, {0: lambda e: e.target_position("X", 2), 1: reduce_more})
    _buy, sell = engine.fills
    assert sell.qty == D(2)
    assert engine.position("X") == 0
    order: Order = engine.orders["o2"]
    assert order.status is OrderStatus.CANCELLED
    assert order.filled_qty == D(2)


def test_reduce_only_on_flat_position_is_rejected_before_the_venue() -> None:
    engine = run(
        BARS,
        {
            0: lambda e: (
                e.submit_order(OrderRequest("X", OrderSide.SELL, D(1), reduce_only=True)) and None
            )
        },
    )
    (order,) = engine.orders.values()
    assert order.status is OrderStatus.REJECTED
    assert "reduce-only" in order.reason


def test_resubmitting_same_client_order_id_is_idempotent() -> None:
    engine = run(BARS, {0: lambda e: e.target_position("X", 1)})
    venue = engine.venue
    assert isinstance(venue, PaperVenue)
    venue.submit(engine.orders["o1"])  # a retry after the fill
    assert len(engine.fills) == 1


@pytest.mark.parametrize(("target", "expected"), [(3, D(3)), (-2, D(-2)), (0, D(0))])
def test_target_position_accounts_for_pending_market_orders(target, expected) -> None:
    def twice(e: Engine) -> None:
        e.target_position("X", target)
        e.target_position("X", target)  # must not double the order

    engine = run(BARS, {0: twice})
    assert engine.position("X") == expected
    assert len(engine.fills) == (0 if target == 0 else 1)


def test_exact_touch_of_a_decimal_limit_by_a_float_bar_fills() -> None:
    # 0.1 as a float is 0.1000000000000000055…; the touch must still count.
    bars = [bar(0, 0.2, 0.2, 0.2, 0.2), bar(1, 0.2, 0.3, 0.1, 0.2)]
    engine = run(bars, {0: limit("buy", "1", "0.1")})
    (f,) = engine.fills
    assert f.price == D("0.1")


def test_cancel_from_the_acceptance_callback_is_honoured() -> None:
    class CancelOnAccept(Strategy):
        name = "cancel_on_accept"

        def on_start(self) -> None:
            self.ctx.submit_order(
                OrderRequest("X", OrderSide.BUY, D(1), OrderType.LIMIT, limit_price=D(101))
            )

        def on_order(self, event: object) -> None:
            from algotrade.core.events import OrderAccepted

            if isinstance(event, OrderAccepted):
                self.ctx.cancel_order(event.client_order_id)

    venue = PaperVenue()
    engine = Engine(CancelOnAccept(), venue, portfolio=Portfolio(D(1000)))
    engine.start()
    for b in BARS:
        engine.on_bar(b)
    assert engine.fills == []
    (order,) = engine.orders.values()
    assert order.status is OrderStatus.CANCELLED

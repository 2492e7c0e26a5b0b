"""Paper venue amendments (docs/backtest-semantics.md, "Amending an order"), through the engine."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from algotrade.core.engine import Engine
from algotrade.core.events import (
    Bar,
    Liquidity,
    OrderAccepted,
    OrderAmended,
    OrderAmendRejected,
    OrderEvent,
    OrderSide,
)
from algotrade.core.instruments import Instrument, InstrumentRegistry
from algotrade.core.orders import Order, OrderRequest, OrderStatus, OrderType, TimeInForce
from algotrade.core.portfolio import Portfolio
from algotrade.core.strategy import Strategy
from algotrade.venues.paper import PaperVenue, PaperVenueConfig
from testkit.factories import MINUTE, bar

D = Decimal
Action = Callable[[Engine, "Script"], None]

BARS = [
    bar(0, 100, 101, 99, 100),
    bar(1, 100, 101, 99, 100),
    bar(2, 101, 103, 100, 102),
    bar(3, 102, 104, 96, 97),
]


class Script(Strategy):
    """Runs ``actions[i]`` on the i-th bar and keeps the order events it is told about."""

    name = "amend-script"

    def __init__(self, actions: dict[int, Action]) -> None:
        super().__init__()
        self.actions = actions
        self.seen = 0
        self.events: list[OrderEvent] = []
        self.coid = ""

    def on_bar(self, bar: Bar) -> None:
        action = self.actions.get(self.seen)
        self.seen += 1
        if action is not None:
            action(self.ctx, self)  # type: ignore[arg-type]

    def on_order(self, event: OrderEvent) -> None:
        self.events.append(event)


def run(actions: dict[int, Action], bars: list[Bar] = BARS) -> tuple[Engine, Script]:
    registry = InstrumentRegistry({"X": Instrument("X", tick_size=D("0.01"), lot_size=D("0.001"))})
    venue = PaperVenue(
        PaperVenueConfig(taker_fee_rate=D("0.001"), maker_fee_rate=D("0.0002")), registry
    )
    script = Script(actions)
    engine = Engine(script, venue, portfolio=Portfolio(D(10_000), registry), instruments=registry)
    engine.start()
    for b in bars:
        engine.on_bar(b)
    engine.stop()
    return engine, script


def place(
    side: str, qty: str, price: str, kind: OrderType = OrderType.LIMIT, **kw: object
) -> Action:
    def action(engine: Engine, script: Script) -> None:
        prices = {"limit_price": D(price)} if kind is OrderType.LIMIT else {"stop_price": D(price)}
        request = OrderRequest("X", OrderSide(side), D(qty), kind, **prices, **kw)  # type: ignore[arg-type]
        coid = engine.submit_order(request)
        assert coid is not None
        script.coid = coid

    return action


def amend(**kwargs: object) -> Action:
    return lambda engine, script: engine.amend_order(script.coid, **kwargs)  # type: ignore[arg-type]


def test_amend_is_applied_synchronously() -> None:
    seen: list[Order] = []

    def amend_and_look(engine: Engine, script: Script) -> None:
        engine.amend_order(script.coid, qty="2", price="96")
        seen.append(engine.orders[script.coid])

    _, script = run({0: place("buy", "1", "95"), 1: amend_and_look}, BARS[:2])
    (order,) = seen
    assert (order.qty, order.request.limit_price) == (D(2), D(96))
    assert order.status is OrderStatus.ACCEPTED
    amended = script.events[-1]
    assert amended == OrderAmended(script.coid, D(2), D(96), None, 1 * MINUTE)


def test_limit_moved_through_the_market_fills_at_next_open_as_taker() -> None:
    # Resting at 95 (maker); moved to 103 above the last close 100: marketable, so taker, and
    # bar 2 opens at 101 <= 103: filled at the open.
    engine, _ = run({0: place("buy", "1", "95"), 1: amend(price=103)})
    (f,) = engine.fills
    assert (f.ts, f.price, f.qty, f.liquidity) == (2 * MINUTE, D(101), D(1), Liquidity.TAKER)
    assert f.fee == D("0.101")


def test_amended_qty_is_what_fills_and_a_resting_order_stays_maker() -> None:
    engine, _ = run({0: place("buy", "1", "97"), 1: amend(qty="2.5")})
    (f,) = engine.fills
    assert (f.ts, f.price, f.qty, f.liquidity) == (3 * MINUTE, D(97), D("2.5"), Liquidity.MAKER)
    assert engine.position("X") == D("2.5")


def test_limit_moved_away_does_not_fill() -> None:
    # Without the amendment 98.5 would fill on bar 3 (low 96).
    engine, _ = run({0: place("buy", "1", "98.5"), 1: amend(price=90)})
    assert engine.fills == []
    (order,) = engine.open_orders()
    assert order.request.limit_price == D(90)


def test_amended_order_is_not_matched_against_the_bar_it_was_amended_on() -> None:
    # Amended from the on_order callback of its own acceptance, during bar 1: bar 1's low (99)
    # reaches the new limit 99.5, but the order waits for bar 2 (open 101, low 100: no fill)
    # and fills on bar 3 (low 96) at the limit.
    def place_then_amend(engine: Engine, script: Script) -> None:
        place("buy", "1", "90")(engine, script)
        engine.amend_order(script.coid, price="99.5")

    engine, _ = run({1: place_then_amend})
    (f,) = engine.fills
    assert (f.ts, f.price) == (3 * MINUTE, D("99.5"))


def test_post_only_moved_through_the_market_is_refused_and_stays() -> None:
    engine, script = run(
        {0: place("buy", "1", "95", tif=TimeInForce.POST_ONLY), 1: amend(price=103)}, BARS[:3]
    )
    rejected = script.events[-1]
    assert isinstance(rejected, OrderAmendRejected)
    assert "post-only" in rejected.reason
    (order,) = engine.open_orders()
    assert order.request.limit_price == D(95)
    assert engine.fills == []


def test_stop_price_amendment() -> None:
    # Buy stop at 110 would never trigger; lowered to 102.5 it triggers on bar 2 (high 103).
    engine, _ = run({0: place("buy", "1", "110", OrderType.STOP), 1: amend(stop_price="102.5")})
    (f,) = engine.fills
    assert (f.ts, f.price, f.liquidity) == (2 * MINUTE, D("102.5"), Liquidity.TAKER)


def test_venue_refuses_an_order_that_is_not_working() -> None:
    events: list[OrderEvent] = []

    class Sink:
        def on_order_event(self, event: OrderEvent) -> None:
            events.append(event)

    venue = PaperVenue()
    venue.bind(Sink())
    venue.amend("ghost", qty=D(1))
    (rejected,) = events
    assert isinstance(rejected, OrderAmendRejected)
    assert "not working" in rejected.reason
    request = OrderRequest("X", OrderSide.SELL, D(2), OrderType.LIMIT, limit_price=D(50))
    venue.submit(Order("o1", request, created_ts=0))
    assert isinstance(events[-1], OrderAccepted)
    venue.amend("o1", qty=D(0))
    assert isinstance(events[-1], OrderAmendRejected)

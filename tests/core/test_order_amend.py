"""Order amendment in core: ``Order.apply`` and the engine's ``amend_order`` path."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from algotrade.core.engine import Engine
from algotrade.core.errors import InvalidOrderTransitionError, OrderRejectedError
from algotrade.core.events import (
    MarketEvent,
    OrderAccepted,
    OrderAmended,
    OrderAmendRejected,
    OrderCancelled,
    OrderEvent,
    OrderFilled,
    OrderSide,
)
from algotrade.core.instruments import Instrument, InstrumentRegistry
from algotrade.core.orders import Order, OrderRequest, OrderStatus, OrderType
from algotrade.core.portfolio import Portfolio
from algotrade.core.ports import AccountView, VenueEventSink
from algotrade.core.risk_policy import BasicRiskPolicy
from algotrade.core.strategy import Strategy
from testkit.factories import bar, fill

D = Decimal


def _limit_order(qty: str = "3", price: str = "100") -> Order:
    request = OrderRequest("X", OrderSide.BUY, D(qty), OrderType.LIMIT, limit_price=D(price))
    return Order("o1", request, created_ts=0)


# ---------------------------------------------------------------- Order.apply
def test_amended_replaces_qty_and_price_and_keeps_status_and_fills() -> None:
    order = _limit_order()
    order.apply(OrderAccepted("o1", "v1", 1))
    order.apply(fill("buy", "1", "100", "0.5", ts=2))
    order.apply(OrderAmended("o1", D(5), D("99.5"), None, 3))
    assert order.request.qty == D(5)
    assert order.request.limit_price == D("99.5")
    assert order.request.type is OrderType.LIMIT
    assert order.request.symbol == "X"
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert (order.filled_qty, order.fees, order.remaining_qty) == (D(1), D("0.5"), D(4))
    assert order.updated_ts == 3


def test_amended_none_price_leaves_price_unchanged() -> None:
    order = _limit_order()
    order.apply(OrderAccepted("o1", "v1", 1))
    order.apply(OrderAmended("o1", D(2), None, None, 2))
    assert (order.qty, order.request.limit_price) == (D(2), D(100))
    assert order.status is OrderStatus.ACCEPTED


def test_amended_qty_below_filled_is_illegal() -> None:
    order = _limit_order()
    order.apply(fill("buy", "2", "100", ts=1))
    with pytest.raises(InvalidOrderTransitionError, match="below the filled"):
        order.apply(OrderAmended("o1", D(1), None, None, 2))
    assert order.qty == D(3)


def test_amended_to_the_filled_qty_completes_the_order() -> None:
    order = _limit_order()
    order.apply(fill("buy", "2", "100", ts=1))
    order.apply(OrderAmended("o1", D(2), None, None, 2))
    assert order.status is OrderStatus.FILLED
    assert not order.is_open


def test_amending_a_closed_order_is_illegal() -> None:
    order = _limit_order()
    order.apply(OrderCancelled("o1", "by request", 1))
    with pytest.raises(InvalidOrderTransitionError, match="cannot amend"):
        order.apply(OrderAmended("o1", D(2), None, None, 2))


def test_amend_rejected_leaves_the_order_as_it_was() -> None:
    order = _limit_order()
    order.apply(OrderAccepted("o1", "v1", 1))
    before = (order.request, order.status, order.updated_ts, order.reason)
    order.apply(OrderAmendRejected("o1", "venue says no", 5))
    assert (order.request, order.status, order.updated_ts, order.reason) == before
    assert order.is_open


# ---------------------------------------------------------------- engine
@dataclass
class RecordingVenue:
    """Accepts every order; records amend requests; answers them only when told to."""

    name: str = "rec"
    simulated: bool = True
    amends: list[tuple[str, Decimal | None, Decimal | None, Decimal | None]] = field(
        default_factory=list
    )
    sink: VenueEventSink | None = None

    def bind(self, sink: VenueEventSink) -> None:
        self.sink = sink

    def submit(self, order: Order) -> None:
        assert self.sink is not None
        coid = order.client_order_id
        self.sink.on_order_event(OrderAccepted(coid, "V" + coid, 0))

    def adopt(self, order: Order) -> None:
        self.submit(order)

    def cancel(self, client_order_id: str) -> None:
        assert self.sink is not None
        self.sink.on_order_event(OrderCancelled(client_order_id, "by request", 0))

    def amend(
        self,
        client_order_id: str,
        *,
        qty: Decimal | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> None:
        self.amends.append((client_order_id, qty, limit_price, stop_price))

    def on_market(self, event: MarketEvent) -> None:
        pass


class Recorder(Strategy):
    name = "recorder"

    def __init__(self) -> None:
        super().__init__()
        self.events: list[OrderEvent] = []
        self.fills: list[OrderFilled] = []

    def on_order(self, event: OrderEvent) -> None:
        self.events.append(event)

    def on_fill(self, fill: OrderFilled) -> None:
        self.fills.append(fill)


class CapPolicy(BasicRiskPolicy):
    """Refuses any order above ``cap`` (records what it was asked)."""

    def __init__(self, cap: Decimal) -> None:
        super().__init__()
        self.cap = cap
        self.checked: list[OrderRequest] = []

    def check(self, request: OrderRequest, account: AccountView) -> None:
        self.checked.append(request)
        super().check(request, account)
        if request.qty > self.cap:
            raise OrderRejectedError(f"qty {request.qty} above cap {self.cap}")


def _engine(policy: BasicRiskPolicy | None = None) -> tuple[Engine, RecordingVenue, Recorder]:
    registry = InstrumentRegistry(
        {"X": Instrument("X", tick_size=D("0.5"), lot_size=D("0.1"), min_qty=D("0.1"))}
    )
    venue = RecordingVenue()
    strategy = Recorder()
    engine = Engine(
        strategy,
        venue,
        portfolio=Portfolio(D(100_000), registry),
        instruments=registry,
        risk_policy=policy,
    )
    engine.start()
    engine.on_bar(bar(0, 100, 101, 99, 100))
    return engine, venue, strategy


def _place(engine: Engine, qty: str = "2", price: str = "95") -> str:
    request = OrderRequest("X", OrderSide.BUY, D(qty), OrderType.LIMIT, limit_price=D(price))
    coid = engine.submit_order(request)
    assert coid is not None
    return coid


def test_engine_sends_rounded_changed_fields_only() -> None:
    engine, venue, _ = _engine()
    coid = _place(engine)
    engine.amend_order(coid, price=94.3)  # tick 0.5: nearest is 94.5
    engine.amend_order(coid, qty="3.17")  # lot 0.1: toward zero
    assert venue.amends == [(coid, None, D("94.5"), None), (coid, D("3.1"), None, None)]
    assert engine.orders[coid].request.limit_price == D(95)  # unchanged until the venue says


def test_engine_applies_the_venue_answer_and_tells_strategy_and_listeners() -> None:
    engine, venue, strategy = _engine()
    seen: list[tuple[str, Decimal, OrderEvent]] = []
    engine.add_listener(lambda order, event: seen.append((order.client_order_id, order.qty, event)))
    coid = _place(engine)
    engine.amend_order(coid, qty=4)
    assert venue.sink is not None
    amended = OrderAmended(coid, D(4), None, None, 7)
    venue.sink.on_order_event(amended)
    order = engine.orders[coid]
    assert order.qty == D(4)
    assert order.is_open
    assert engine.open_orders() == [order]
    assert strategy.events[-1] == amended
    assert seen[-1] == (coid, D(4), amended)


def test_amend_of_unknown_or_closed_order_sends_nothing() -> None:
    logged: list[str] = []
    engine, venue, strategy = _engine()
    engine._log = logged.append  # capture the engine's log
    engine.amend_order("nope", qty=1)
    coid = _place(engine)
    engine.cancel_order(coid)
    engine.amend_order(coid, price=90)
    assert venue.amends == []
    assert not any(isinstance(e, OrderAmendRejected) for e in strategy.events)
    assert "amend nope rejected: unknown order" in logged[0]
    assert f"amend {coid} rejected: the order is cancelled" in logged[1]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"qty": "0.04"}, "amend qty: expected a positive quantity"),
        ({"stop_price": 90}, "amend stop_price: applies to stop orders only"),
        ({"price": 0.1}, "amend price: expected a positive price"),
        ({"qty": 50}, "qty 50.0 above cap 10"),
    ],
)
def test_refused_amendment_reaches_on_order_and_sends_nothing(
    kwargs: dict[str, object], reason: str
) -> None:
    engine, venue, strategy = _engine(CapPolicy(D(10)))
    coid = _place(engine)
    engine.amend_order(coid, **kwargs)  # type: ignore[arg-type]
    assert venue.amends == []
    rejected = strategy.events[-1]
    assert isinstance(rejected, OrderAmendRejected)
    assert rejected.client_order_id == coid
    assert reason in rejected.reason
    order = engine.orders[coid]
    assert order.is_open
    assert order.qty == D(2)
    assert order.request.limit_price == D(95)


def test_price_of_a_market_order_cannot_be_amended() -> None:
    engine, venue, strategy = _engine()
    coid = engine.submit_order(OrderRequest("X", OrderSide.BUY, D(1)))
    assert coid is not None
    engine.amend_order(coid, price=100)
    assert venue.amends == []
    last = strategy.events[-1]
    assert isinstance(last, OrderAmendRejected)
    assert "limit orders only" in last.reason


def test_risk_policy_checks_the_part_still_to_execute() -> None:
    policy = CapPolicy(D(3))
    engine, venue, _ = _engine(policy)
    coid = _place(engine, qty="3")
    assert venue.sink is not None
    venue.sink.on_order_event(fill("buy", "2", "95", order_id=coid, ts=1))
    engine.amend_order(coid, qty=5)  # 3 left to execute: within the cap of 3
    assert policy.checked[-1].qty == D(3)
    assert policy.checked[-1].limit_price == D(95)
    assert venue.amends == [(coid, D(5), None, None)]
    engine.amend_order(coid, qty=6)  # 4 left: above the cap
    assert len(venue.amends) == 1


def test_amend_below_the_filled_qty_is_refused() -> None:
    engine, venue, strategy = _engine()
    coid = _place(engine, qty="3")
    assert venue.sink is not None
    venue.sink.on_order_event(fill("buy", "2", "95", order_id=coid, ts=1))
    engine.amend_order(coid, qty=2)
    last = strategy.events[-1]
    assert isinstance(last, OrderAmendRejected)
    assert "must exceed the filled qty" in last.reason
    assert venue.amends == []


def test_nothing_to_change_sends_nothing() -> None:
    engine, venue, strategy = _engine()
    coid = _place(engine)
    engine.amend_order(coid, qty=2, price="95.1")  # rounds back to the same order
    assert venue.amends == []
    assert not any(isinstance(e, OrderAmendRejected) for e in strategy.events)


def test_suppressed_engine_drops_amendments() -> None:
    engine, venue, _ = _engine()
    coid = _place(engine)
    engine.suppress_orders = True
    engine.amend_order(coid, price=90)
    assert venue.amends == []
    assert engine.signals_suppressed == 1


def test_late_amendment_of_a_closed_order_is_ignored() -> None:
    logged: list[str] = []
    engine, venue, strategy = _engine()
    engine._log = logged.append
    coid = _place(engine)
    assert venue.sink is not None
    venue.sink.on_order_event(fill("buy", "2", "95", order_id=coid, ts=1))
    venue.sink.on_order_event(OrderAmended(coid, D(3), D(94), None, 2))
    order = engine.orders[coid]
    assert order.status is OrderStatus.FILLED
    assert order.qty == D(2)
    assert any("ignoring amendment" in line for line in logged)
    assert not any(isinstance(e, OrderAmended) for e in strategy.events)

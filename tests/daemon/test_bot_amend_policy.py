"""A bot's amendments pass the same pre-trade path as its new orders: ``BotRiskPolicy`` (the
bot's money limits) and its ``account_guard`` (the account risk engine's
``RiskService.check_order``, see ``BotActor._account_guard``)."""

from __future__ import annotations

from decimal import Decimal

from algotrade.core.engine import Engine
from algotrade.core.events import OrderAmended, OrderAmendRejected, OrderEvent, OrderSide
from algotrade.core.instruments import Instrument, InstrumentRegistry
from algotrade.core.orders import OrderRequest, OrderType
from algotrade.core.portfolio import Portfolio
from algotrade.core.strategy import Strategy
from algotrade.daemon.bot_policy import BotRiskPolicy
from algotrade.venues.paper import PaperVenue
from testkit.factories import bar

D = Decimal


class Recorder(Strategy):
    name = "amend-policy-recorder"

    def __init__(self) -> None:
        super().__init__()
        self.events: list[OrderEvent] = []

    def on_order(self, event: OrderEvent) -> None:
        self.events.append(event)


def engine_with(guard: list[OrderRequest], verdict: tuple[bool, str]) -> tuple[Engine, Recorder]:
    def account_guard(request: OrderRequest) -> tuple[bool, str]:
        guard.append(request)
        return verdict if len(guard) > 1 else (True, "")  # the first (the placement) passes

    registry = InstrumentRegistry({"X": Instrument("X", tick_size=D("0.01"), lot_size=D(1))})
    policy = BotRiskPolicy(
        leverage=D(1),
        max_position_pct=D(100),
        risk_per_trade_pct=D(5),
        account_guard=account_guard,
    )
    strategy = Recorder()
    engine = Engine(
        strategy,
        PaperVenue(instruments=registry),
        portfolio=Portfolio(D(10_000), registry),
        instruments=registry,
        risk_policy=policy,
    )
    engine.start()
    engine.on_bar(bar(0, 100, 101, 99, 100))
    return engine, strategy


def place(engine: Engine) -> str:
    request = OrderRequest("X", OrderSide.BUY, D(2), OrderType.LIMIT, limit_price=D(90))
    coid = engine.submit_order(request)
    assert coid is not None
    return coid


def test_the_account_risk_engine_refusing_an_amendment_keeps_the_order() -> None:
    seen: list[OrderRequest] = []
    engine, strategy = engine_with(seen, (False, "risk rule max_contracts: would be 5, limit 3"))
    coid = place(engine)
    engine.amend_order(coid, qty=5, price=91)
    would_be = seen[-1]
    assert (would_be.qty, would_be.limit_price, would_be.side) == (D(5), D(91), OrderSide.BUY)
    rejected = strategy.events[-1]
    assert isinstance(rejected, OrderAmendRejected)
    assert rejected.reason == "risk rule max_contracts: would be 5, limit 3"
    order = engine.orders[coid]
    assert order.is_open
    assert (order.qty, order.request.limit_price) == (D(2), D(90))


def test_the_bots_money_limits_apply_to_the_amended_order() -> None:
    seen: list[OrderRequest] = []
    engine, strategy = engine_with(seen, (True, ""))
    coid = place(engine)
    engine.amend_order(coid, qty=6)  # 6 × 90 = 540 > 5% of 10,000
    rejected = strategy.events[-1]
    assert isinstance(rejected, OrderAmendRejected)
    assert "risk_per_trade_pct" in rejected.reason
    engine.amend_order(coid, qty=5)  # 450: within the limit
    assert isinstance(strategy.events[-1], OrderAmended)
    assert engine.orders[coid].qty == D(5)

"""The example config's bots trade within their own risk limits.

Each bot of ``example_config.toml`` runs in-process with the pieces the daemon's bot actor
wires (strategy, ``BotRiskPolicy`` from the bot's limits, paper venue, portfolio) over the
same seeded sim stream its ``feed_options`` give it. A demo whose own policy rejects its
orders teaches a new user that the platform is broken: none may be rejected.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from algotrade.core.engine import Engine
from algotrade.core.events import OrderEvent, OrderRejected
from algotrade.core.instruments import InstrumentRegistry
from algotrade.core.orders import Order
from algotrade.core.portfolio import Portfolio
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.bot_policy import BotRiskPolicy
from algotrade.daemon.settings import load_settings
from algotrade.daemon.sim_feed import SimOptions, SimStream
from algotrade.strategies.registry import create_strategy
from algotrade.venues.paper import PaperVenue, PaperVenueConfig

# 20,000 bars at the example's tick_seconds = 0.2 is over an hour of the running demo, long
# enough for each strategy to trade many times and for prices to wander well off the start.
BARS = 20_000
T0 = 1_700_000_000 * 10**9


def example_bots() -> list[BotConfig]:
    path = Path(str(resources.files("algotrade.daemon") / "example_config.toml"))
    settings = load_settings(path, {}, {})
    return [BotConfig.model_validate(raw) for raw in settings.bots]


def run_example_bot(config: BotConfig, bars: int) -> tuple[int, list[str]]:
    """Orders sent and the reasons of those rejected, over ``bars`` sim bars."""
    instruments = InstrumentRegistry()
    venue = PaperVenue(
        PaperVenueConfig(
            taker_fee_rate=config.commission,
            maker_fee_rate=config.commission,
            slippage_bps=config.slippage_bps,
        ),
        instruments,
    )
    engine = Engine(
        create_strategy(config.strategy, config.params),
        venue,
        portfolio=Portfolio(config.initial_capital, instruments, keep_closed_trades=False),
        instruments=instruments,
        risk_policy=BotRiskPolicy(
            leverage=config.leverage,
            max_position_pct=config.max_position_pct,
            risk_per_trade_pct=config.risk_per_trade_pct,
        ),
        order_id_prefix=f"{config.bot_id}-",
    )
    rejected: list[str] = []

    def on_order_event(order: Order, event: OrderEvent) -> None:
        if isinstance(event, OrderRejected):
            rejected.append(event.reason)

    engine.add_listener(on_order_event)
    options = SimOptions.parse(config.feed_options)
    stream = SimStream(config.symbol, options)
    step = max(1, int(options.tick_seconds * 1e9))
    engine.start()
    for number in range(bars):
        engine.on_bar(stream.next_bar(T0 + number * step))
    engine.stop()
    return len(engine.orders), rejected


@pytest.mark.parametrize("config", example_bots(), ids=lambda config: config.bot_id)
def test_example_bot_orders_fit_its_own_risk_limits(config: BotConfig) -> None:
    orders, rejected = run_example_bot(config, BARS)
    assert orders >= 20, f"{config.bot_id} should trade in a demo ({orders} orders)"
    assert not rejected, (
        f"{config.bot_id}: {len(rejected)} of {orders} orders rejected by its own policy, "
        f"the first: {rejected[0]!r}"
    )

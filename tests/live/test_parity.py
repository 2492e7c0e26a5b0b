"""Parity proof: the backtest runner and the live engine path produce identical orders and fills.

The live path is what a paper bot runs in the daemon: an asynchronous feed (here replaying the
same bars) drives the same ``Engine`` with the same paper venue through ``LiveRunner``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from algotrade.backtest.runner import BacktestConfig, build_engine, run_backtest
from algotrade.core.engine import Engine
from algotrade.data.bars import BarData
from algotrade.data.loader import load_bars
from algotrade.data.replay import ReplayFeed
from algotrade.data.synthetic import generate_bars
from algotrade.live.runner import LiveRunner
from algotrade.strategies.registry import create_strategy

CONFIG = BacktestConfig(commission=Decimal("0.001"), slippage_bps=Decimal("3"))


def order_rows(orders) -> list[tuple]:
    return [
        (
            o.client_order_id,
            o.symbol,
            o.side,
            o.request.type,
            o.qty,
            o.request.limit_price,
            o.status,
            o.created_ts,
            o.filled_qty,
            o.avg_fill_price,
            o.fees,
        )
        for o in orders
    ]


async def run_live(data: BarData, name: str, params: dict[str, str]) -> Engine:
    engine = build_engine(create_strategy(name, params), CONFIG)
    runner = LiveRunner(engine, ReplayFeed(data, speed=0, yield_every=97))
    await runner.run()
    assert runner.events_seen == len(data)
    return engine


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("ma_crossover", {"fast": "5", "slow": "20", "qty": "3"}),
        ("rsi", {"period": "10", "qty": "2"}),
        ("grid", {"levels": "4", "spacing_pct": "0.2", "qty": "1"}),
        ("quad_ma", {"p1": "3", "p2": "7", "p3": "12", "p4": "25"}),
    ],
)
async def test_backtest_and_live_path_agree(name: str, params: dict[str, str]) -> None:
    data = generate_bars(5_000, symbol="SIM", seed=11)
    result = run_backtest(data, create_strategy(name, params), CONFIG, synthetic=True)
    live = await run_live(data, name, params)
    assert len(result.fills) > 5, "the scenario must trade to prove anything"
    assert live.fills == result.fills
    assert order_rows(live.orders.values()) == order_rows(result.orders)
    assert live.portfolio.equity() == result.final_equity
    assert live.portfolio.fees_paid == result.fees


async def test_parity_on_real_multi_symbol_data(shared_data: Path) -> None:
    data = load_bars([str(shared_data / "ORCL-1d.csv"), str(shared_data / "NVDA-1d.csv")])
    params = {"fast": "10", "slow": "30", "qty": "100"}
    result = run_backtest(data, create_strategy("ma_crossover", params), CONFIG)
    live = await run_live(data, "ma_crossover", params)
    assert len(result.fills) > 100
    assert live.fills == result.fills
    assert order_rows(live.orders.values()) == order_rows(result.orders)

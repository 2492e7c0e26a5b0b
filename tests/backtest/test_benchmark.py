"""Buy-and-hold benchmark: known answers on constructed bars, and ORCL's ~20× over 1995-2014."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from algotrade.backtest.benchmark import benchmark_metrics, buy_and_hold
from algotrade.backtest.export import write_json
from algotrade.backtest.metrics import compute_metrics
from algotrade.backtest.report import write_report
from algotrade.backtest.runner import BacktestConfig, run_backtest
from algotrade.core.instruments import InstrumentRegistry
from algotrade.core.strategy import Strategy
from algotrade.data.bars import BarData
from algotrade.data.loader import load_bars
from algotrade.strategies.ma_crossover import MACrossover

DAY = 86_400 * 10**9
T0 = 1_704_067_200 * 10**9  # 2024-01-01


def bars(rows: list[tuple[str, int, float]]) -> BarData:
    """(symbol, day number, close) rows; open = high = low = close."""
    frame = pl.DataFrame(
        {
            "symbol": [symbol for symbol, _, _ in rows],
            "ts": [T0 + day * DAY for _, day, _ in rows],
            "open": [close for _, _, close in rows],
            "high": [close for _, _, close in rows],
            "low": [close for _, _, close in rows],
            "close": [close for _, _, close in rows],
            "volume": [1.0] * len(rows),
        },
        schema_overrides={"ts": pl.Int64},
    )
    return BarData.from_frame(frame, "test")


def test_single_symbol_known_answer() -> None:
    data = bars([("AAA", 0, 100.0), ("AAA", 1, 50.0), ("AAA", 2, 200.0)])
    times = np.asarray([T0, T0 + DAY, T0 + 2 * DAY], dtype=np.int64)
    benchmark = buy_and_hold(
        data.frame,
        times,
        Decimal(1000),
        commission=Decimal("0.01"),
        slippage_bps=Decimal(0),
        instruments=InstrumentRegistry(),
    )
    units = 1000 / (100 * 1.01)  # the whole cash buys at the first close, fee included
    assert benchmark.equity == pytest.approx([units * 100, units * 50, units * 200], rel=1e-12)
    (entry,) = benchmark.entries
    assert (entry.symbol, entry.ts, entry.price) == ("AAA", T0, 100.0)
    assert entry.qty == pytest.approx(units, rel=1e-12)
    assert entry.fee == pytest.approx(units * 100 * 0.01, rel=1e-9)


def test_slippage_raises_the_entry_price() -> None:
    data = bars([("AAA", 0, 100.0), ("AAA", 1, 110.0)])
    times = np.asarray([T0, T0 + DAY], dtype=np.int64)
    benchmark = buy_and_hold(
        data.frame,
        times,
        Decimal(1000),
        commission=Decimal(0),
        slippage_bps=Decimal(100),
        instruments=InstrumentRegistry(),
    )
    assert benchmark.entries[0].price == pytest.approx(101.0)
    assert benchmark.equity[-1] == pytest.approx(1000 / 101 * 110, rel=1e-12)


def test_equal_weight_and_cash_before_a_symbols_first_bar() -> None:
    data = bars(
        [
            ("AAA", 0, 10.0),
            ("AAA", 1, 20.0),
            ("BBB", 1, 4.0),
            ("AAA", 2, 20.0),
            ("BBB", 2, 2.0),
        ]
    )
    times = np.asarray([T0, T0 + DAY, T0 + 2 * DAY], dtype=np.int64)
    benchmark = buy_and_hold(
        data.frame,
        times,
        Decimal(1000),
        commission=Decimal(0),
        slippage_bps=Decimal(0),
        instruments=InstrumentRegistry(),
    )
    # AAA: 500 buys 50 units at 10; BBB: 500 stays cash until day 1, then 125 units at 4.
    assert benchmark.equity.tolist() == pytest.approx([500 + 500, 1000 + 500, 1000 + 250])
    assert [e.symbol for e in benchmark.entries] == ["AAA", "BBB"]
    assert benchmark.entries[1].ts == T0 + DAY


def test_run_backtest_reports_benchmark_and_excess_return() -> None:
    data = bars([("AAA", 0, 100.0), ("AAA", 1, 50.0), ("AAA", 2, 200.0)])
    result = run_backtest(
        data, Strategy(), BacktestConfig(initial_cash=Decimal(1000), commission=Decimal("0.01"))
    )
    summary = benchmark_metrics(result)
    units = 1000 / (100 * 1.01)
    assert summary["method"] == "buy_and_hold"
    assert summary["entry"] == "first_close"
    assert summary["final_equity"] == pytest.approx(units * 200, rel=1e-9)
    assert summary["total_return"] == pytest.approx(units * 200 / 1000 - 1, rel=1e-12)
    # The drawdown counts from the initial cash, like the strategy's: 1000 → units × 50.
    assert summary["max_drawdown"] == pytest.approx(1 - units * 50 / 1000, rel=1e-12)
    # A strategy that never trades keeps its cash: its return is 0, the excess is −B&H.
    assert summary["excess_return"] == pytest.approx(-summary["total_return"], rel=1e-12)
    assert summary["cagr"] == pytest.approx((units * 200 / 1000) ** (365.25 / 2) - 1, rel=1e-9)


def test_json_and_report_carry_the_benchmark(tmp_path: Path) -> None:
    data = bars([("AAA", day, 100.0 + day) for day in range(40)])
    result = run_backtest(data, Strategy(), BacktestConfig(initial_cash=Decimal(1000)))
    result.metrics = compute_metrics(result)
    document = json.loads(write_json(result, tmp_path / "r.json").read_text())
    assert document["benchmark"]["total_return"] == pytest.approx(139 / 100 - 1)
    assert document["benchmark"]["entries"][0]["time"] == "2024-01-01T00:00:00Z"
    assert document["benchmark"]["excess_return"] == pytest.approx(-0.39)
    text = write_report(result, data.frame, tmp_path / "r.html").read_text(encoding="utf-8")
    assert '"name":"Buy & hold"' in text  # the benchmark line on the equity chart
    assert "Buy &amp; hold return" in text
    assert "39.00%" in text
    assert "-39.00%" in text  # the excess return


def test_orcl_buy_and_hold_dwarfs_the_crossover(shared_data: Path) -> None:
    path = shared_data / "ORCL-1d.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    first, last = float(rows[0]["close"]), float(rows[-1]["close"])
    commission = Decimal("0.001")
    result = run_backtest(
        load_bars([path]),
        MACrossover({"fast": 10, "slow": 30, "qty": 100}),
        BacktestConfig(commission=commission),
    )
    summary = benchmark_metrics(result)
    expected = last / (first * (1 + float(commission))) - 1
    assert summary["total_return"] == pytest.approx(expected, rel=1e-9)
    assert summary["total_return"] > 10  # ORCL rose ~20× from 1995 to 2014
    strategy_return = float(result.final_equity / result.initial_cash - 1)
    assert summary["excess_return"] == pytest.approx(strategy_return - expected, rel=1e-9)
    assert 0 < summary["max_drawdown"] < 1

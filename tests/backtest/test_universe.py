"""Universe backtests: each symbol's result is exactly its own backtest, the aggregate adds
those results up, failures are counted, the pool changes nothing."""

from __future__ import annotations

import bisect
import statistics
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from algotrade.backtest.metrics import compute_metrics
from algotrade.backtest.result import BacktestResult
from algotrade.backtest.runner import BacktestConfig, run_backtest
from algotrade.backtest.universe import (
    StrategySpec,
    UniverseResult,
    portfolio_curve,
    run_universe,
    split_by_symbol,
)
from algotrade.data.bars import BarData
from algotrade.data.synthetic import generate_bars
from algotrade.strategies.ma_crossover import MACrossover

PARAMS = {"fast": 3, "slow": 12, "qty": 1}
SPEC = StrategySpec("ma_crossover", PARAMS)
CONFIG = BacktestConfig(initial_cash=Decimal(10_000), commission=Decimal("0.001"))
SYMBOLS = ["AAA", "BBB", "CCC", "DDD"]

FAILING_STRATEGY = """
from algotrade.core.strategy import Strategy, StrategyParams


class Params(StrategyParams):
    victim: str = "BBB"


class FailsOnOne(Strategy):
    name = "fails_on_one"
    Params = Params

    def on_bar(self, bar):
        if bar.symbol == self.params.victim:
            raise RuntimeError("no " + bar.symbol + " for me")
        self.ctx.target_position(bar.symbol, 1)
"""


def universe_bars(symbols: list[str], n: int = 2_000) -> BarData:
    """Random walks of different lengths and starts, so the portfolio has ragged sleeves."""
    frames = []
    for number, symbol in enumerate(symbols):
        data = generate_bars(
            n - 100 * number,
            symbol=symbol,
            seed=number + 1,
            start=1_704_067_200 * 10**9 + 3_600 * 10**9 * number,
            interval_ns=3_600 * 10**9,
            volatility=0.01,
        )
        frames.append(data.frame)
    return BarData.from_frame(pl.concat(frames), "test")


def alone(bars: BarData, symbol: str) -> BacktestResult:
    result = run_backtest(bars.for_symbol(symbol), MACrossover(PARAMS), CONFIG)
    result.metrics = compute_metrics(result, periods_per_year=365)
    return result


def assert_same_result(got: BacktestResult, expected: BacktestResult) -> None:
    assert got.final_equity == expected.final_equity
    assert got.realized_pnl == expected.realized_pnl
    assert got.fees == expected.fees
    assert got.fills == expected.fills
    assert got.trades == expected.trades
    assert got.bar_count == expected.bar_count
    np.testing.assert_array_equal(got.equity_ts, expected.equity_ts)
    np.testing.assert_array_equal(got.equity, expected.equity)
    assert got.metrics == expected.metrics


@pytest.fixture(scope="module")
def bars() -> BarData:
    return universe_bars(SYMBOLS)


@pytest.fixture(scope="module")
def universe(bars: BarData) -> UniverseResult:
    return run_universe(
        split_by_symbol(bars), SYMBOLS, SPEC, CONFIG, periods_per_year=365, workers=1
    )


def test_each_symbol_equals_its_own_backtest(bars: BarData, universe: UniverseResult) -> None:
    assert [run.symbol for run in universe.runs] == SYMBOLS
    for run in universe.runs:
        assert run.error is None
        assert run.result is not None
        assert run.result.symbols == [run.symbol]
        assert_same_result(run.result, alone(bars, run.symbol))
    assert all(run.result and run.result.fills for run in universe.runs)  # something traded


def test_aggregate_sums_are_the_sums_of_the_symbols(universe: UniverseResult) -> None:
    results = [run.result for run in universe.runs if run.result is not None]
    aggregate = universe.aggregate
    assert Decimal(aggregate["net_profit"]) == sum(
        (r.final_equity - r.initial_cash for r in results), Decimal(0)
    )
    assert Decimal(aggregate["realized_pnl"]) == sum((r.realized_pnl for r in results), Decimal(0))
    assert Decimal(aggregate["unrealized_pnl"]) == sum(
        (r.unrealized_pnl for r in results), Decimal(0)
    )
    assert Decimal(aggregate["fees_paid"]) == sum((r.fees for r in results), Decimal(0))
    assert aggregate["trades"] == sum(len(r.trades) for r in results)
    assert aggregate["fills"] == sum(len(r.fills) for r in results)
    assert aggregate["bars"] == sum(r.bar_count for r in results)
    assert (aggregate["symbols"], aggregate["succeeded"], aggregate["failures"]) == (4, 4, 0)

    returns = {r.symbols[0]: float(r.final_equity / r.initial_cash - 1) for r in results}
    assert aggregate["mean"]["total_return"] == pytest.approx(np.mean(list(returns.values())))
    assert aggregate["median"]["total_return"] == pytest.approx(np.median(list(returns.values())))
    sharpes = [r.metrics["sharpe"] for r in results if r.metrics["sharpe"] is not None]
    assert aggregate["mean"]["sharpe"] == pytest.approx(statistics.fmean(sharpes))
    by_return = sorted(returns, key=lambda s: returns[s], reverse=True)
    assert [b["symbol"] for b in aggregate["best"]] == by_return[:3]
    assert [w["symbol"] for w in aggregate["worst"]] == by_return[::-1][:3]


def test_equal_weight_portfolio(universe: UniverseResult) -> None:
    results = [run.result for run in universe.runs if run.result is not None]
    cash = float(CONFIG.initial_cash)
    times = sorted({int(t) for r in results for t in r.equity_ts})
    expected = []
    for t in times:  # each sleeve: flat before its first bar, its last value after its last
        ratios = []
        for r in results:
            seen = bisect.bisect_right(r.equity_ts.tolist(), t)  # bars at or before t
            ratios.append(r.equity[seen - 1] / cash if seen else 1.0)
        expected.append(cash * sum(ratios) / len(ratios))
    np.testing.assert_array_equal(universe.portfolio_ts, np.asarray(times))
    np.testing.assert_allclose(universe.portfolio_equity, expected, rtol=1e-12)
    portfolio = universe.aggregate["portfolio"]
    mean_return = np.mean([float(r.final_equity) / cash - 1 for r in results])
    assert portfolio["total_return"] == pytest.approx(mean_return, rel=1e-9)
    assert portfolio["max_drawdown"] >= 0


def test_portfolio_of_known_curves() -> None:
    def result(ts: list[int], equity: list[float]) -> BacktestResult:
        return BacktestResult(
            "s", {}, ["X"], len(ts), ts[0], ts[-1], Decimal(100), Decimal(0), Decimal(0),
            Decimal(0), Decimal(0), [], [], [], np.asarray(ts, dtype=np.int64),
            np.asarray(equity), 0.0,
        )  # fmt: skip

    times, equity = portfolio_curve(
        [result([1, 2, 3], [110.0, 120.0, 90.0]), result([2, 4], [50.0, 200.0])], Decimal(100)
    )
    assert times.tolist() == [1, 2, 3, 4]
    # (1.1 + 1.0) / 2, (1.2 + 0.5) / 2, (0.9 + 0.5) / 2, (0.9 + 2.0) / 2, times 100
    np.testing.assert_allclose(equity, [105.0, 85.0, 70.0, 145.0])


def test_failures_are_counted_not_fatal(tmp_path: Path, bars: BarData) -> None:
    strategy = tmp_path / "fails_on_one.py"
    strategy.write_text(FAILING_STRATEGY)
    spec = StrategySpec(str(strategy), {"victim": "BBB"})
    outcome = run_universe(
        split_by_symbol(bars), [*SYMBOLS, "NOPE"], spec, CONFIG, workers=1, periods_per_year=365
    )
    by_symbol = {run.symbol: run for run in outcome.runs}
    assert by_symbol["BBB"].result is None
    assert "fails_on_one.py" in str(by_symbol["BBB"].error)
    assert "no BBB for me" in str(by_symbol["BBB"].error)
    assert by_symbol["NOPE"].error == "no bars in the requested range"
    assert outcome.aggregate["failures"] == 2
    assert outcome.aggregate["failed_symbols"] == ["BBB", "NOPE"]
    assert outcome.aggregate["succeeded"] == 3
    assert all(by_symbol[s].result is not None for s in ("AAA", "CCC", "DDD"))


@pytest.mark.slow
def test_pool_gives_the_same_results_in_the_same_order(universe: UniverseResult) -> None:
    symbols = [f"S{n:02d}" for n in range(9)]
    data = split_by_symbol(universe_bars(symbols, n=1_000))
    order = list(reversed(symbols))
    done: list[str] = []
    pooled = run_universe(
        data,
        order,
        SPEC,
        CONFIG,
        periods_per_year=365,
        workers=2,
        on_done=lambda r: done.append(r.symbol),
    )
    serial = run_universe(data, order, SPEC, CONFIG, periods_per_year=365, workers=1)
    assert sorted(done) == sorted(symbols)
    assert [run.symbol for run in pooled.runs] == order
    for got, expected in zip(pooled.runs, serial.runs, strict=True):
        assert got.result is not None
        assert expected.result is not None
        assert_same_result(got.result, expected.result)
    assert pooled.aggregate == serial.aggregate


def test_without_details_the_numbers_stay(bars: BarData, universe: UniverseResult) -> None:
    slim = run_universe(
        split_by_symbol(bars), SYMBOLS, SPEC, CONFIG, periods_per_year=365, workers=1,
        details=False,
    )  # fmt: skip
    assert slim.aggregate == universe.aggregate
    np.testing.assert_array_equal(slim.portfolio_equity, universe.portfolio_equity)
    for got, full in zip(slim.runs, universe.runs, strict=True):
        assert got.result is not None
        assert full.result is not None
        assert (got.result.fills, got.result.orders, got.result.trades) == ([], [], [])
        assert got.result.metrics == full.result.metrics
        assert got.result.final_equity == full.result.final_equity

from __future__ import annotations

import json
import math
import statistics
import time
from decimal import Decimal

import numpy as np
import pytest

from algotrade.backtest.metrics import compute_metrics
from algotrade.backtest.result import BacktestResult
from algotrade.core.trades import ClosedTrade

DAY = 86_400 * 1_000_000_000
HOUR = DAY // 24
T0 = 1_704_067_200 * 1_000_000_000  # 2024-01-01T00:00:00Z


def make_result(
    equity: list[float],
    times: list[int] | None = None,
    *,
    initial_cash: str = "100",
    final_equity: str | None = None,
    trades: list[ClosedTrade] | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> BacktestResult:
    """A result whose curve has one point per day at noon unless ``times`` is given."""
    stamps = times if times is not None else [T0 + i * DAY + 12 * HOUR for i in range(len(equity))]
    final = final_equity if final_equity is not None else (repr(equity[-1]) if equity else "100")
    return BacktestResult(
        strategy="test",
        params={},
        symbols=["BTCUSDT"],
        bar_count=len(equity),
        start_ns=start_ns if start_ns is not None else (stamps[0] if stamps else T0),
        end_ns=end_ns if end_ns is not None else (stamps[-1] if stamps else T0),
        initial_cash=Decimal(initial_cash),
        final_equity=Decimal(final),
        realized_pnl=Decimal(0),
        unrealized_pnl=Decimal(0),
        fees=Decimal(0),
        orders=[],
        fills=[],
        trades=trades or [],
        equity_ts=np.asarray(stamps, dtype=np.int64),
        equity=np.asarray(equity, dtype=np.float64),
        exposure=0.5,
    )


def trade(net: str, fees: str = "0") -> ClosedTrade:
    return ClosedTrade(
        symbol="BTCUSDT",
        direction="long",
        qty=Decimal(1),
        entry_ts=T0,
        exit_ts=T0 + DAY,
        entry_price=Decimal(100),
        exit_price=Decimal(100),
        gross_pnl=Decimal(net) + Decimal(fees),
        fees=Decimal(fees),
    )


def test_sharpe_sortino_and_volatility_match_independent_computation() -> None:
    equity = [100.0, 110.0, 99.0, 108.9, 108.9]  # daily returns +10 %, −10 %, +10 %, 0
    metrics = compute_metrics(make_result(equity))
    returns = [0.1, -0.1, 0.1, 0.0]
    mean = statistics.mean(returns)
    stdev = statistics.stdev(returns)
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))  # = 0.05
    assert metrics["sharpe"] == pytest.approx(mean / stdev * math.sqrt(252))
    assert metrics["sortino"] == pytest.approx(0.025 / 0.05 * math.sqrt(252))
    assert metrics["sortino"] == pytest.approx(mean / downside * math.sqrt(252))
    assert metrics["annual_volatility"] == pytest.approx(stdev * math.sqrt(252))


def test_periods_per_year_scales_annualisation() -> None:
    equity = [100.0, 110.0, 99.0, 108.9, 108.9]
    daily = compute_metrics(make_result(equity), periods_per_year=252)
    crypto = compute_metrics(make_result(equity), periods_per_year=365)
    assert crypto["sharpe"] == pytest.approx(daily["sharpe"] * math.sqrt(365 / 252))
    assert crypto["periods_per_year"] == 365


def test_daily_resampling_takes_last_value_of_each_day_and_skips_missing_days() -> None:
    times = [
        T0 + 1 * HOUR,
        T0 + 23 * HOUR,  # day 0 closes at 100
        T0 + DAY + 1 * HOUR,
        T0 + DAY + 5 * HOUR,  # day 1 closes at 120 (the 150 earlier in the day is ignored)
        T0 + 3 * DAY,  # day 2 has no data: the next return spans it, nothing is filled in
    ]
    equity = [90.0, 100.0, 150.0, 120.0, 108.0]
    metrics = compute_metrics(make_result(equity, times))
    returns = [0.2, -0.1]
    expected = statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(252)
    assert metrics["sharpe"] == pytest.approx(expected)


def test_max_drawdown_and_its_duration_until_recovery() -> None:
    # Peak 120 on day 1, regained (exceeded) on day 4: 3 days. Peak 130 on day 4, never
    # regained, end on day 5: 1 day. Deepest fall: 130 → 65 = 50 %.
    equity = [100.0, 120.0, 90.0, 110.0, 130.0, 65.0]
    metrics = compute_metrics(make_result(equity))
    assert metrics["max_drawdown"] == pytest.approx(0.5)
    assert metrics["max_drawdown_duration_days"] == pytest.approx(3.0)


def test_drawdown_duration_runs_to_the_end_when_never_recovered() -> None:
    equity = [100.0, 120.0, 110.0, 115.0, 119.0, 119.9]
    metrics = compute_metrics(make_result(equity))
    assert metrics["max_drawdown"] == pytest.approx(10 / 120)
    assert metrics["max_drawdown_duration_days"] == pytest.approx(4.0)


def test_returning_exactly_to_the_peak_counts_as_recovery() -> None:
    times = [T0, T0 + HOUR, T0 + 7 * HOUR, T0 + 30 * HOUR]
    metrics = compute_metrics(make_result([100.0, 80.0, 100.0, 90.0], times))
    # Underwater from 0 h to 7 h, then from 7 h to the end at 30 h (23 h, the longest).
    assert metrics["max_drawdown_duration_days"] == pytest.approx(23 / 24)
    assert metrics["max_drawdown"] == pytest.approx(0.2)


def test_drawdown_starts_from_initial_cash() -> None:
    # The first recorded point is after the first bar's fees: a fall from the starting cash.
    metrics = compute_metrics(make_result([95.0, 96.0, 97.0], initial_cash="100"))
    assert metrics["max_drawdown"] == pytest.approx(0.05)
    assert metrics["max_drawdown_duration_days"] == pytest.approx(2.0)


def test_cagr_total_return_and_calmar() -> None:
    span = int(2 * 365.25 * DAY)
    times = [T0, T0 + span // 2, T0 + span]
    result = make_result([100.0, 80.0, 121.0], times, final_equity="121")
    metrics = compute_metrics(result)
    assert metrics["total_return"] == pytest.approx(0.21)
    assert metrics["cagr"] == pytest.approx(0.1)  # 1.21 over two years = 10 % a year
    assert metrics["max_drawdown"] == pytest.approx(0.2)
    assert metrics["calmar"] == pytest.approx(0.1 / 0.2)


def test_cagr_is_none_for_a_span_under_one_day() -> None:
    times = [T0, T0 + 23 * HOUR]
    metrics = compute_metrics(make_result([100.0, 101.0], times))
    assert metrics["cagr"] is None
    assert metrics["calmar"] is None
    assert metrics["total_return"] == pytest.approx(0.01)


def test_cagr_that_overflows_a_float_is_none() -> None:
    times = [T0, T0 + DAY]
    metrics = compute_metrics(make_result([100.0, 1e9], times, final_equity="1000000000"))
    assert metrics["cagr"] is None  # 10^7 compounded 365 times a year
    json.dumps(metrics, allow_nan=False)


def test_flat_equity() -> None:
    metrics = compute_metrics(make_result([100.0] * 10))
    assert metrics["annual_volatility"] == 0.0
    assert metrics["sharpe"] is None
    assert metrics["sortino"] is None
    assert metrics["max_drawdown"] == 0.0
    assert metrics["max_drawdown_duration_days"] == 0.0
    assert metrics["calmar"] is None
    assert metrics["total_return"] == 0.0
    assert metrics["cagr"] == 0.0


def test_only_gains_have_no_sortino() -> None:
    metrics = compute_metrics(make_result([100.0, 101.0, 103.0, 104.0]))
    assert metrics["sharpe"] is not None
    assert metrics["sortino"] is None


def test_single_bar() -> None:
    metrics = compute_metrics(make_result([99.0], initial_cash="100"))
    assert metrics["bars"] == 1
    assert metrics["cagr"] is None
    assert metrics["annual_volatility"] is None
    assert metrics["sharpe"] is None
    assert metrics["sortino"] is None
    assert metrics["max_drawdown"] == pytest.approx(0.01)
    assert metrics["max_drawdown_duration_days"] == 0.0
    assert metrics["start"] == metrics["end"]


def test_empty_curve() -> None:
    metrics = compute_metrics(make_result([], []))
    assert metrics["max_drawdown"] == 0.0
    assert metrics["sharpe"] is None
    json.dumps(metrics, allow_nan=False)


def test_equity_hitting_zero() -> None:
    metrics = compute_metrics(make_result([100.0, 50.0, 0.0, 0.0, 0.0], final_equity="0"))
    assert metrics["max_drawdown"] == pytest.approx(1.0)
    assert metrics["cagr"] is None
    assert metrics["calmar"] is None
    assert metrics["total_return"] == pytest.approx(-1.0)
    # Returns after the wipe-out are undefined (0 → 0) and dropped: −50 %, −100 % remain.
    returns = [-0.5, -1.0]
    assert metrics["sharpe"] == pytest.approx(
        statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(252)
    )
    assert metrics["max_drawdown_duration_days"] == pytest.approx(4.0)
    json.dumps(metrics, allow_nan=False)


def test_negative_equity_drawdown_exceeds_one() -> None:
    metrics = compute_metrics(make_result([100.0, -20.0], final_equity="-20"))
    assert metrics["max_drawdown"] == pytest.approx(1.2)
    assert metrics["cagr"] is None


def test_no_trades() -> None:
    metrics = compute_metrics(make_result([100.0, 100.0]))
    assert metrics["trades"] == 0
    for key in ("win_rate", "profit_factor", "expectancy", "avg_win", "avg_loss"):
        assert metrics[key] is None


def test_trade_statistics_use_net_pnl() -> None:
    # The third trade is +25 gross but +20 net; the break-even trade is neither win nor loss.
    trades = [trade("30"), trade("-10"), trade("20", fees="5"), trade("-20"), trade("0")]
    metrics = compute_metrics(make_result([100.0, 120.0], trades=trades))
    assert metrics["trades"] == 5
    assert metrics["win_rate"] == pytest.approx(2 / 5)
    assert metrics["profit_factor"] == pytest.approx(50 / 30)
    assert metrics["expectancy"] == pytest.approx(20 / 5)
    assert metrics["avg_win"] == pytest.approx(25.0)
    assert metrics["avg_loss"] == pytest.approx(-15.0)


def test_only_winners_have_no_profit_factor() -> None:
    metrics = compute_metrics(make_result([100.0, 110.0], trades=[trade("10")]))
    assert metrics["profit_factor"] is None
    assert metrics["avg_loss"] is None
    assert metrics["win_rate"] == 1.0


def test_money_fields_are_exact_decimal_strings() -> None:
    result = make_result([100.0, 100.1], initial_cash="1E+2", final_equity="100.10")
    result.realized_pnl = Decimal("0.30")
    result.unrealized_pnl = Decimal("-0.1")
    result.fees = Decimal("1E-8")
    metrics = compute_metrics(result)
    assert metrics["initial_cash"] == "100"
    assert metrics["final_equity"] == "100.1"  # exact value, trailing zeros dropped
    assert metrics["net_profit"] == "0.1"
    assert metrics["realized_pnl"] == "0.3"
    assert metrics["unrealized_pnl"] == "-0.1"
    assert metrics["fees_paid"] == "0.00000001"


def test_counts_times_and_json() -> None:
    result = make_result([100.0, 101.0], [T0, T0 + DAY + 1_500_000_000])
    metrics = compute_metrics(result)
    assert metrics["start"] == "2024-01-01T00:00:00Z"
    assert metrics["end"] == "2024-01-02T00:00:01.500000Z"
    assert metrics["bars"] == 2
    assert metrics["fills"] == 0
    assert metrics["exposure"] == 0.5
    assert json.loads(json.dumps(metrics, allow_nan=False)) == metrics


def test_unsorted_curve_is_sorted_first() -> None:
    times = [T0 + 12 * HOUR, T0 + DAY + 12 * HOUR, T0 + 2 * DAY + 12 * HOUR]
    ordered = compute_metrics(make_result([100.0, 110.0, 99.0], times))
    shuffled = make_result(
        [99.0, 100.0, 110.0],
        [times[2], times[0], times[1]],
        final_equity="99.0",
        start_ns=times[0],
        end_ns=times[2],
    )
    assert compute_metrics(shuffled) == ordered


def test_million_point_curve_is_fast() -> None:
    rng = np.random.default_rng(7)
    n = 1_000_000
    times = T0 + np.arange(n, dtype=np.int64) * 60_000_000_000  # one-minute bars, ~694 days
    equity = 100_000.0 * np.exp(np.cumsum(rng.normal(0, 1e-4, n)))
    result = make_result([], [], start_ns=int(times[0]), end_ns=int(times[-1]))
    result.equity_ts = times
    result.equity = equity
    result.final_equity = Decimal(repr(float(equity[-1])))
    result.bar_count = n
    compute_metrics(result)  # warm-up: first-call imports and allocations
    started = time.perf_counter()
    metrics = compute_metrics(result)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5
    assert metrics["sharpe"] is not None
    assert 0 < metrics["max_drawdown"] < 1

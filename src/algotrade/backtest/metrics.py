"""Performance metrics of a backtest, as a flat JSON-serialisable dict.

Definitions (risk-free rate 0, ``ppy`` = ``periods_per_year``):

- money fields are exact decimal strings taken from the result's ``Decimal`` fields;
- ``total_return`` = final equity / initial cash − 1;
- ``cagr`` = (final / initial) ** (1 / years) − 1 with years = (end − start) / 365.25 days;
- returns are daily simple returns of the equity curve resampled to UTC calendar days (last
  value of each day; days without data are absent, not filled); a return measured from a
  non-positive equity is undefined and dropped;
- ``annual_volatility`` = std(returns, ddof=1) · √ppy;
- ``sharpe`` = mean(returns) / std(returns, ddof=1) · √ppy;
- ``sortino`` = mean(returns) / √mean(min(returns, 0)²) · √ppy;
- ``max_drawdown`` = max(1 − equity / running peak) on the full-resolution curve, whose
  running peak starts at the initial cash;
- ``max_drawdown_duration_days`` = longest time from a peak until equity first gets back to
  it (or until the end of the curve if it never does);
- ``calmar`` = cagr / max_drawdown;
- trade statistics use each closed trade's net PnL (gross − fees).

A value that cannot be defined (too little data, a zero denominator) is ``None``, never
``inf``/``nan``, so the dict always serialises to strict JSON.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from algotrade.backtest.result import BacktestResult
from algotrade.core.money import decimal_text
from algotrade.core.timeutil import NS_PER_DAY, ns_to_iso

DAYS_PER_YEAR = 365.25
# A standard deviation this small is float round-off of a constant series, not risk: dividing
# by it would report a meaningless ratio of ~1e15.
_ZERO_DEVIATION = 1e-12

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def compute_metrics(result: BacktestResult, *, periods_per_year: int = 252) -> dict[str, Any]:
    """Summarise ``result``; see the module docstring for the definitions."""
    if periods_per_year <= 0:
        raise ValueError(f"periods_per_year must be positive, got {periods_per_year}")
    times, equity = _sorted_curve(result)
    returns = daily_returns(times, equity)
    # Drawdowns start from the initial cash at the start: the recorded curve begins after the
    # first bar, so fees and losses of that bar would otherwise never count as a drawdown.
    initial = float(result.initial_cash)
    start_ns = min(result.start_ns, int(times[0])) if times.size else result.start_ns
    cagr = _cagr(result)
    max_dd = max_drawdown(equity, start=initial)
    metrics: dict[str, Any] = {
        "initial_cash": decimal_text(result.initial_cash),
        "final_equity": decimal_text(result.final_equity),
        "realized_pnl": decimal_text(result.realized_pnl),
        "unrealized_pnl": decimal_text(result.unrealized_pnl),
        "fees_paid": decimal_text(result.fees),
        "net_profit": decimal_text(result.final_equity - result.initial_cash),
        "total_return": _total_return(result),
        "cagr": cagr,
        **return_statistics(returns, periods_per_year),
        "max_drawdown": max_dd,
        "max_drawdown_duration_days": (
            max_drawdown_duration_ns(times, equity, start=(start_ns, initial)) / NS_PER_DAY
        ),
        "calmar": _ratio(cagr, max_dd),
        **trade_statistics(result),
        "exposure": _finite_or_none(result.exposure),
        "fills": len(result.fills),
        "bars": result.bar_count,
        "start": ns_to_iso(result.start_ns),
        "end": ns_to_iso(result.end_ns),
        "periods_per_year": periods_per_year,
    }
    return metrics


def daily_returns(times: IntArray, equity: FloatArray) -> FloatArray:
    """Simple returns between the last equity values of consecutive UTC calendar days present.

    ``times`` must be ascending. Returns measured from a non-positive equity are dropped: once
    an account is wiped out a percentage change has no meaning.
    """
    if equity.size < 2:
        return np.empty(0, dtype=np.float64)
    days = times // NS_PER_DAY  # floor division: correct for pre-1970 stamps too
    last_of_day = np.flatnonzero(np.append(days[1:] != days[:-1], True))
    daily = equity[last_of_day]
    previous, current = daily[:-1], daily[1:]
    defined = previous > 0
    return np.asarray(current[defined] / previous[defined] - 1.0, dtype=np.float64)


def return_statistics(returns: FloatArray, periods_per_year: int) -> dict[str, float | None]:
    """Annualised volatility, Sharpe and Sortino of per-period ``returns``."""
    stats: dict[str, float | None] = {"annual_volatility": None, "sharpe": None, "sortino": None}
    if returns.size < 2:
        return stats
    annualiser = math.sqrt(periods_per_year)
    mean = float(returns.mean())
    std = float(returns.std(ddof=1))
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    stats["annual_volatility"] = _finite_or_none(std * annualiser)
    if std > _ZERO_DEVIATION:
        stats["sharpe"] = _finite_or_none(mean / std * annualiser)
    if downside > _ZERO_DEVIATION:
        stats["sortino"] = _finite_or_none(mean / downside * annualiser)
    return stats


def max_drawdown(equity: FloatArray, *, start: float | None = None) -> float:
    """Largest fall from a running peak as a positive fraction (1.0 = wiped out, > 1 when
    equity goes negative). 0.0 when the curve never falls or never has a positive peak.

    ``start`` is a value before the curve (the initial cash): the running peak begins with it,
    as if it were the curve's first point, without copying the curve to prepend it.
    """
    if equity.size == 0:
        return 0.0
    # One float temporary the size of the curve (a 1M-bar run's peak memory counts): the
    # running peak, overwritten by equity / peak where it is positive. max(1 - e/p) is
    # 1 - min(e/p), rounding included, as 1 - x is monotonic; the start point itself would
    # add 1 - start/start = 0, which ``max(0.0, ...)`` covers.
    ratio = np.maximum.accumulate(equity)
    if start is not None:
        np.maximum(ratio, start, out=ratio)
    positive = ratio > 0
    if not positive.any():
        return 0.0
    np.divide(equity, ratio, out=ratio, where=positive)
    smallest = float(np.min(ratio, where=positive, initial=np.inf))
    return max(0.0, 1.0 - smallest)


def max_drawdown_duration_ns(
    times: IntArray, equity: FloatArray, *, start: tuple[int, float] | None = None
) -> int:
    """Longest span from a peak to the first time equity is back at or above it, or to the
    last timestamp when it never recovers. ``start`` is a (time, value) point before the
    curve, which counts as its first point."""
    if equity.size < (1 if start is not None else 2):
        return 0
    running = np.maximum.accumulate(equity)
    if start is not None:
        np.maximum(running, start[1], out=running)
    at_peak = equity >= running
    del running
    # For every point, the last point at a peak so far, numbered from 1 when there is a start
    # point (0 is then the start, always at its own peak) and from 0 otherwise: the numbers of
    # the points at a peak, 0 elsewhere, then a running maximum, in place.
    first = 1 if start is not None else 0
    last_peak = np.arange(first, equity.size + first)
    last_peak *= at_peak
    np.maximum.accumulate(last_peak, out=last_peak)

    def peak_times(numbers: IntArray) -> IntArray:
        if start is None:
            return times[numbers]
        return np.where(numbers == 0, start[0], times[numbers - 1])

    # A recovery is a point at a peak right after a point below it; its drawdown began at the
    # last peak before that.
    recovered = np.flatnonzero(at_peak[1:] & ~at_peak[:-1]) + 1
    spans = times[recovered] - peak_times(last_peak[recovered - 1])
    longest = int(spans.max()) if spans.size else 0
    if not at_peak[-1]:
        longest = max(longest, int(times[-1] - peak_times(last_peak[-1:])[0]))
    return longest


def trade_statistics(result: BacktestResult) -> dict[str, Any]:
    """Win rate, profit factor, expectancy and average win/loss from closed trades' net PnL."""
    net = [trade.net_pnl for trade in result.trades]
    wins = [pnl for pnl in net if pnl > 0]
    losses = [pnl for pnl in net if pnl < 0]
    gross_win = sum(wins, Decimal(0))
    gross_loss = sum(losses, Decimal(0))
    return {
        "trades": len(net),
        "win_rate": len(wins) / len(net) if net else None,
        "profit_factor": float(gross_win / -gross_loss) if losses else None,
        "expectancy": float(sum(net, Decimal(0)) / len(net)) if net else None,
        "avg_win": float(gross_win / len(wins)) if wins else None,
        "avg_loss": float(gross_loss / len(losses)) if losses else None,
    }


def _sorted_curve(result: BacktestResult) -> tuple[IntArray, FloatArray]:
    times = np.asarray(result.equity_ts, dtype=np.int64)
    equity = np.asarray(result.equity, dtype=np.float64)
    if times.size > 1 and bool(np.any(times[1:] < times[:-1])):
        order = np.argsort(times, kind="stable")
        times, equity = times[order], equity[order]
    return times, equity


def _total_return(result: BacktestResult) -> float | None:
    if result.initial_cash <= 0:
        return None
    return float(result.final_equity / result.initial_cash - 1)


def _cagr(result: BacktestResult) -> float | None:
    if result.initial_cash <= 0:
        return None
    growth = float(result.final_equity / result.initial_cash)
    return cagr_of(1.0, growth, result.end_ns - result.start_ns)


def total_return_of(initial: float, final: float) -> float | None:
    """``final / initial − 1``; none for a non-positive start."""
    return _finite_or_none(final / initial - 1.0) if initial > 0 else None


def cagr_of(initial: float, final: float, span_ns: int) -> float | None:
    """Compound annual growth from ``initial`` to ``final`` over ``span_ns``; none for spans
    under a day or non-positive values."""
    if span_ns < NS_PER_DAY or initial <= 0 or final <= 0:
        return None
    years = span_ns / (DAYS_PER_YEAR * NS_PER_DAY)
    try:
        # Compounding a short, lucky run over a year can exceed the float range.
        return _finite_or_none(math.exp(math.log(final / initial) / years) - 1.0)
    except OverflowError:
        return None


def _ratio(numerator: float | None, denominator: float) -> float | None:
    if numerator is None or denominator == 0:
        return None
    return _finite_or_none(numerator / denominator)


def _finite_or_none(value: float) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None

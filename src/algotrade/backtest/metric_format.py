"""How backtest numbers are shown: one table of metrics and one set of rounding rules, used by
both the terminal table (``algotrade backtest``) and the HTML report.

Display only: JSON keeps the exact values. Rounding is half-even (``Decimal``'s default):

- money totals (cash, equity, PnL, fees, expectancy, average win/loss): 2 decimals with
  thousands separators;
- fractions (returns, drawdowns, win rate, exposure): percent with 2 decimals;
- ratios (Sharpe, Sortino, Calmar, profit factor): 2 decimals;
- prices and quantities of single fills and trades: exact up to ``MAX_PRICE_PLACES``
  decimals, trailing zeros dropped (an average entry price is a quotient: no 24-digit tail);
- a single fill's fee: like a price, since it is often below a cent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from algotrade.core.money import decimal_text

MISSING = "—"
MONEY_PLACES = 2
PERCENT_PLACES = 2
RATIO_PLACES = 2
MAX_PRICE_PLACES = 8
BENCHMARK_PREFIX = "benchmark."


class Kind(Enum):
    MONEY = "money"
    PERCENT = "percent"
    RATIO = "ratio"
    DAYS = "days"
    COUNT = "count"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    key: str
    label: str
    kind: Kind


def _group(name: str, *specs: tuple[str, str, Kind]) -> tuple[str, tuple[MetricSpec, ...]]:
    return name, tuple(MetricSpec(key, label, kind) for key, label, kind in specs)


B = BENCHMARK_PREFIX
METRIC_GROUPS: tuple[tuple[str, tuple[MetricSpec, ...]], ...] = (
    _group(
        "Returns",
        ("initial_cash", "Initial cash", Kind.MONEY),
        ("final_equity", "Final equity", Kind.MONEY),
        ("net_profit", "Net profit", Kind.MONEY),
        ("realized_pnl", "Realized PnL (gross)", Kind.MONEY),
        ("unrealized_pnl", "Unrealized PnL", Kind.MONEY),
        ("fees_paid", "Fees paid", Kind.MONEY),
        ("total_return", "Total return", Kind.PERCENT),
        ("cagr", "CAGR", Kind.PERCENT),
    ),
    _group(
        "Risk",
        ("annual_volatility", "Annual volatility", Kind.PERCENT),
        ("sharpe", "Sharpe ratio", Kind.RATIO),
        ("sortino", "Sortino ratio", Kind.RATIO),
        ("max_drawdown", "Max drawdown", Kind.PERCENT),
        ("max_drawdown_duration_days", "Longest drawdown", Kind.DAYS),
        ("calmar", "Calmar ratio", Kind.RATIO),
    ),
    _group(
        "Benchmark: buy & hold from the first close",
        (B + "final_equity", "Buy & hold final equity", Kind.MONEY),
        (B + "total_return", "Buy & hold return", Kind.PERCENT),
        (B + "cagr", "Buy & hold CAGR", Kind.PERCENT),
        (B + "max_drawdown", "Buy & hold max drawdown", Kind.PERCENT),
        (B + "excess_return", "Excess return (strategy − B&H)", Kind.PERCENT),
    ),
    _group(
        "Trading",
        ("trades", "Closed trades", Kind.COUNT),
        ("win_rate", "Win rate", Kind.PERCENT),
        ("profit_factor", "Profit factor", Kind.RATIO),
        ("expectancy", "Expectancy / trade", Kind.MONEY),
        ("avg_win", "Average win", Kind.MONEY),
        ("avg_loss", "Average loss", Kind.MONEY),
        ("exposure", "Exposure", Kind.PERCENT),
        ("fills", "Fills", Kind.COUNT),
    ),
    _group(
        "Run",
        ("bars", "Bars", Kind.COUNT),
        ("start", "Start", Kind.TEXT),
        ("end", "End", Kind.TEXT),
        ("periods_per_year", "Periods per year", Kind.COUNT),
    ),
)
SPECS: dict[str, MetricSpec] = {spec.key: spec for _, specs in METRIC_GROUPS for spec in specs}


def display_metrics(
    metrics: Mapping[str, Any], benchmark: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One flat mapping of everything shown: the metrics, and the benchmark's figures under
    ``benchmark.<key>`` (its method and entries are described by the group's title)."""
    shown = dict(metrics)
    for key, value in (benchmark or {}).items():
        if BENCHMARK_PREFIX + key in SPECS:
            shown[BENCHMARK_PREFIX + key] = value
    return shown


def metric_rows(values: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """``(group, [(label, text), ...])`` in display order; known keys only, then the unknown
    scalar ones under "Other" with their key as label. Empty groups are left out."""
    groups = []
    for name, specs in METRIC_GROUPS:
        rows = [(s.label, format_metric(s.key, values[s.key])) for s in specs if s.key in values]
        if rows:
            groups.append((name, rows))
    other = [
        (key, format_metric(key, value))
        for key, value in values.items()
        if key not in SPECS and not isinstance(value, Mapping | list)
    ]
    if other:
        groups.append(("Other", other))
    return groups


def format_metric(key: str, value: Any) -> str:
    """Display text (not escaped) of one metric value by its kind; ``—`` for none."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value)
    spec = SPECS.get(key)
    kind = spec.kind if spec is not None else None
    if kind is Kind.MONEY:
        return money_text(value)
    if isinstance(value, int | float) and math.isfinite(value):
        if kind is Kind.PERCENT:
            return f"{value * 100:,.{PERCENT_PLACES}f}%"
        if kind is Kind.RATIO:
            return f"{value:,.{RATIO_PLACES}f}"
        if kind is Kind.DAYS:
            return f"{value:,.1f} days"
        if isinstance(value, int):
            return f"{value:,}"
        return f"{value:,.4g}"
    return str(value)


def money_text(value: Any) -> str:
    """``1,234.57``: a money amount rounded half-even to ``MONEY_PLACES`` for display."""
    amount = _decimal(value)
    if amount is None:
        return str(value)
    return f"{amount:,.{MONEY_PLACES}f}"


def price_text(value: Any) -> str:
    """A price, quantity or single fee: exact up to ``MAX_PRICE_PLACES`` decimals, without
    trailing zeros (``2.216049``, ``33.33333333``)."""
    amount = _decimal(value)
    if amount is None:
        return str(value)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_PRICE_PLACES:
        # Formatting rounds half-even at any size (``quantize`` would overflow the context's
        # 28 digits on a large value with a long tail).
        amount = Decimal(format(amount, f".{MAX_PRICE_PLACES}f"))
    return decimal_text(amount)


def _decimal(value: Any) -> Decimal | None:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None

"""HTML tables of the backtest report: metrics, trades and fills.

Every piece of text that comes from the user or the data goes through ``html.escape``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from algotrade.core.events import OrderFilled
from algotrade.core.money import decimal_text
from algotrade.core.timeutil import ns_to_iso
from algotrade.core.trades import ClosedTrade

MAX_TRADE_ROWS = 500
MAX_FILL_ROWS = 100
MISSING = "—"
_PRICE_PLACES = Decimal("1e-8")  # average prices are long divisions; 8 places is plenty

METRIC_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Returns",
        (
            "initial_cash",
            "final_equity",
            "net_profit",
            "realized_pnl",
            "unrealized_pnl",
            "fees_paid",
            "total_return",
            "cagr",
        ),
    ),
    (
        "Risk",
        (
            "annual_volatility",
            "sharpe",
            "sortino",
            "max_drawdown",
            "max_drawdown_duration_days",
            "calmar",
        ),
    ),
    (
        "Trading",
        (
            "trades",
            "win_rate",
            "profit_factor",
            "expectancy",
            "avg_win",
            "avg_loss",
            "exposure",
            "fills",
        ),
    ),
    ("Run", ("bars", "start", "end", "periods_per_year")),
)
METRIC_LABELS = {
    "initial_cash": "Initial cash",
    "final_equity": "Final equity",
    "net_profit": "Net profit",
    "realized_pnl": "Realized PnL (gross)",
    "unrealized_pnl": "Unrealized PnL",
    "fees_paid": "Fees paid",
    "total_return": "Total return",
    "cagr": "CAGR",
    "annual_volatility": "Annual volatility",
    "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio",
    "max_drawdown": "Max drawdown",
    "max_drawdown_duration_days": "Longest drawdown",
    "calmar": "Calmar ratio",
    "trades": "Closed trades",
    "win_rate": "Win rate",
    "profit_factor": "Profit factor",
    "expectancy": "Expectancy / trade",
    "avg_win": "Average win",
    "avg_loss": "Average loss",
    "exposure": "Exposure",
    "fills": "Fills",
    "bars": "Bars",
    "start": "Start",
    "end": "End",
    "periods_per_year": "Periods per year",
}
MONEY_METRICS = frozenset(
    {
        "initial_cash",
        "final_equity",
        "net_profit",
        "realized_pnl",
        "unrealized_pnl",
        "fees_paid",
        "expectancy",
        "avg_win",
        "avg_loss",
    }
)
PERCENT_METRICS = frozenset(
    {"total_return", "cagr", "annual_volatility", "max_drawdown", "win_rate", "exposure"}
)
RATIO_METRICS = frozenset({"sharpe", "sortino", "calmar", "profit_factor"})


def format_metric(key: str, value: Any) -> str:
    """Display text (not yet escaped) for one metric: money to 2 decimals, fractions as %."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if key in MONEY_METRICS:
        return _money(value)
    if key in PERCENT_METRICS and isinstance(value, int | float):
        return f"{value * 100:,.2f}%"
    if key in RATIO_METRICS and isinstance(value, int | float):
        return f"{value:,.2f}"
    if key == "max_drawdown_duration_days" and isinstance(value, int | float):
        return f"{value:,.1f} days"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}"
    return str(value)


def metrics_section(metrics: Mapping[str, Any]) -> str:
    """The metrics as grouped two-column tables; keys outside the known groups go last."""
    known = {key for _, keys in METRIC_GROUPS for key in keys}
    groups = [(name, [k for k in keys if k in metrics]) for name, keys in METRIC_GROUPS]
    groups.append(("Other", [key for key in metrics if key not in known]))
    tables = []
    for name, keys in groups:
        if not keys:
            continue
        rows = "".join(
            f"<tr><th>{html.escape(METRIC_LABELS.get(key, key))}</th>"
            f"{_cell(format_metric(key, metrics[key]), numeric=True)}</tr>"
            for key in keys
        )
        tables.append(
            f'<table class="metrics"><caption>{html.escape(name)}</caption>{rows}</table>'
        )
    if not tables:
        return "<section><h2>Metrics</h2><p>No metrics were computed.</p></section>"
    return f'<section><h2>Metrics</h2><div class="metric-groups">{"".join(tables)}</div></section>'


def trades_section(trades: Sequence[ClosedTrade]) -> str:
    if not trades:
        return "<section><h2>Trades</h2><p>No closed trades.</p></section>"
    shown = trades[:MAX_TRADE_ROWS]
    header = _header_row(
        "#",
        "Symbol",
        "Side",
        "Qty",
        "Entry time",
        "Entry price",
        "Exit time",
        "Exit price",
        "Gross PnL",
        "Fees",
        "Net PnL",
    )
    rows = "".join(
        "<tr>"
        + _cell(f"{number:,}", numeric=True)
        + _cell(trade.symbol)
        + _cell(trade.direction)
        + _cell(decimal_text(trade.qty), numeric=True)
        + _cell(ns_to_iso(trade.entry_ts))
        + _cell(price_text(trade.entry_price), numeric=True)
        + _cell(ns_to_iso(trade.exit_ts))
        + _cell(price_text(trade.exit_price), numeric=True)
        + _cell(_money(trade.gross_pnl), numeric=True)
        + _cell(_money(trade.fees), numeric=True)
        + _cell(_money(trade.net_pnl), numeric=True)
        + "</tr>"
        for number, trade in enumerate(shown, start=1)
    )
    note = ""
    if len(trades) > len(shown):
        note = (
            f'<p class="note">Showing the first {len(shown):,} of {len(trades):,} trades; '
            f"{len(trades) - len(shown):,} omitted.</p>"
        )
    return (
        f"<section><h2>Trades ({len(trades):,})</h2>{note}"
        f'<div class="scroll"><table class="data">{header}{rows}</table></div></section>'
    )


def fills_section(fills: Sequence[OrderFilled]) -> str:
    if not fills:
        return "<section><h2>Fills</h2><p>No fills.</p></section>"
    shown = fills[-MAX_FILL_ROWS:]
    header = _header_row("Time", "Symbol", "Side", "Qty", "Price", "Fee", "Liquidity", "Order")
    rows = "".join(
        "<tr>"
        + _cell(ns_to_iso(fill.ts))
        + _cell(fill.symbol)
        + _cell(fill.side.value, css=fill.side.value)
        + _cell(decimal_text(fill.qty), numeric=True)
        + _cell(decimal_text(fill.price), numeric=True)
        + _cell(decimal_text(fill.fee), numeric=True)
        + _cell(fill.liquidity.value)
        + _cell(fill.client_order_id)
        + "</tr>"
        for fill in shown
    )
    title = f"Last {len(shown):,} of {len(fills):,} fills" if len(shown) < len(fills) else "Fills"
    return (
        f"<section><h2>{title}</h2>"
        f'<div class="scroll"><table class="data">{header}{rows}</table></div></section>'
    )


def price_text(price: Decimal) -> str:
    exponent = price.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -8:
        price = price.quantize(_PRICE_PLACES)
    return decimal_text(price)


def definition_list(items: Iterable[tuple[str, str]]) -> str:
    """``<dl>`` of (label, text) pairs, both escaped."""
    body = "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(text)}</dd>" for label, text in items
    )
    return f"<dl>{body}</dl>"


def _money(value: Any) -> str:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not amount.is_finite():
        return str(value)
    return f"{amount:,.2f}"


def _header_row(*labels: str) -> str:
    return "<tr>" + "".join(f"<th>{html.escape(label)}</th>" for label in labels) + "</tr>"


def _cell(text: str, *, numeric: bool = False, css: str = "") -> str:
    classes = [css] if css else []
    if numeric:
        classes.append("num")
        if text.startswith("-"):
            classes.append("neg")
    attribute = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{attribute}>{html.escape(text)}</td>"

"""HTML tables of the backtest report: metrics, trades and fills.

Every piece of text that comes from the user or the data goes through ``html.escape``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from algotrade.backtest.metric_format import metric_rows, money_text, price_text
from algotrade.core.events import OrderFilled
from algotrade.core.timeutil import ns_to_iso
from algotrade.core.trades import ClosedTrade

MAX_TRADE_ROWS = 500
MAX_FILL_ROWS = 100


def metrics_section(values: Mapping[str, Any]) -> str:
    """The metrics (see ``metric_format.display_metrics``) as grouped two-column tables."""
    tables = []
    for name, rows in metric_rows(values):
        body = "".join(
            f"<tr><th>{html.escape(label)}</th>{_cell(text, numeric=True)}</tr>"
            for label, text in rows
        )
        tables.append(
            f'<table class="metrics"><caption>{html.escape(name)}</caption>{body}</table>'
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
        + _cell(price_text(trade.qty), numeric=True)
        + _cell(ns_to_iso(trade.entry_ts))
        + _cell(price_text(trade.entry_price), numeric=True)
        + _cell(ns_to_iso(trade.exit_ts))
        + _cell(price_text(trade.exit_price), numeric=True)
        + _cell(money_text(trade.gross_pnl), numeric=True)
        + _cell(money_text(trade.fees), numeric=True)
        + _cell(money_text(trade.net_pnl), numeric=True)
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
        + _cell(price_text(fill.qty), numeric=True)
        + _cell(price_text(fill.price), numeric=True)
        + _cell(price_text(fill.fee), numeric=True)
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


def definition_list(items: Iterable[tuple[str, str]]) -> str:
    """``<dl>`` of (label, text) pairs, both escaped."""
    body = "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(text)}</dd>" for label, text in items
    )
    return f"<dl>{body}</dl>"


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

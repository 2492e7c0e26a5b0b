"""What a universe backtest writes: one JSON document, and an HTML page of the aggregate that
links one ordinary backtest report per symbol (``backtest.report``, reused as is).

``--report out/u.html`` writes ``out/u.html`` and ``out/u-symbols/<symbol>.html``; symbols
are percent-encoded outside ``[A-Za-z0-9._-]`` in file names (``BTC/USDT:USDT``), as in the
catalog.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import plotly.io as pio

from algotrade.atomic_file import write_atomic
from algotrade.backtest.export import iso_times, result_to_dict
from algotrade.backtest.metric_format import MISSING, format_metric, money_text
from algotrade.backtest.report import REPORT_STYLE, write_report
from algotrade.backtest.report_charts import equity_figure
from algotrade.backtest.report_tables import definition_list
from algotrade.backtest.universe import UniverseResult
from algotrade.data.bars import BarData

# (heading, key of a symbol's metrics, key of the aggregate's portfolio metrics or None)
COLUMNS = (
    ("bars", "bars", None),
    ("trades", "trades", None),
    ("net profit", "net_profit", None),
    ("return", "total_return", "total_return"),
    ("sharpe", "sharpe", "sharpe"),
    ("max dd", "max_drawdown", "max_drawdown"),
    ("fees", "fees_paid", None),
)
_AGGREGATE_SUMS = {"bars": "bars", "trades": "trades", "net_profit": "net_profit"}


def table_rows(universe: UniverseResult) -> tuple[list[str], list[list[str]], list[str]]:
    """Headings, one row per symbol, and the aggregate row (sums of money and counts; the
    equal-weight portfolio's return, Sharpe and drawdown), as display text."""
    headings = ["symbol", *(heading for heading, _, _ in COLUMNS), "error"]
    rows = []
    for run in universe.runs:
        metrics = run.result.metrics if run.result is not None else {}
        cells = [
            format_metric(key, metrics[key]) if key in metrics else MISSING for _, key, _ in COLUMNS
        ]
        rows.append([run.symbol, *cells, run.error or ""])
    aggregate = universe.aggregate
    portfolio = aggregate["portfolio"]
    total = []
    for _, key, portfolio_key in COLUMNS:
        if portfolio_key is not None:
            total.append(format_metric(portfolio_key, portfolio.get(portfolio_key)))
        elif key in ("net_profit", "fees_paid"):
            total.append(money_text(aggregate[key]))
        else:
            total.append(format_metric(key, aggregate[_AGGREGATE_SUMS[key]]))
    return headings, rows, ["ALL", *total, ""]


def summary_lines(universe: UniverseResult) -> list[str]:
    """Mean/median return and the best and worst symbols, for under the table."""
    aggregate = universe.aggregate

    def pct(value: float | None) -> str:
        return format_metric("total_return", value)

    mean, median = aggregate["mean"]["total_return"], aggregate["median"]["total_return"]
    failed = ", ".join(aggregate["failed_symbols"][:10])
    more = len(aggregate["failed_symbols"]) - 10
    lines = [
        f"symbols: {aggregate['succeeded']} ran, {aggregate['failures']} failed"
        + (f" ({failed}{f' and {more} more' if more > 0 else ''})" if failed else ""),
        "ALL: sums of money and counts; return, Sharpe and drawdown of the equal-weight "
        "portfolio (cash split equally at the start, never rebalanced)",
        f"return per symbol: mean {pct(mean)}, median {pct(median)}",
    ]
    for title in ("best", "worst"):
        ranked = ", ".join(f"{e['symbol']} {pct(e['total_return'])}" for e in aggregate[title])
        if ranked:
            lines.append(f"{title}: {ranked}")
    return lines


def universe_to_dict(universe: UniverseResult, *, venue: str, interval: str) -> dict[str, Any]:
    curve = np.round(universe.portfolio_equity, 8).tolist()
    results = []
    for run in universe.runs:
        entry: dict[str, Any] = {"symbol": run.symbol, "error": run.error}
        if run.result is not None:
            entry.update(result_to_dict(run.result))
        results.append(entry)
    return {
        "simulated_data": False,
        "strategy": universe.strategy,
        "params": universe.params,
        "venue": venue,
        "interval": interval,
        "symbols": [run.symbol for run in universe.runs],
        "aggregate": universe.aggregate,
        "portfolio_equity": [
            [t, v] for t, v in zip(iso_times(universe.portfolio_ts), curve, strict=True)
        ],
        "results": results,
    }


def write_universe_json(universe: UniverseResult, path: Path, *, venue: str, interval: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = universe_to_dict(universe, venue=venue, interval=interval)
    write_atomic(path, json.dumps(document, indent=1, allow_nan=False) + "\n")
    return path


def symbol_report_path(path: Path, symbol: str) -> Path:
    return path.parent / f"{path.stem}-symbols" / f"{quote(symbol, safe='-._')}.html"


def write_universe_report(
    universe: UniverseResult, bars: Mapping[str, BarData], path: Path, *, venue: str, interval: str
) -> Path:
    """The aggregate page at ``path`` and one report per symbol that ran (module doc)."""
    path = Path(path)
    for symbol, result in universe.succeeded:
        write_report(
            result,
            bars[symbol].frame,
            symbol_report_path(path, symbol),
            title=f"Backtest report — {result.strategy} on {venue}:{symbol} {interval}",
        )
    heading = f"Universe backtest — {universe.strategy} on {len(universe.runs)} {venue} symbols"
    params = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in universe.params.items())
    portfolio = universe.aggregate["portfolio"]
    header = definition_list(
        [
            ("Strategy", universe.strategy),
            ("Parameters", params or "(none)"),
            ("Venue / interval", f"{venue} / {interval}"),
            ("Period", f"{portfolio.get('start', MISSING)} → {portfolio.get('end', MISSING)}"),
            ("Symbols", f"{universe.aggregate['succeeded']} ran, "
             f"{universe.aggregate['failures']} failed"),
        ]
    )  # fmt: skip
    body = [f"<section><h1>{html.escape(heading)}</h1>{header}</section>"]
    if universe.portfolio_equity.size:
        figure = equity_figure(
            universe.portfolio_ts,
            universe.portfolio_equity,
            float(universe.initial_cash),
            synthetic=False,
        )
        chart = pio.to_html(
            figure, include_plotlyjs=True, full_html=False, default_width="100%", validate=False
        )
        body.append(f"<section><h2>Equal-weight portfolio</h2>{chart}</section>")
    body.append(_symbols_table(universe, path))
    notes = "".join(f"<li>{html.escape(line)}</li>" for line in summary_lines(universe))
    body.append(f"<section><h2>Summary</h2><ul>{notes}</ul></section>")
    document = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(heading)}</title>\n<style>{REPORT_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{''.join(body)}\n</main>\n</body>\n</html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, document)
    return path


def _symbols_table(universe: UniverseResult, path: Path) -> str:
    headings, rows, total = table_rows(universe)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headings)
    lines = []
    for run, row in zip(universe.runs, rows, strict=True):
        name = html.escape(run.symbol)
        if run.result is not None:
            link = symbol_report_path(path, run.symbol).relative_to(path.parent).as_posix()
            name = f'<a href="{html.escape(quote(link))}">{name}</a>'
        cells = "".join(f'<td class="num">{html.escape(c)}</td>' for c in row[1:-1])
        lines.append(f"<tr><td>{name}</td>{cells}<td>{html.escape(row[-1])}</td></tr>")
    cells = "".join(f'<td class="num"><b>{html.escape(c)}</b></td>' for c in total[1:-1])
    lines.append(f"<tr><td><b>{html.escape(total[0])}</b></td>{cells}<td></td></tr>")
    return (
        '<section><h2>Per symbol</h2><div class="scroll"><table class="data">'
        f"<tr>{head}</tr>{''.join(lines)}</table></div></section>"
    )

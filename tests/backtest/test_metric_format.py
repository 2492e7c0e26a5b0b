"""One display format for the terminal table and the HTML report; no long decimal tails."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from algotrade.backtest.metric_format import (
    display_metrics,
    format_metric,
    metric_rows,
    money_text,
    price_text,
)
from algotrade.backtest.report import write_report
from algotrade.backtest.result import BacktestResult
from algotrade.cli.backtest_cmd import print_metrics
from algotrade.core.events import Liquidity, OrderFilled, OrderSide
from algotrade.core.trades import ClosedTrade

T0 = 1_704_067_200 * 10**9
HOUR = 3_600 * 10**9
# What an unrounded average price or PnL looks like: 28 significant digits.
LONG = Decimal(100) / Decimal(3)
LONG_PNL = Decimal("108.4833811200000000000000017")
LONG_DECIMALS = re.compile(r"\d\.\d{9,}")

METRICS = {
    "initial_cash": "100000",
    "final_equity": "100352.0392359",
    "realized_pnl": str(LONG_PNL),
    "fees_paid": "688.1527641",
    "total_return": 0.0035203923,
    "max_drawdown": 0.0379626,
    "sharpe": 0.0245163,
    "win_rate": 0.336735,
    "expectancy": -1.26565,
    "trades": 196,
    "start": "1995-01-03T00:00:00Z",
}
BENCHMARK = {
    "method": "buy_and_hold",
    "total_return": 20.218256938642114,
    "max_drawdown": 0.8419433198380567,
    "excess_return": -20.214736546283113,
    "entries": [{"symbol": "ORCL"}],
}


def make_result() -> tuple[BacktestResult, pl.DataFrame]:
    frame = pl.DataFrame(
        {
            "symbol": ["AAA"] * 30,
            "ts": T0 + np.arange(30, dtype=np.int64) * HOUR,
            "open": np.linspace(30, 40, 30),
            "high": np.linspace(30, 40, 30) + 1,
            "low": np.linspace(30, 40, 30) - 1,
            "close": np.linspace(30, 40, 30),
            "volume": np.ones(30),
        }
    )
    fill = OrderFilled(
        client_order_id="o-1",
        venue_order_id="v-1",
        trade_id="t-1",
        symbol="AAA",
        side=OrderSide.BUY,
        qty=Decimal("0.3"),
        price=LONG,
        fee=LONG * Decimal("0.3") * Decimal("0.001"),
        liquidity=Liquidity.TAKER,
        ts=T0 + HOUR,
    )
    trade = ClosedTrade(
        symbol="AAA",
        direction="long",
        qty=Decimal("0.3"),
        entry_ts=T0 + HOUR,
        exit_ts=T0 + 5 * HOUR,
        entry_price=LONG,
        exit_price=Decimal("40"),
        gross_pnl=LONG_PNL,
        fees=LONG / 1000,
    )
    result = BacktestResult(
        strategy="demo",
        params={},
        symbols=["AAA"],
        bar_count=30,
        start_ns=T0,
        end_ns=T0 + 29 * HOUR,
        initial_cash=Decimal(100_000),
        final_equity=Decimal("100352.0392359"),
        realized_pnl=LONG_PNL,
        unrealized_pnl=Decimal(0),
        fees=Decimal("688.1527641"),
        orders=[],
        fills=[fill],
        trades=[trade],
        equity_ts=np.asarray(frame["ts"].to_numpy(), dtype=np.int64),
        equity=np.full(30, 100_000.0),
        exposure=0.5,
    )
    result.metrics = dict(METRICS)
    result.benchmark_metrics = dict(BENCHMARK)
    return result, frame


def test_kinds() -> None:
    assert format_metric("total_return", 0.0035203923) == "0.35%"
    assert format_metric("win_rate", 0.336735) == "33.67%"
    assert format_metric("realized_pnl", str(LONG_PNL)) == "108.48"
    assert format_metric("final_equity", "100352.0392359") == "100,352.04"
    assert format_metric("sharpe", 0.0245163) == "0.02"
    assert format_metric("benchmark.total_return", 20.218256938642114) == "2,021.83%"
    assert format_metric("benchmark.excess_return", -0.05) == "-5.00%"
    assert format_metric("unknown", 1.23456789) == "1.235"
    assert format_metric("total_return", float("nan")) == "nan"


def test_money_rounds_half_even_and_prices_keep_up_to_eight_places() -> None:
    assert money_text(Decimal("0.125")) == "0.12"
    assert money_text(Decimal("0.135")) == "0.14"
    assert money_text("-1234567.891") == "-1,234,567.89"
    assert price_text(LONG) == "33.33333333"
    assert price_text(Decimal("2.216049")) == "2.216049"
    assert price_text(Decimal("12345678901234567890.123456789123")) == (
        "12345678901234567890.12345679"
    )
    assert price_text("abc") == "abc"


def test_benchmark_figures_join_the_rows_and_its_description_does_not() -> None:
    rows = dict(metric_rows(display_metrics(METRICS, BENCHMARK)))
    benchmark = dict(rows["Benchmark: buy & hold from the first close"])
    assert benchmark == {
        "Buy & hold return": "2,021.83%",
        "Buy & hold max drawdown": "84.19%",
        "Excess return (strategy − B&H)": "-2,021.47%",
    }
    assert "Other" not in rows


def test_terminal_table_shows_percentages_and_rounded_money(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result, _ = make_result()
    print_metrics(result)
    text = capsys.readouterr().out
    assert "0.35%" in text  # total return, not 0.00352039
    assert "0.0035" not in text
    assert "33.67%" in text
    assert "108.48" in text  # realized PnL, not 28 digits
    assert "2,021.83%" in text  # buy & hold
    assert not LONG_DECIMALS.search(text), text


def test_terminal_and_html_show_the_same_texts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result, frame = make_result()
    print_metrics(result)
    terminal = capsys.readouterr().out
    page = write_report(result, frame, tmp_path / "r.html").read_text(encoding="utf-8")
    for _group, rows in metric_rows(display_metrics(result.metrics, result.benchmark_metrics)):
        for label, text in rows:
            assert text in terminal, label
            assert f">{text}</td>" in page, label


def test_html_tables_have_no_long_decimal_tails(tmp_path: Path) -> None:
    result, frame = make_result()
    page = write_report(result, frame, tmp_path / "r.html").read_text(encoding="utf-8")
    tables = page[page.index("<h2>Metrics") : page.index("<h2>Charts")]
    tables += page[page.index("<h2>Trades") :]
    assert not LONG_DECIMALS.search(tables)
    assert ">33.33333333</td>" in tables  # the average entry price
    assert ">108.48</td>" in tables  # its PnL
    assert ">0.03</td>" in tables  # the trade's fees, a money total
    assert ">0.01</td>" in tables  # the fill's fee, to at most 8 places

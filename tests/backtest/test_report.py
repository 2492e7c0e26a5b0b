from __future__ import annotations

import re
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from plotly.offline import get_plotlyjs_version

from algotrade.backtest.metric_format import format_metric
from algotrade.backtest.metrics import compute_metrics
from algotrade.backtest.report import SIMULATED_BANNER, write_report
from algotrade.backtest.report_charts import minmax_downsample
from algotrade.backtest.result import BacktestResult
from algotrade.core.events import Liquidity, OrderFilled, OrderSide
from algotrade.core.trades import ClosedTrade

T0 = 1_704_067_200 * 1_000_000_000  # 2024-01-01T00:00:00Z
HOUR = 3_600 * 1_000_000_000
MB = 1024 * 1024


def make_bars(symbols: list[str], count: int, step_ns: int = HOUR) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    frames = []
    for offset, symbol in enumerate(symbols):
        close = 100.0 * (offset + 1) * np.exp(np.cumsum(rng.normal(0, 0.002, count)))
        frames.append(
            pl.DataFrame(
                {
                    "symbol": [symbol] * count,
                    "ts": T0 + np.arange(count, dtype=np.int64) * step_ns,
                    "open": close * 0.999,
                    "high": close * 1.002,
                    "low": close * 0.997,
                    "close": close,
                    "volume": np.full(count, 10.0),
                },
                schema_overrides={"ts": pl.Int64},
            )
        )
    return pl.concat(frames)


def make_fill(number: int, symbol: str, side: OrderSide, ts: int, price: str) -> OrderFilled:
    return OrderFilled(
        client_order_id=f"o-{number}",
        venue_order_id=f"v-{number}",
        trade_id=f"t-{number}",
        symbol=symbol,
        side=side,
        qty=Decimal("0.125"),
        price=Decimal(price),
        fee=Decimal("0.0375"),
        liquidity=Liquidity.TAKER,
        ts=ts,
    )


def make_trade(number: int, symbol: str = "BTCUSDT") -> ClosedTrade:
    return ClosedTrade(
        symbol=symbol,
        direction="long",
        qty=Decimal("0.125"),
        entry_ts=T0 + number * HOUR,
        exit_ts=T0 + (number + 5) * HOUR,
        entry_price=Decimal(100) / Decimal(3),  # a long average price, rounded for display
        exit_price=Decimal("104.5"),
        gross_pnl=Decimal("1.25"),
        fees=Decimal("0.075"),
    )


def make_result(
    bars: pl.DataFrame,
    *,
    synthetic: bool = False,
    fills: list[OrderFilled] | None = None,
    trades: list[ClosedTrade] | None = None,
    strategy: str = "sma_cross",
    params: dict[str, object] | None = None,
) -> BacktestResult:
    times = np.unique(bars["ts"].to_numpy())
    equity = 100_000.0 + np.cumsum(np.random.default_rng(5).normal(0, 50, times.size))
    if fills is None:
        fills = [
            make_fill(1, "BTCUSDT", OrderSide.BUY, T0 + 10 * HOUR, "101.5"),
            make_fill(2, "BTCUSDT", OrderSide.SELL, T0 + 40 * HOUR, "104.5"),
        ]
    result = BacktestResult(
        strategy=strategy,
        params=params if params is not None else {"fast": 10, "slow": 30},
        symbols=bars["symbol"].unique(maintain_order=True).to_list(),
        bar_count=bars.height,
        start_ns=int(times[0]),
        end_ns=int(times[-1]),
        initial_cash=Decimal(100_000),
        final_equity=Decimal(repr(float(equity[-1]))),
        realized_pnl=Decimal("1.25"),
        unrealized_pnl=Decimal(0),
        fees=Decimal("0.075"),
        orders=[],
        fills=fills,
        trades=trades if trades is not None else [make_trade(10)],
        equity_ts=times.astype(np.int64),
        equity=equity,
        exposure=0.25,
        synthetic=synthetic,
    )
    result.metrics = compute_metrics(result)
    return result


def test_report_is_self_contained_with_one_inline_plotly_bundle(tmp_path: Path) -> None:
    bars = make_bars(["BTCUSDT"], 300)
    path = write_report(make_result(bars), bars, tmp_path / "report.html")
    assert path == tmp_path / "report.html"
    text = path.read_text(encoding="utf-8")
    assert text.count(f"plotly.js v{get_plotlyjs_version()}") == 1
    assert not re.search(r"<script[^>]+src=", text)
    assert not re.search(r"<link[^>]+href=", text)
    assert text.startswith("<!DOCTYPE html>")
    assert not (tmp_path / "report.html.tmp").exists()


def test_report_shows_formatted_metrics(tmp_path: Path) -> None:
    bars = make_bars(["BTCUSDT"], 300)
    result = make_result(bars)
    text = write_report(result, bars, tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<td class="num">100,000.00</td>' in text  # initial cash
    assert format_metric("sharpe", result.metrics["sharpe"]) in text
    assert format_metric("max_drawdown", result.metrics["max_drawdown"]) in text
    assert "25.00%" in text  # exposure
    assert "Sharpe ratio" in text
    assert "fast=10, slow=30" in text


def test_report_computes_metrics_when_the_result_has_none(tmp_path: Path) -> None:
    bars = make_bars(["BTCUSDT"], 50)
    result = make_result(bars)
    result.metrics = {}
    text = write_report(result, bars, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Max drawdown" in text
    assert "100,000.00" in text


def test_metric_formatting() -> None:
    assert format_metric("total_return", 0.1234) == "12.34%"
    assert format_metric("fees_paid", "1234.5678") == "1,234.57"
    assert format_metric("avg_loss", -15.0) == "-15.00"
    assert format_metric("sharpe", 1.23456) == "1.23"
    assert format_metric("calmar", None) == "—"
    assert format_metric("trades", 12345) == "12,345"
    assert format_metric("max_drawdown_duration_days", 3.25) == "3.2 days"
    assert format_metric("start", "2024-01-01T00:00:00Z") == "2024-01-01T00:00:00Z"


def test_simulated_banner_only_for_synthetic_data(tmp_path: Path) -> None:
    bars = make_bars(["BTCUSDT"], 50)
    synthetic = write_report(make_result(bars, synthetic=True), bars, tmp_path / "s.html")
    real = write_report(make_result(bars, synthetic=False), bars, tmp_path / "r.html")
    synthetic_text = synthetic.read_text(encoding="utf-8")
    real_text = real.read_text(encoding="utf-8")
    assert 'class="banner"' in synthetic_text
    assert SIMULATED_BANNER in synthetic_text
    assert "<title>[SIMULATED]" in synthetic_text
    assert "SIMULATED" not in real_text
    assert 'class="banner"' not in real_text


def test_fill_markers_and_tables(tmp_path: Path) -> None:
    bars = make_bars(["BTCUSDT"], 300)
    text = write_report(make_result(bars), bars, tmp_path / "r.html").read_text(encoding="utf-8")
    assert '"triangle-up"' in text
    assert '"triangle-down"' in text
    assert '"color":"#16a34a"' in text  # buys green
    assert '"color":"#dc2626"' in text  # sells red
    assert '["0.125","101.5","0.0375"]' in text  # exact qty/price/fee in the hover data
    assert "fee %{customdata[2]}" in text
    assert "Candlestick" in text or '"type":"candlestick"' in text
    # Trades and fills tables.
    assert "33.33333333" in text  # the average entry price, rounded to 8 places
    assert "2024-01-01T10:00:00Z" in text
    assert "o-2" in text


def test_long_tables_are_capped_and_say_so(tmp_path: Path) -> None:
    bars = make_bars(["BTCUSDT"], 300)
    trades = [make_trade(i) for i in range(620)]
    fills = [
        make_fill(i, "BTCUSDT", OrderSide.BUY if i % 2 else OrderSide.SELL, T0 + i * HOUR, "100")
        for i in range(250)
    ]
    result = make_result(bars, trades=trades, fills=fills)
    text = write_report(result, bars, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Showing the first 500 of 620 trades; 120 omitted." in text
    assert "Last 100 of 250 fills" in text
    assert "o-249" in text
    assert ">o-149<" not in text


def test_user_text_is_escaped(tmp_path: Path) -> None:
    bars = make_bars(["<img src=x onerror=alert(1)>"], 20)
    result = make_result(
        bars,
        fills=[],
        trades=[],
        strategy="<script>alert('s')</script>",
        params={"<b>key</b>": "</dd><script>"},
    )
    path = write_report(result, bars, tmp_path / "r.html", title="A & B <i>")
    text = path.read_text(encoding="utf-8")
    assert "<script>alert" not in text
    assert "<img src=x" not in text
    assert "<b>key" not in text
    assert "&lt;script&gt;alert(&#x27;s&#x27;)&lt;/script&gt;" in text
    assert "A &amp; B &lt;i&gt;" in text


def test_more_than_four_symbols_are_capped(tmp_path: Path) -> None:
    symbols = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"]
    bars = make_bars(symbols, 30)
    text = write_report(make_result(bars, fills=[]), bars, tmp_path / "r.html").read_text(
        encoding="utf-8"
    )
    assert "Price charts are shown for the first 4 of 6 symbols." in text
    # Plotly < 7 escapes non-ASCII in the figure JSON, Plotly 7 writes it as it is.
    assert "DDD \u2014 price" in text or "DDD \\u2014 price" in text
    assert "EEE \u2014 price" not in text
    assert "EEE \\u2014 price" not in text


def test_empty_run_still_writes_a_report(tmp_path: Path) -> None:
    bars = make_bars(["BTCUSDT"], 1)
    result = make_result(bars, fills=[], trades=[])
    empty = bars.clear()
    path = write_report(result, empty, tmp_path / "nested" / "r.html")
    text = path.read_text(encoding="utf-8")
    assert "No closed trades." in text
    assert "No fills." in text
    assert "No bars for BTCUSDT." in text


def test_minmax_downsample_keeps_extremes_and_ends() -> None:
    values = np.sin(np.linspace(0, 40, 100_000))
    values[12_345] = 9.0
    values[67_890] = -9.0
    index = minmax_downsample(values, target=1_000)
    assert index.size <= 1_000
    assert np.all(np.diff(index) > 0)
    assert {0, 12_345, 67_890, 99_999} <= set(index.tolist())
    assert minmax_downsample(values[:10], target=1_000).tolist() == list(range(10))


@pytest.mark.slow
def test_million_bar_report_stays_small(tmp_path: Path) -> None:
    count = 1_000_000
    bars = make_bars(["BTCUSDT"], count, step_ns=60_000_000_000)
    fills = [
        make_fill(
            i,
            "BTCUSDT",
            OrderSide.BUY if i % 2 else OrderSide.SELL,
            T0 + i * 50 * 60 * 10**9,
            "100",
        )
        for i in range(20_000)
    ]
    trades = [make_trade(i) for i in range(2_000)]
    result = make_result(bars, fills=fills, trades=trades, synthetic=True)
    assert result.equity.size == count
    started = time.perf_counter()
    path = write_report(result, bars, tmp_path / "big.html")
    elapsed = time.perf_counter() - started
    size = path.stat().st_size
    text = path.read_text(encoding="utf-8")
    assert size < 8 * MB
    assert "downsampled: " in text  # the figure JSON escapes the "/" of "min/max"
    assert "of 1,000,000 points" in text
    assert "fill markers: 5,000 of 20,000 shown" in text
    assert elapsed < 20

"""Plotly figures for the HTML backtest report, and the downsampling that keeps them small.

Timestamps go to plotly as float milliseconds on a date axis: plotly encodes float arrays as
base64 typed arrays (8 bytes a point), far smaller than ISO strings.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from algotrade.backtest.metric_format import price_text
from algotrade.core.events import OrderFilled, OrderSide

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.intp]

CHART_POINTS = 5_000  # points per series after downsampling
CANDLESTICK_MAX_BARS = 2_000  # above this, candles are unreadable and heavy: draw the close
NS_PER_MS = 1_000_000
TEMPLATE = "plotly_white"
BUY_COLOR = "#16a34a"
SELL_COLOR = "#dc2626"
EQUITY_COLOR = "#2563eb"
DRAWDOWN_COLOR = "#b91c1c"
BENCHMARK_COLOR = "#6b7280"
CANDLE_UP_COLOR = "#93c5fd"
CANDLE_DOWN_COLOR = "#475569"


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """One symbol's bars, ascending by ``ts`` (ns, bar open time)."""

    symbol: str
    ts: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray


def minmax_downsample(values: FloatArray, target: int = CHART_POINTS) -> IndexArray:
    """Indices of at most ``target`` points that keep the shape of ``values``.

    The series is cut into equal buckets and each bucket keeps its minimum and maximum (in
    time order), so spikes and the deepest drawdown survive; the first and last points are
    always kept. Returns every index when the series already fits.
    """
    count = values.size
    if count <= target:
        return np.arange(count, dtype=np.intp)
    buckets = max(1, (target - 2) // 2)
    size = math.ceil(count / buckets)
    # Pad with the last value so the series reshapes into full buckets; a padded index is
    # clipped back onto the last point, which has the same value.
    padded = np.pad(values, (0, buckets * size - count), mode="edge").reshape(buckets, size)
    offsets = np.arange(buckets, dtype=np.intp) * size
    lows = offsets + np.argmin(padded, axis=1)
    highs = offsets + np.argmax(padded, axis=1)
    picked = np.concatenate(([0, count - 1], lows, highs))
    return np.unique(np.minimum(picked, count - 1))


def drawdown_percent(equity: FloatArray, initial_cash: float) -> FloatArray:
    """Percent below the running peak (≤ 0), the peak starting at the initial cash."""
    peak = np.maximum(np.maximum.accumulate(equity), initial_cash)
    with np.errstate(divide="ignore", invalid="ignore"):
        underwater = np.where(peak > 0, (equity / peak - 1.0) * 100.0, 0.0)
    return np.asarray(underwater, dtype=np.float64)


def equity_figure(
    ts: IntArray,
    equity: FloatArray,
    initial_cash: float,
    *,
    synthetic: bool,
    benchmark: FloatArray | None = None,
) -> go.Figure:
    """Equity curve (and the buy-and-hold benchmark's, when given: same timestamps) above
    the strategy's drawdown (% underwater), sharing the time axis."""
    equity_index = minmax_downsample(equity)
    underwater = drawdown_percent(equity, initial_cash)
    underwater_index = minmax_downsample(underwater)
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.7, 0.3],
        vertical_spacing=0.06,
        subplot_titles=(
            "Equity" + _downsampled_note(equity_index.size, equity.size),
            "Drawdown (% below peak)" + _downsampled_note(underwater_index.size, equity.size),
        ),
    )
    figure.add_trace(
        go.Scatter(
            x=_to_ms(ts[equity_index]),
            y=equity[equity_index],
            mode="lines",
            name="Equity",
            line={"color": EQUITY_COLOR, "width": 1.5},
            hovertemplate="%{x|%Y-%m-%d %H:%M:%S}<br>equity %{y:,.2f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    if benchmark is not None and benchmark.size == equity.size:
        benchmark_index = minmax_downsample(benchmark)
        figure.add_trace(
            go.Scatter(
                x=_to_ms(ts[benchmark_index]),
                y=benchmark[benchmark_index],
                mode="lines",
                name="Buy & hold",
                line={"color": BENCHMARK_COLOR, "width": 1.2, "dash": "dash"},
                hovertemplate="%{x|%Y-%m-%d %H:%M:%S}<br>buy & hold %{y:,.2f}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    figure.add_hline(
        y=initial_cash, line={"color": "#6b7280", "dash": "dot", "width": 1}, row=1, col=1
    )
    figure.add_trace(
        go.Scatter(
            x=_to_ms(ts[underwater_index]),
            y=underwater[underwater_index],
            mode="lines",
            name="Drawdown",
            showlegend=False,
            fill="tozeroy",
            line={"color": DRAWDOWN_COLOR, "width": 1},
            hovertemplate="%{x|%Y-%m-%d %H:%M:%S}<br>%{y:.2f}%<extra></extra>",
        ),
        row=2,
        col=1,
    )
    title = "Equity curve — SIMULATED DATA" if synthetic else "Equity curve"
    figure.update_layout(
        template=TEMPLATE,
        title={"text": title},
        height=560,
        showlegend=benchmark is not None,
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        margin={"l": 60, "r": 20, "t": 70, "b": 40},
        hovermode="x",
    )
    figure.update_xaxes(type="date")
    figure.update_yaxes(title_text="equity", row=1, col=1)
    figure.update_yaxes(title_text="%", row=2, col=1)
    return figure


def price_figure(series: PriceSeries, fills: Sequence[OrderFilled], max_markers: int) -> go.Figure:
    """Candlesticks (or the close when there are many bars) with buy/sell fill markers."""
    symbol = html.escape(series.symbol)
    figure = go.Figure()
    count = series.ts.size
    if count <= CANDLESTICK_MAX_BARS:
        figure.add_trace(
            go.Candlestick(
                x=_to_ms(series.ts),
                open=series.open,
                high=series.high,
                low=series.low,
                close=series.close,
                name=symbol,
                showlegend=False,
                # Muted candles, so the green/red fill markers stand out against them.
                increasing={"line": {"color": CANDLE_UP_COLOR}, "fillcolor": CANDLE_UP_COLOR},
                decreasing={"line": {"color": CANDLE_DOWN_COLOR}, "fillcolor": CANDLE_DOWN_COLOR},
            )
        )
        title = f"{symbol} — price"
    else:
        index = minmax_downsample(series.close)
        figure.add_trace(
            go.Scatter(
                x=_to_ms(series.ts[index]),
                y=series.close[index],
                mode="lines",
                name="close",
                line={"color": "#374151", "width": 1},
                hovertemplate="%{x|%Y-%m-%d %H:%M:%S}<br>close %{y}<extra></extra>",
            )
        )
        title = f"{symbol} — close" + _downsampled_note(index.size, count)
    shown = _spread_evenly(fills, max_markers)
    if len(shown) < len(fills):
        title += f"; fill markers: {len(shown):,} of {len(fills):,} shown"
    for side in (OrderSide.BUY, OrderSide.SELL):
        own = [fill for fill in shown if fill.side is side]
        if own:
            figure.add_trace(_fill_markers(side, own))
    figure.update_layout(
        template=TEMPLATE,
        title={"text": title},
        height=460,
        margin={"l": 60, "r": 20, "t": 60, "b": 40},
        xaxis={"type": "date", "rangeslider": {"visible": False}},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
    )
    return figure


def _fill_markers(side: OrderSide, fills: Sequence[OrderFilled]) -> go.Scatter:
    buying = side is OrderSide.BUY
    ts = np.fromiter((fill.ts for fill in fills), dtype=np.int64, count=len(fills))
    prices = np.fromiter((float(fill.price) for fill in fills), dtype=np.float64, count=len(fills))
    # Exact quantities, prices and fees travel as text so the hover shows the fill, not a float.
    details = [
        [price_text(fill.qty), price_text(fill.price), price_text(fill.fee)] for fill in fills
    ]
    return go.Scatter(
        x=_to_ms(ts),
        y=prices,
        mode="markers",
        name="buy" if buying else "sell",
        marker={
            "symbol": "triangle-up" if buying else "triangle-down",
            "color": BUY_COLOR if buying else SELL_COLOR,
            "size": 12,
            "line": {"width": 1, "color": "#111827"},
        },
        customdata=details,
        hovertemplate=(
            f"<b>{'BUY' if buying else 'SELL'}</b> %{{customdata[0]}} @ %{{customdata[1]}}"
            "<br>fee %{customdata[2]}<br>%{x|%Y-%m-%d %H:%M:%S.%L} UTC<extra></extra>"
        ),
    )


def _spread_evenly(fills: Sequence[OrderFilled], limit: int) -> list[OrderFilled]:
    """At most ``limit`` fills, spread over the whole run rather than only its start."""
    if len(fills) <= limit:
        return list(fills)
    if limit <= 0:
        return []
    picks = np.unique(np.linspace(0, len(fills) - 1, limit).round().astype(np.intp))
    return [fills[int(i)] for i in picks]


def _downsampled_note(shown: int, total: int) -> str:
    if shown >= total:
        return ""
    return f" (min/max downsampled: {shown:,} of {total:,} points)"


def _to_ms(ts: IntArray) -> FloatArray:
    return np.asarray(ts, dtype=np.float64) / NS_PER_MS

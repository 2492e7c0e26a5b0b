"""Plotly figures for the HTML backtest report, and the downsampling that keeps them small.

Figures are plain plotly.js JSON (dicts), written with ``plotly.io.to_html(validate=False)``:
building ``plotly.graph_objects`` figures cost ~0.8 s in a fresh process (plotly loads and runs
a validator for every property), more than the rest of a 1M-bar report. The layout here is the
one ``make_subplots``/``update_layout`` produced, spelled out.

Timestamps go to plotly as float milliseconds on a date axis, and every numeric array as a
base64 typed array (8 bytes a point), far smaller than ISO strings or decimal text.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from algotrade.backtest.metric_format import price_text
from algotrade.core.events import OrderFilled, OrderSide

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.intp]
Figure = dict[str, Any]  # plotly.js JSON: {"data": [...], "layout": {...}}

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
    # The full buckets are a view of the series reshaped (no copy: 1M points are 8 MB); the
    # shorter last bucket, if any, is searched on its own.
    full = count // size
    whole = values[: full * size].reshape(full, size)
    offsets = np.arange(full, dtype=np.intp) * size
    lows = offsets + np.argmin(whole, axis=1)
    highs = offsets + np.argmax(whole, axis=1)
    if full * size < count:
        rest = values[full * size :]
        lows = np.append(lows, full * size + int(np.argmin(rest)))
        highs = np.append(highs, full * size + int(np.argmax(rest)))
    # Each bucket's two picks in time order, bucket after bucket: already ascending, so
    # dropping repeats suffices (np.unique would sort, and its first call imports numpy.ma:
    # 0.25 s of a CLI run).
    pairs = np.stack((np.minimum(lows, highs), np.maximum(lows, highs)), axis=1).ravel()
    picked = np.concatenate(([0], pairs, [count - 1]))
    return _drop_repeats(picked.astype(np.intp))


def _drop_repeats(ascending: IndexArray) -> IndexArray:
    """The distinct values of an ascending array (what ``np.unique`` returns for it)."""
    if ascending.size < 2:
        return ascending
    keep = np.empty(ascending.shape, dtype=bool)
    keep[0] = True
    np.not_equal(ascending[1:], ascending[:-1], out=keep[1:])
    return ascending[keep]


def drawdown_percent(equity: FloatArray, initial_cash: float) -> FloatArray:
    """Percent below the running peak (≤ 0), the peak starting at the initial cash."""
    # In place in one array (the peak, then the result): (equity / peak - 1) * 100 where the
    # peak is positive, 0 elsewhere.
    underwater = np.maximum.accumulate(equity)
    np.maximum(underwater, initial_cash, out=underwater)
    below_zero = ~(underwater > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(equity, underwater, out=underwater)
    underwater -= 1.0
    underwater *= 100.0
    underwater[below_zero] = 0.0
    return np.asarray(underwater, dtype=np.float64)


def equity_figure(
    ts: IntArray,
    equity: FloatArray,
    initial_cash: float,
    *,
    synthetic: bool,
    benchmark: FloatArray | None = None,
) -> Figure:
    """Equity curve (and the buy-and-hold benchmark's, when given: same timestamps) above
    the strategy's drawdown (% underwater), sharing the time axis."""
    equity_index = minmax_downsample(equity)
    underwater = drawdown_percent(equity, initial_cash)
    underwater_index = minmax_downsample(underwater)
    traces = [
        _line(
            ts[equity_index],
            equity[equity_index],
            name="Equity",
            line={"color": EQUITY_COLOR, "width": 1.5},
            hovertemplate="%{x|%Y-%m-%d %H:%M:%S}<br>equity %{y:,.2f}<extra></extra>",
            xaxis="x",
            yaxis="y",
        )
    ]
    if benchmark is not None and benchmark.size == equity.size:
        benchmark_index = minmax_downsample(benchmark)
        traces.append(
            _line(
                ts[benchmark_index],
                benchmark[benchmark_index],
                name="Buy & hold",
                line={"color": BENCHMARK_COLOR, "width": 1.2, "dash": "dash"},
                hovertemplate="%{x|%Y-%m-%d %H:%M:%S}<br>buy & hold %{y:,.2f}<extra></extra>",
                xaxis="x",
                yaxis="y",
            )
        )
    traces.append(
        _line(
            ts[underwater_index],
            underwater[underwater_index],
            name="Drawdown",
            showlegend=False,
            fill="tozeroy",
            line={"color": DRAWDOWN_COLOR, "width": 1},
            hovertemplate="%{x|%Y-%m-%d %H:%M:%S}<br>%{y:.2f}%<extra></extra>",
            xaxis="x2",
            yaxis="y2",
        )
    )
    # Two rows sharing the time axis, 70/30 with a 6 % gap (make_subplots' arithmetic).
    gap = 0.06
    top_height = 0.7 * (1.0 - gap)
    bottom_top = 0.3 * (1.0 - gap)
    titles = (
        ("Equity" + _downsampled_note(equity_index.size, equity.size), 1.0),
        (
            "Drawdown (% below peak)" + _downsampled_note(underwater_index.size, equity.size),
            bottom_top,
        ),
    )
    layout: dict[str, Any] = {
        "template": template(),
        "title": {"text": "Equity curve — SIMULATED DATA" if synthetic else "Equity curve"},
        "height": 560,
        "showlegend": benchmark is not None,
        "legend": LEGEND,
        "margin": {"l": 60, "r": 20, "t": 70, "b": 40},
        "hovermode": "x",
        "xaxis": {
            "anchor": "y",
            "domain": [0.0, 1.0],
            "matches": "x2",
            "showticklabels": False,
            "type": "date",
        },
        "yaxis": {"anchor": "x", "domain": [1.0 - top_height, 1.0], "title": {"text": "equity"}},
        "xaxis2": {"anchor": "y2", "domain": [0.0, 1.0], "type": "date"},
        "yaxis2": {"anchor": "x2", "domain": [0.0, bottom_top], "title": {"text": "%"}},
        "annotations": [
            {
                "font": {"size": 16},
                "showarrow": False,
                "text": text,
                "x": 0.5,
                "xanchor": "center",
                "xref": "paper",
                "y": top,
                "yanchor": "bottom",
                "yref": "paper",
            }
            for text, top in titles
        ],
        "shapes": [  # the initial cash, across the equity chart (add_hline)
            {
                "type": "line",
                "line": {"color": "#6b7280", "dash": "dot", "width": 1},
                "x0": 0,
                "x1": 1,
                "xref": "x domain",
                "y0": initial_cash,
                "y1": initial_cash,
                "yref": "y",
            }
        ],
    }
    return {"data": traces, "layout": layout}


def price_figure(series: PriceSeries, fills: Sequence[OrderFilled], max_markers: int) -> Figure:
    """Candlesticks (or the close when there are many bars) with buy/sell fill markers."""
    symbol = html.escape(series.symbol)
    count = series.ts.size
    traces: list[dict[str, Any]] = []
    if count <= CANDLESTICK_MAX_BARS:
        traces.append(
            {
                "type": "candlestick",
                "x": typed_array(_to_ms(series.ts)),
                "open": typed_array(series.open),
                "high": typed_array(series.high),
                "low": typed_array(series.low),
                "close": typed_array(series.close),
                "name": symbol,
                "showlegend": False,
                # Muted candles, so the green/red fill markers stand out against them.
                "increasing": {"line": {"color": CANDLE_UP_COLOR}, "fillcolor": CANDLE_UP_COLOR},
                "decreasing": {
                    "line": {"color": CANDLE_DOWN_COLOR},
                    "fillcolor": CANDLE_DOWN_COLOR,
                },
            }
        )
        title = f"{symbol} — price"
    else:
        index = minmax_downsample(series.close)
        traces.append(
            _line(
                series.ts[index],
                series.close[index],
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
            traces.append(_fill_markers(side, own))
    layout = {
        "template": template(),
        "title": {"text": title},
        "height": 460,
        "margin": {"l": 60, "r": 20, "t": 60, "b": 40},
        "xaxis": {"type": "date", "rangeslider": {"visible": False}},
        "legend": LEGEND,
    }
    return {"data": traces, "layout": layout}


LEGEND = {"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"}


@cache
def template() -> dict[str, Any]:
    """The ``TEMPLATE`` theme as plotly ships it (what ``template="plotly_white"`` embeds),
    read from its JSON file: ``plotly.io.templates`` would build and validate a figure."""
    source = resources.files("plotly") / "package_data" / "templates" / f"{TEMPLATE}.json"
    loaded: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    return loaded


def plotly_bundle_script() -> Iterator[str]:
    """The plotly.js bundle inline (what ``to_html(include_plotlyjs=True)`` embeds, read from
    the same file), in 1 MB pieces: the 4.6 MB bundle is never one more string in memory.
    Charts written after it with ``include_plotlyjs=False`` use it."""
    yield "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>"
    yield '<script charset="utf-8" type="text/javascript">'
    bundle = resources.files("plotly") / "package_data" / "plotly.min.js"
    with bundle.open("r", encoding="utf-8") as source:
        while piece := source.read(1 << 20):
            yield piece
    yield "</script>"


def typed_array(values: npt.ArrayLike) -> dict[str, str]:
    """A float64 array as a plotly.js typed array (base64 little-endian), like plotly's own
    figure serialisation writes numpy arrays."""
    data = np.ascontiguousarray(values, dtype="<f8")
    return {"dtype": "f8", "bdata": base64.b64encode(data.tobytes()).decode("ascii")}


def _line(ts: IntArray, values: FloatArray, **style: Any) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines",
        "x": typed_array(_to_ms(ts)),
        "y": typed_array(values),
        **style,
    }


def _fill_markers(side: OrderSide, fills: Sequence[OrderFilled]) -> dict[str, Any]:
    buying = side is OrderSide.BUY
    ts = np.fromiter((fill.ts for fill in fills), dtype=np.int64, count=len(fills))
    prices = np.fromiter((float(fill.price) for fill in fills), dtype=np.float64, count=len(fills))
    # Exact quantities, prices and fees travel as text so the hover shows the fill, not a float.
    details = [
        [price_text(fill.qty), price_text(fill.price), price_text(fill.fee)] for fill in fills
    ]
    return {
        "type": "scatter",
        "x": typed_array(_to_ms(ts)),
        "y": typed_array(prices),
        "mode": "markers",
        "name": "buy" if buying else "sell",
        "marker": {
            "symbol": "triangle-up" if buying else "triangle-down",
            "color": BUY_COLOR if buying else SELL_COLOR,
            "size": 12,
            "line": {"width": 1, "color": "#111827"},
        },
        "customdata": details,
        "hovertemplate": (
            f"<b>{'BUY' if buying else 'SELL'}</b> %{{customdata[0]}} @ %{{customdata[1]}}"
            "<br>fee %{customdata[2]}<br>%{x|%Y-%m-%d %H:%M:%S.%L} UTC<extra></extra>"
        ),
    }


def _spread_evenly(fills: Sequence[OrderFilled], limit: int) -> list[OrderFilled]:
    """At most ``limit`` fills, spread over the whole run rather than only its start."""
    if len(fills) <= limit:
        return list(fills)
    if limit <= 0:
        return []
    picks = _drop_repeats(np.linspace(0, len(fills) - 1, limit).round().astype(np.intp))
    return [fills[int(i)] for i in picks]


def _downsampled_note(shown: int, total: int) -> str:
    if shown >= total:
        return ""
    return f" (min/max downsampled: {shown:,} of {total:,} points)"


def _to_ms(ts: IntArray) -> FloatArray:
    return np.asarray(ts, dtype=np.float64) / NS_PER_MS

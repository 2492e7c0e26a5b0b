"""The report's charts: min/max downsampling and figures written as plotly.js JSON."""

from __future__ import annotations

import base64
import math
from decimal import Decimal

import numpy as np
import plotly.graph_objects as go
import pytest

from algotrade.backtest.report_charts import (
    CHART_POINTS,
    PriceSeries,
    drawdown_percent,
    equity_figure,
    minmax_downsample,
    price_figure,
    typed_array,
)
from algotrade.core.events import Liquidity, OrderFilled, OrderSide

T0 = 1_704_067_200 * 1_000_000_000
MINUTE = 60 * 1_000_000_000


def walk(count: int, seed: int = 1) -> np.ndarray:
    return 100_000 + np.cumsum(np.random.default_rng(seed).normal(0, 25, count))


@pytest.mark.parametrize("count", [1, 2, 17, 999, 1_000])
def test_a_series_that_fits_is_kept_whole(count: int) -> None:
    assert minmax_downsample(walk(count), target=1_000).tolist() == list(range(count))


@pytest.mark.parametrize(("count", "target"), [(1_001, 1_000), (123_457, 5_000), (10_000, 7)])
def test_downsampling_keeps_ends_and_every_bucket_extreme(count: int, target: int) -> None:
    values = walk(count, seed=count)
    index = minmax_downsample(values, target=target)
    assert index.size <= target
    assert np.all(np.diff(index) > 0)  # time order, no duplicates
    kept = set(index.tolist())
    assert {0, count - 1, int(values.argmin()), int(values.argmax())} <= kept
    buckets = max(1, (target - 2) // 2)
    size = math.ceil(count / buckets)
    for start in range(0, count, size):
        bucket = values[start : start + size]
        assert start + int(bucket.argmin()) in kept
        assert start + int(bucket.argmax()) in kept


def test_the_deepest_drawdown_survives_downsampling() -> None:
    equity = walk(200_000, seed=4)
    equity[123_456] = 50_000.0  # one crash, narrower than any bucket
    underwater = drawdown_percent(equity, 100_000.0)
    index = minmax_downsample(underwater)
    assert underwater[index].min() == underwater.min()
    assert 123_456 in set(index.tolist())


def test_typed_array_round_trips() -> None:
    values = np.array([1.5, -0.0, 1e300, 3.25])
    encoded = typed_array(values)
    assert encoded["dtype"] == "f8"
    decoded = np.frombuffer(base64.b64decode(encoded["bdata"]), dtype="<f8")
    assert decoded.tolist() == values.tolist()


def test_equity_figure_is_valid_plotly_and_says_it_is_downsampled() -> None:
    count = 50_000
    ts = T0 + np.arange(count, dtype=np.int64) * MINUTE
    figure = equity_figure(ts, walk(count), 100_000.0, synthetic=True, benchmark=walk(count, 9))
    validated = go.Figure(figure)  # plotly's own validators accept every property
    titles = [annotation.text for annotation in validated.layout.annotations]
    assert titles[0].startswith("Equity (min/max downsampled: ")
    assert f"of {count:,} points)" in titles[0]
    assert f"of {count:,} points)" in titles[1]
    shown = len(np.frombuffer(base64.b64decode(figure["data"][0]["y"]["bdata"])))
    assert shown <= CHART_POINTS
    assert f"{shown:,} of" in titles[0]
    assert validated.layout.title.text == "Equity curve — SIMULATED DATA"
    assert [trace.name for trace in validated.data] == ["Equity", "Buy & hold", "Drawdown"]


def test_short_curves_are_not_labelled_downsampled() -> None:
    ts = T0 + np.arange(100, dtype=np.int64) * MINUTE
    figure = equity_figure(ts, walk(100), 100_000.0, synthetic=False)
    assert all("downsampled" not in note["text"] for note in figure["layout"]["annotations"])


def test_price_figure_is_valid_plotly_with_candles_or_a_close_line() -> None:
    fill = OrderFilled(
        "o-1", "v-1", "t-1", "SYN", OrderSide.BUY, Decimal(1), Decimal("101.5"), Decimal(0),
        Liquidity.TAKER, T0 + MINUTE,
    )  # fmt: skip
    for count, kind in ((500, "candlestick"), (50_000, "scatter")):
        close = walk(count)
        ts = T0 + np.arange(count, dtype=np.int64) * MINUTE
        series = PriceSeries("SYN", ts, close, close + 1, close - 1, close)
        validated = go.Figure(price_figure(series, [fill], max_markers=10))
        assert validated.data[0].type == kind
        assert validated.data[1].name == "buy"
        assert ("downsampled" in validated.layout.title.text) == (kind == "scatter")

"""Screening measures against independent numpy computations on constructed series, the
window and the too-little-history list, and ranking by each measure."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from algotrade.core.errors import InputError
from algotrade.data.catalog import Catalog, SeriesKey
from algotrade.research.screen import rank, screen, symbol_metrics

HOUR = 3_600 * 10**9
DAY = 24 * HOUR
T0 = 1_704_067_200 * 10**9  # 2024-01-01
YEAR = 365.25 * DAY


def frame(symbol: str, close: np.ndarray, *, step: int = DAY, volume: np.ndarray | None = None,
          spread: np.ndarray | None = None, start: int = T0) -> pl.DataFrame:  # fmt: skip
    n = close.size
    spread = np.full(n, 0.01) if spread is None else spread
    return pl.DataFrame(
        {
            "symbol": [symbol] * n,
            "ts": start + step * np.arange(n, dtype=np.int64),
            "open": close,
            "high": close * (1 + spread),
            "low": close * (1 - spread),
            "close": close,
            "volume": np.full(n, 10.0) if volume is None else volume,
        }
    )


def metrics_of(data: pl.DataFrame, interval: str = "1d") -> dict[str, float | None]:
    rows = symbol_metrics(data, interval).iter_rows(named=True)
    (row,) = rows
    return row


def test_clean_uptrend() -> None:
    growth = 0.002
    close = 100 * np.exp(growth * np.arange(120))
    got = metrics_of(frame("UP", close))
    assert got["efficiency_ratio"] == pytest.approx(1.0, abs=1e-12)
    assert got["log_slope"] == pytest.approx(growth * 365.25, rel=1e-9)  # per year
    assert got["total_return"] == pytest.approx(close[-1] / close[0] - 1, rel=1e-12)
    assert got["annual_volatility"] == pytest.approx(0.0, abs=1e-9)  # constant log returns


def test_noise_has_a_low_efficiency_ratio() -> None:
    close = 100 + np.tile([0.0, 1.0], 50)  # up, down, up, down: no net move
    got = metrics_of(frame("ZIG", close))
    path = np.abs(np.diff(close)).sum()
    assert got["efficiency_ratio"] == pytest.approx(abs(close[-1] - close[0]) / path)
    assert got["efficiency_ratio"] < 0.02


def test_random_walk_against_numpy() -> None:
    rng = np.random.default_rng(5)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, 500)))
    volume = rng.uniform(1, 100, 500)
    spread = rng.uniform(0.001, 0.02, 500)
    data = frame("RW", close, step=HOUR, volume=volume, spread=spread)
    got = metrics_of(data, "1h")

    log_returns = np.diff(np.log(close))
    assert got["annual_volatility"] == pytest.approx(
        log_returns.std(ddof=1) * math.sqrt(YEAR / HOUR), rel=1e-9
    )
    high, low = close * (1 + spread), close * (1 - spread)
    previous = np.concatenate(([np.nan], close[:-1]))
    true_range = np.nanmax(
        np.vstack([high - low, np.abs(high - previous), np.abs(low - previous)]), axis=0
    )
    assert got["atr_pct"] == pytest.approx(true_range[-14:].mean() / close[-1] * 100, rel=1e-9)
    years = (data["ts"].to_numpy() - T0) / YEAR
    slope = np.polyfit(years, np.log(close), 1)[0]
    assert got["log_slope"] == pytest.approx(slope, rel=1e-7)
    days = (data["ts"].to_numpy() // DAY).astype(np.int64)
    per_day = [float((close * volume)[days == d].sum()) for d in np.unique(days)]
    assert got["median_dollar_volume"] == pytest.approx(np.median(per_day), rel=1e-12)
    path = np.abs(np.diff(close)).sum()
    assert got["efficiency_ratio"] == pytest.approx(abs(close[-1] - close[0]) / path, rel=1e-9)


def test_flat_price_has_no_efficiency_ratio() -> None:
    got = metrics_of(frame("FLAT", np.full(30, 10.0)))
    assert got["efficiency_ratio"] is None
    assert got["total_return"] == 0.0


def universe() -> pl.DataFrame:
    n = 90
    dip = np.where(np.arange(n) == 45, 0.99, 1.0)
    down_steps = np.concatenate(([0.0], -0.003 + 0.0025 * np.tile([1.0, -1.0], n // 2)[1:]))
    return pl.concat(
        [
            # liquid, calm, trending up with one dip (so not quite straight)
            frame("LIQ", 100 * np.exp(0.001 * np.arange(n)) * dip, volume=np.full(n, 1e6)),
            # wild noise, little volume
            frame("WILD", 100 + 20 * np.tile([0.0, 1.0], n // 2), volume=np.full(n, 10.0)),
            # a downtrend that never turns up (ER 1) at two speeds, medium volume
            frame("DOWN", 100 * np.exp(np.cumsum(down_steps)), volume=np.full(n, 1e3)),
            # only its last 10 days in the window
            frame("NEW", np.full(10, 5.0), start=T0 + (n - 10) * DAY),
        ]
    )


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("liquidity", ["LIQ", "DOWN", "WILD"]),
        ("volatility", ["WILD", "DOWN", "LIQ"]),
        ("trend", ["DOWN", "LIQ", "WILD"]),
    ],
)
def test_rank_by_each_measure(sort: str, order: list[str]) -> None:
    result = rank(
        universe(), ["LIQ", "WILD", "DOWN", "NEW", "GONE"], venue="v", interval="1d",
        start_ns=T0, end_ns=T0 + 90 * DAY, sort=sort,
    )  # fmt: skip
    assert [row["symbol"] for row in result.ranked] == order
    assert [row["rank"] for row in result.ranked] == [1, 2, 3]
    by_symbol = {row["symbol"]: row for row in result.ranked}
    assert by_symbol["DOWN"]["efficiency_ratio"] == pytest.approx(1.0, abs=1e-12)
    assert 0.5 < by_symbol["LIQ"]["efficiency_ratio"] < 0.95
    assert by_symbol["DOWN"]["log_slope"] < 0 < by_symbol["LIQ"]["log_slope"]
    assert result.expected_bars == 90
    gaps = {i.symbol: (i.bars, i.reason) for i in result.insufficient}
    assert gaps == {
        "NEW": (10, "10 bars in the window, needs at least 72 of 90"),
        "GONE": (0, "no bars in the window, needs at least 72 of 90"),
    }


def test_top_and_window() -> None:
    result = rank(
        universe(), ["LIQ", "WILD", "DOWN"], venue="v", interval="1d",
        start_ns=T0 + 30 * DAY, end_ns=T0 + 60 * DAY, top=2,
    )  # fmt: skip
    assert [row["symbol"] for row in result.ranked] == ["LIQ", "DOWN"]
    assert all(row["bars"] == 30 for row in result.ranked)
    assert result.ranked[0]["first_bar"] == "2024-01-31T00:00:00Z"
    with pytest.raises(InputError, match="--sort"):
        rank(universe(), ["LIQ"], venue="v", interval="1d", start_ns=T0, end_ns=T0 + DAY,
             sort="beauty")  # fmt: skip


def test_screen_from_the_catalog(tmp_path: Path) -> None:
    catalog = Catalog.for_data_dir(tmp_path)
    for symbol, part in universe().partition_by("symbol", as_dict=True).items():
        catalog.append(SeriesKey("v", str(symbol[0]), "1d"), part)
    result = screen("v", None, "1d", "60d", data_dir=tmp_path, sort="trend")
    # the window ends after the newest bar (day 89) and spans 60 days
    assert (result.start_ns, result.end_ns) == (T0 + 30 * DAY, T0 + 90 * DAY)
    assert [row["symbol"] for row in result.ranked] == ["DOWN", "LIQ", "WILD"]
    assert [i.symbol for i in result.insufficient] == ["NEW"]
    assert result.to_dict()["insufficient"][0]["bars"] == 10
    with pytest.raises(InputError, match="no 1h bars"):
        screen("v", None, "1h", "60d", data_dir=tmp_path)
    with pytest.raises(InputError, match="--lookback"):
        screen("v", None, "1d", "sixty", data_dir=tmp_path)

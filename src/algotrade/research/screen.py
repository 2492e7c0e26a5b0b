"""Screening: rank a universe of symbols by liquidity, volatility and trend over a lookback
window, computed with polars from stored bars.

The window is ``[end − lookback, end)``; ``end`` defaults to just after the newest bar of the
chosen series, so every symbol is measured over the same calendar span. Per symbol, over the
bars of the window (ordered by time):

- ``median_dollar_volume``: median over UTC days of Σ close × volume of the day's bars;
- ``annual_volatility``: sample standard deviation (ddof 1) of the log returns between
  consecutive bars × √(bars per year), with 365.25 days a year (markets that never close);
- ``atr_pct``: the mean true range of the last ``ATR_BARS`` bars (fewer when the window has
  fewer; the first bar's true range is its high − low) / the last close × 100;
- ``efficiency_ratio`` (Kaufman): |last close − first close| / Σ |close change|; 1 for a
  straight line, near 0 for noise; None when the price never moved;
- ``log_slope``: least-squares slope of ln(close) against time in years (per year);
- ``total_return``: last close / first close − 1.

A symbol is ranked only with at least ``min_coverage`` of the bars the window can hold (and
never fewer than ``MIN_BARS``); the others are listed apart with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from algotrade.core.errors import InputError
from algotrade.core.timeutil import ns_to_iso
from algotrade.data.intervals import NS_PER_DAY, interval_ns
from algotrade.data.sources import scan_reference, stored_series

ATR_BARS = 14
MIN_BARS = 3  # two returns: the least a standard deviation and a slope need
DEFAULT_MIN_COVERAGE = 0.8
NS_PER_YEAR = 365.25 * NS_PER_DAY
SORTS = {
    "liquidity": "median_dollar_volume",
    "volatility": "annual_volatility",
    "trend": "efficiency_ratio",
}
METRICS = (
    "median_dollar_volume",
    "annual_volatility",
    "atr_pct",
    "efficiency_ratio",
    "log_slope",
    "total_return",
)


@dataclass(frozen=True, slots=True)
class Insufficient:
    """A symbol left out of the ranking, and why."""

    symbol: str
    bars: int
    reason: str


@dataclass(slots=True)
class ScreenResult:
    venue: str
    interval: str
    start_ns: int
    end_ns: int
    expected_bars: int  # bars the window can hold
    sort: str
    ranked: list[dict[str, Any]]  # symbol, bars, first/last bar, METRICS; best first
    insufficient: list[Insufficient] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "venue": self.venue,
            "interval": self.interval,
            "start": ns_to_iso(self.start_ns),
            "end": ns_to_iso(self.end_ns),
            "expected_bars": self.expected_bars,
            "sort": self.sort,
            "ranked": self.ranked,
            "insufficient": [
                {"symbol": i.symbol, "bars": i.bars, "reason": i.reason} for i in self.insufficient
            ],
        }


def symbol_metrics(frame: pl.DataFrame, interval: str) -> pl.DataFrame:
    """One row per symbol of ``frame`` (columns symbol, ts, high, low, close, volume): the
    bar count and ``METRICS`` (module doc); NaN/inf become null."""
    step = interval_ns(interval)
    bars_per_year = NS_PER_YEAR / step
    ordered = frame.sort("symbol", "ts")
    close = pl.col("close")
    previous = close.shift(1)
    true_range = pl.max_horizontal(
        pl.col("high") - pl.col("low"),
        (pl.col("high") - previous).abs(),
        (pl.col("low") - previous).abs(),
    )
    years = (pl.col("ts") - pl.col("ts").first()).cast(pl.Float64) / NS_PER_YEAR
    path = close.diff().abs().sum()
    per_symbol = ordered.group_by("symbol", maintain_order=True).agg(
        bars=pl.len(),
        first_ts=pl.col("ts").first(),
        last_ts=pl.col("ts").last(),
        annual_volatility=close.log().diff().std(ddof=1) * math.sqrt(bars_per_year),
        atr_pct=true_range.tail(ATR_BARS).mean() / close.last() * 100.0,
        efficiency_ratio=pl.when(path > 0)
        .then((close.last() - close.first()).abs() / path)
        .otherwise(None),
        log_slope=pl.cov(years, close.log(), ddof=1) / years.var(ddof=1),
        total_return=close.last() / close.first() - 1.0,
    )
    daily = (
        ordered.group_by("symbol", (pl.col("ts") // NS_PER_DAY).alias("day"))
        .agg(dollars=(close * pl.col("volume")).sum())
        .group_by("symbol")
        .agg(median_dollar_volume=pl.col("dollars").median())
    )
    joined = per_symbol.join(daily, on="symbol", how="left")
    return joined.with_columns(
        pl.when(pl.col(name).is_finite()).then(pl.col(name)).otherwise(None).alias(name)
        for name in METRICS
    )


def rank(
    frame: pl.DataFrame,
    symbols: Sequence[str],
    *,
    venue: str,
    interval: str,
    start_ns: int,
    end_ns: int,
    sort: str = "liquidity",
    top: int | None = None,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> ScreenResult:
    """Rank ``symbols`` by the ``sort`` measure over the bars of ``frame`` in
    ``[start_ns, end_ns)``; symbols with too few bars (or none) are listed apart."""
    if sort not in SORTS:
        raise InputError(f"--sort: {sort!r} is not a measure; expected one of {', '.join(SORTS)}")
    if top is not None and top < 1:
        raise InputError(f"--top: must be at least 1, got {top}")
    expected = max(0, -(-(end_ns - start_ns) // interval_ns(interval)))
    needed = max(MIN_BARS, math.ceil(min_coverage * expected))
    window = frame.filter((pl.col("ts") >= start_ns) & (pl.col("ts") < end_ns))
    rows = {row["symbol"]: row for row in symbol_metrics(window, interval).iter_rows(named=True)}
    ranked, insufficient = [], []
    for symbol in dict.fromkeys(symbols):
        row = rows.get(symbol)
        count = 0 if row is None else int(row["bars"])
        if count < needed:
            have = "no bars" if count == 0 else f"{count} bars"
            insufficient.append(
                Insufficient(
                    symbol,
                    count,
                    f"{have} in the window, needs at least {needed} of {expected}",
                )
            )
            continue
        assert row is not None
        ranked.append(
            {
                "symbol": symbol,
                "bars": count,
                "first_bar": ns_to_iso(int(row["first_ts"])),
                "last_bar": ns_to_iso(int(row["last_ts"])),
                **{name: row[name] for name in METRICS},
            }
        )
    key = SORTS[sort]
    ranked.sort(key=lambda r: (r[key] is None, -(r[key] or 0.0), r["symbol"]))
    for number, row in enumerate(ranked, start=1):
        row["rank"] = number
    return ScreenResult(
        venue=venue,
        interval=interval,
        start_ns=start_ns,
        end_ns=end_ns,
        expected_bars=expected,
        sort=sort,
        ranked=ranked[:top] if top is not None else ranked,
        insufficient=insufficient,
    )


def screen(
    venue: str,
    symbols: Sequence[str] | None,
    interval: str,
    lookback: str,
    *,
    data_dir: Path,
    source: str | None = None,
    end_ns: int | None = None,
    sort: str = "liquidity",
    top: int | None = None,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> ScreenResult:
    """Load the window's bars from the tier (``symbols`` None: every stored symbol of the
    venue at that interval) and ``rank`` them."""
    span = interval_ns(lookback, field="--lookback")
    step = interval_ns(interval, field="--interval")
    if sort not in SORTS:
        raise InputError(f"--sort: {sort!r} is not a measure; expected one of {', '.join(SORTS)}")
    stored = stored_series(venue, interval, data_dir=data_dir, source=source)
    chosen = list(stored) if symbols is None else list(dict.fromkeys(symbols))
    if not chosen:
        raise InputError(
            f"--symbols all: no {interval} bars of venue {venue!r} are stored; "
            "'algotrade data list' shows what is"
        )
    if end_ns is None:
        newest = [stored[s][1] for s in chosen if s in stored]
        if not newest:
            raise InputError(
                f"--symbols: no {interval} bars of {venue}:{','.join(chosen)} are stored; "
                "'algotrade data list' shows what is"
            )
        end_ns = max(newest) + step
    start_ns = end_ns - span
    frame = scan_reference(
        venue, chosen, interval, start_ns, end_ns, data_dir=data_dir, source=source
    ).collect()
    return rank(
        frame,
        chosen,
        venue=venue,
        interval=interval,
        start_ns=start_ns,
        end_ns=end_ns,
        sort=sort,
        top=top,
        min_coverage=min_coverage,
    )

"""Bars of a longer interval made from a shorter one (``algotrade data resample``)."""

from __future__ import annotations

import polars as pl

from algotrade.core.errors import InputError
from algotrade.data.catalog.layout import SeriesKey


def resample_ratio(source: SeriesKey, interval: str) -> int:
    """How many ``source`` bars make one bar of ``interval``; ``InputError`` unless whole."""
    target = SeriesKey(source.venue, source.symbol, interval)
    if target.interval_ns <= source.interval_ns or target.interval_ns % source.interval_ns:
        raise InputError(
            f"--to: {interval} is not a whole multiple of {source.interval} (longer than it)"
        )
    return target.interval_ns // source.interval_ns


def resample(
    frame: pl.DataFrame, source: SeriesKey, interval: str, *, complete_only: bool = True
) -> tuple[pl.DataFrame, int]:
    """``frame`` (one series, sorted, columns ts + OHLCV) aggregated to ``interval``: open of
    the first bar, highest high, lowest low, close of the last, summed volume. Bars open on
    multiples of the new length since the epoch (UTC midnight for days). With
    ``complete_only`` a bar missing any of its source bars is left out; returns the bars and
    how many were left out."""
    ratio = resample_ratio(source, interval)
    length = source.interval_ns * ratio
    grouped = (
        frame.lazy()
        .with_columns(bucket=pl.col("ts") - pl.col("ts") % length)
        .group_by("bucket", maintain_order=True)
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
            pl.len().alias("parts"),
        )
        .rename({"bucket": "ts"})
        .sort("ts")
        .collect()
    )
    if not complete_only:
        return grouped.drop("parts"), 0
    complete = grouped.filter(pl.col("parts") == ratio)
    return complete.drop("parts"), grouped.height - complete.height

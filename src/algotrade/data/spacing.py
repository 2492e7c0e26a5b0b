"""Does a bar file hold bars of the interval its user declared?

``algotrade data import --interval 1h`` files bars under that interval: daily bars filed as
``1h`` would be a wrong series for every later backtest. The check is on each symbol's bar
open times in one file: the closest two consecutive bars must be exactly one interval apart.
Closer bars are not bars of that interval; if no two bars are that close, the file's bars are
of a longer interval. Larger gaps (nights, weekends, bars a venue leaves out when nothing
traded) are fine, however many there are: a sparse minute file whose most common gap is 2m
still has consecutive minutes somewhere. A symbol with one bar has no spacing and passes.
One polars pass over the timestamps: cheap next to reading the file.
"""

from __future__ import annotations

import polars as pl

from algotrade.core.errors import DataError
from algotrade.data.bars import format_ns
from algotrade.data.intervals import format_span, interval_ns


def check_bar_spacing(frame: pl.DataFrame, interval: str, *, where: str) -> None:
    """``DataError`` naming ``where`` (the file), the spacing found and ``interval`` when the
    bars of ``frame`` (columns ``symbol`` and ``ts`` in ns, each symbol's times increasing)
    are not ``interval`` apart."""
    step = interval_ns(interval)
    spaced = frame.select(
        pl.col("symbol"), pl.col("ts"), pl.col("ts").diff().over("symbol").alias("gap")
    ).drop_nulls("gap")
    if spaced.height == 0:
        return  # one bar per symbol: nothing to compare
    several = frame["symbol"].n_unique() > 1
    for (symbol,), bars in spaced.group_by("symbol", maintain_order=True):
        label = f"{where} ({symbol})" if several else where
        closest = bars.row(int(bars["gap"].arg_min() or 0), named=True)
        if closest["gap"] < step:
            raise DataError(
                f"{label}: the bar at {format_ns(closest['ts'])} is only "
                f"{format_span(closest['gap'])} after the one before, closer than the interval "
                f"given, {interval}"
            )
        if closest["gap"] > step:
            raise DataError(
                f"{label}: no two bars are closer than {format_span(closest['gap'])}, but the "
                f"interval given is {interval}"
            )

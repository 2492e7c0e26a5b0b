"""Equity curve of a backtest, computed columnar after the run.

Between fills a position is constant, so the curve is ``cash + Σ qty × close × multiplier``
with cash and qty as step functions of the fills. Computing it with numpy after the loop keeps
per-bar Decimal work out of the hot path; cash and positions are accumulated in Decimal per
fill, so the only float step is the final multiplication by the close.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import polars as pl

from algotrade.core.events import OrderFilled
from algotrade.core.instruments import InstrumentRegistry


def equity_curve(
    bars: pl.DataFrame,
    fills: Sequence[OrderFilled],
    initial_cash: Decimal,
    instruments: InstrumentRegistry,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], float]:
    """Equity at the close of every distinct timestamp, and the exposure fraction."""
    ts_all = bars["ts"].to_numpy()
    times = np.unique(ts_all)
    equity = np.full(times.shape, float(initial_cash), dtype=np.float64)
    if not fills:
        return times, equity, 0.0

    fill_ts = np.fromiter((f.ts for f in fills), dtype=np.int64, count=len(fills))
    cash = initial_cash
    cash_after: list[float] = []
    for fill in fills:
        multiplier = instruments.get(fill.symbol).multiplier
        cash -= fill.signed_qty * fill.price * multiplier + fill.fee
        cash_after.append(float(cash))
    equity[:] = _step(fill_ts, np.asarray(cash_after), times, float(initial_cash))

    exposed = np.zeros(times.shape, dtype=bool)
    for symbol in {f.symbol for f in fills}:
        own = [f for f in fills if f.symbol == symbol]
        qty = Decimal(0)
        qty_after: list[float] = []
        for fill in own:
            qty += fill.signed_qty
            qty_after.append(float(qty))
        own_ts = np.fromiter((f.ts for f in own), dtype=np.int64, count=len(own))
        held = _step(own_ts, np.asarray(qty_after), times, 0.0)
        frame = bars.filter(pl.col("symbol") == symbol)
        sym_ts = frame["ts"].to_numpy()
        closes = frame["close"].to_numpy()
        last = np.searchsorted(sym_ts, times, side="right") - 1
        close_at = np.where(last >= 0, closes[np.maximum(last, 0)], 0.0)
        scale = float(instruments.get(symbol).multiplier)
        equity += held * close_at * scale
        exposed |= held != 0
    return times, equity, float(exposed.mean())


def _step(
    at: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    times: npt.NDArray[np.int64],
    before: float,
) -> npt.NDArray[np.float64]:
    """Value of a step function (``values[i]`` from ``at[i]`` on) sampled at ``times``."""
    index = np.searchsorted(at, times, side="right") - 1
    return np.where(index >= 0, values[np.maximum(index, 0)], before)

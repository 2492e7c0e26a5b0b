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

from algotrade.core.events import OrderFilled, OrderSide
from algotrade.core.instruments import InstrumentRegistry


def equity_curve(
    bars: pl.DataFrame,
    fills: Sequence[OrderFilled],
    initial_cash: Decimal,
    instruments: InstrumentRegistry,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], float]:
    """Equity at the close of every distinct timestamp, and the exposure fraction.

    Written to keep temporaries few (a 1M-bar run must stay within its memory budget): step
    functions are sampled by index into arrays that start with the value before the first
    fill, and products are formed in place.
    """
    ts_all = bars["ts"].to_numpy()
    times = _distinct_sorted(ts_all)
    equity = np.full(times.shape, float(initial_cash), dtype=np.float64)
    if not fills:
        return times, equity, 0.0
    single_symbol = times.size == ts_all.size and bars["symbol"].n_unique() == 1

    # The per-fill Decimal steps are the only Python loop here (tens of thousands of fills
    # for a 1M-bar run): multipliers are looked up once per symbol, and a multiplier of 1 is
    # not multiplied by (exact either way).
    symbols = dict.fromkeys(fill.symbol for fill in fills)  # first-fill order, as summed
    multipliers = {symbol: instruments.get(symbol).multiplier for symbol in symbols}
    cash = initial_cash
    cash_steps = np.empty(len(fills) + 1, dtype=np.float64)
    cash_steps[0] = float(initial_cash)
    qty_by_symbol: dict[str, Decimal] = dict.fromkeys(multipliers, Decimal(0))
    qty_steps: dict[str, list[float]] = {symbol: [0.0] for symbol in multipliers}
    ts_by_symbol: dict[str, list[int]] = {symbol: [] for symbol in multipliers}
    buy = OrderSide.BUY
    for number, fill in enumerate(fills, start=1):
        symbol = fill.symbol
        signed = fill.qty if fill.side is buy else -fill.qty
        multiplier = multipliers[symbol]
        notional = signed * fill.price
        cash -= (notional if multiplier == 1 else notional * multiplier) + fill.fee
        cash_steps[number] = float(cash)
        qty = qty_by_symbol[symbol] = qty_by_symbol[symbol] + signed
        qty_steps[symbol].append(float(qty))
        ts_by_symbol[symbol].append(fill.ts)
    fill_ts = np.fromiter((f.ts for f in fills), dtype=np.int64, count=len(fills))
    index = np.searchsorted(fill_ts, times, side="right")
    np.take(cash_steps, index, out=equity)

    exposed = np.zeros(times.shape, dtype=bool)
    held = np.empty(times.shape, dtype=np.float64)
    for symbol in multipliers:
        own_ts = np.asarray(ts_by_symbol[symbol], dtype=np.int64)
        del index  # free before the next one is allocated: peak memory matters at 1M bars
        index = np.searchsorted(own_ts, times, side="right")
        np.take(np.asarray(qty_steps[symbol]), index, out=held)
        exposed |= held != 0
        if single_symbol:  # one bar per timestamp: the closes line up with ``times``
            held *= bars["close"].to_numpy()
        else:
            frame = bars.select("symbol", "ts", "close").filter(pl.col("symbol") == symbol)
            del index
            index = np.searchsorted(frame["ts"].to_numpy(), times, side="right")
            closes = np.concatenate(([0.0], frame["close"].to_numpy()))  # 0 before any bar
            held *= np.take(closes, index)
        held *= float(instruments.get(symbol).multiplier)
        equity += held
    return times, equity, float(exposed.mean())


def _distinct_sorted(ts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Distinct values of an already sorted array (``np.unique`` would sort it again)."""
    if ts.size == 0:
        return ts
    keep = np.empty(ts.shape, dtype=bool)
    keep[0] = True
    np.not_equal(ts[1:], ts[:-1], out=keep[1:])
    return ts if bool(keep.all()) else ts[keep]  # one symbol: already distinct, no copy

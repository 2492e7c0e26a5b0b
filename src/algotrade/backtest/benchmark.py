"""Buy-and-hold benchmark over the same bars as the strategy.

What a strategy has to beat: the initial cash split equally over the symbols, each share
invested at its symbol's **first close** (the first price a strategy can act on) with the
same costs as the strategy's market orders (the close moved up by ``slippage_bps``, then
``commission`` on the notional), held to the last close. Quantities are fractional: the
benchmark is a reference, not an order, so no lot rounding leaves cash idle. A symbol's share
is cash until its first bar. No exit fee is charged, as the strategy's final equity marks its
open positions without one.

Computed with numpy on the strategy's equity timestamps (float, like the equity curve).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import polars as pl

from algotrade.backtest.metrics import cagr_of, max_drawdown, total_return_of
from algotrade.core.instruments import InstrumentRegistry
from algotrade.core.timeutil import ns_to_iso

if TYPE_CHECKING:
    from algotrade.backtest.result import BacktestResult

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BPS = 10_000.0
METHOD = "buy_and_hold"
ENTRY = "first_close"


@dataclass(frozen=True, slots=True)
class BenchmarkEntry:
    """One symbol's purchase: at ``price`` (its first close + slippage) at time ``ts``."""

    symbol: str
    ts: int
    price: float
    qty: float
    fee: float


@dataclass(frozen=True, slots=True)
class Benchmark:
    """The buy-and-hold equity at each of the result's equity timestamps."""

    equity: FloatArray
    entries: tuple[BenchmarkEntry, ...]


def buy_and_hold(
    bars: pl.DataFrame,
    times: IntArray,
    initial_cash: Decimal,
    *,
    commission: Decimal,
    slippage_bps: Decimal,
    instruments: InstrumentRegistry,
) -> Benchmark:
    """Equal-weight buy-and-hold of every symbol in ``bars`` (columns symbol, ts, close),
    valued at ``times`` (ascending, distinct: the equity curve's timestamps)."""
    symbols = bars["symbol"].unique(maintain_order=True).to_list() if bars.height else []
    if not symbols:
        return Benchmark(np.full(times.shape, float(initial_cash)), ())
    share = float(initial_cash) / len(symbols)
    cost_factor = (1.0 + float(slippage_bps) / BPS) * (1.0 + float(commission))
    equity = np.zeros(times.shape, dtype=np.float64)
    entries = []
    for symbol in symbols:
        own = bars if len(symbols) == 1 else bars.filter(pl.col("symbol") == symbol)
        ts = own["ts"].to_numpy()
        closes = own["close"].to_numpy()
        multiplier = float(instruments.get(symbol).multiplier)
        price = float(closes[0]) * (1.0 + float(slippage_bps) / BPS)
        units = share / (float(closes[0]) * cost_factor * multiplier)
        entries.append(
            BenchmarkEntry(symbol, int(ts[0]), price, units, share - units * price * multiplier)
        )
        if ts.size == times.size:  # the symbol has a bar at every timestamp: no lookup needed
            equity += closes * (units * multiplier)
            continue
        index = np.searchsorted(ts, times, side="right")
        held = np.take(np.concatenate(([0.0], closes)), index) * (units * multiplier)
        held[index == 0] = share  # before the symbol's first bar its share is still cash
        equity += held
    return Benchmark(equity, tuple(entries))


def benchmark_metrics(result: BacktestResult) -> dict[str, Any]:
    """The benchmark's summary for JSON and display; empty when the run has no benchmark.

    ``excess_return`` = the strategy's total return − the benchmark's (a difference of
    fractions: 0.05 is five percentage points).
    """
    benchmark = result.benchmark
    if benchmark is None:
        return {}
    initial = float(result.initial_cash)
    final = float(benchmark.equity[-1]) if benchmark.equity.size else initial
    total = total_return_of(initial, final)
    strategy_total = total_return_of(initial, float(result.final_equity))
    return {
        "method": METHOD,
        "entry": ENTRY,
        "final_equity": round(final, 8),
        "total_return": total,
        "cagr": cagr_of(initial, final, result.end_ns - result.start_ns),
        "max_drawdown": max_drawdown(benchmark.equity, start=initial),
        "excess_return": (
            strategy_total - total if strategy_total is not None and total is not None else None
        ),
        "entries": [
            {
                "symbol": entry.symbol,
                "time": ns_to_iso(entry.ts),
                "price": entry.price,
                "qty": entry.qty,
                "fee": entry.fee,
            }
            for entry in benchmark.entries
        ],
    }

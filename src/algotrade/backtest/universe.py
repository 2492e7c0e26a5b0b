"""A universe backtest: one strategy over many symbols, each symbol its own backtest.

Every symbol runs alone with the whole config (its own cash, a fresh strategy), so its result
is exactly what ``run_backtest`` gives on that symbol's bars. The aggregate then sums money
(net profit, realized/unrealized PnL, fees: exact ``Decimal``), averages metrics (mean and
median over the symbols that ran), names the best and worst symbols by total return, and
builds an equal-weight portfolio: the initial cash split equally across the symbols at the
start and never rebalanced, so its equity is ``cash × mean(equity_i / cash)`` with each
sleeve flat before its first bar and held at its last value after its last one.

With many symbols the backtests run in a local process pool; results come back in the order
the symbols were given, whatever order the workers finish in.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from algotrade.backtest.benchmark import benchmark_metrics
from algotrade.backtest.metrics import (
    cagr_of,
    compute_metrics,
    daily_returns,
    max_drawdown,
    return_statistics,
    total_return_of,
)
from algotrade.backtest.result import BacktestResult
from algotrade.backtest.runner import BacktestConfig, run_backtest
from algotrade.backtest.strategy_failure import create_checked
from algotrade.core.errors import AlgoTradeError
from algotrade.core.money import decimal_text
from algotrade.core.strategy import Strategy
from algotrade.core.timeutil import ns_to_iso
from algotrade.data.bars import BarData
from algotrade.strategies.registry import get_strategy_class
from algotrade.worker_process import (
    start_worker_quietly,
    starting_workers_without_sigint,
    stop_pool,
)

# Below this many symbols a pool costs more (spawning workers, importing the package in each)
# than it saves.
POOL_MIN_SYMBOLS = 8
BEST_WORST = 3
# Per-symbol metrics that are averaged (mean and median) in the aggregate.
AVERAGED_METRICS = (
    "total_return",
    "cagr",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "win_rate",
    "profit_factor",
    "exposure",
    "trades",
)
MONEY_SUMS = ("net_profit", "realized_pnl", "unrealized_pnl", "fees_paid")

SymbolDone = Callable[["SymbolRun"], None]


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """A strategy by name (or ``.py`` path) and parameters: what a worker process needs to
    build its own fresh instance."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def create(self) -> Strategy:
        return create_checked(get_strategy_class(self.name), dict(self.params))


@dataclass(slots=True)
class SymbolRun:
    """One symbol's backtest: its result, or the one-line reason it has none."""

    symbol: str
    result: BacktestResult | None
    error: str | None = None


@dataclass(slots=True)
class UniverseResult:
    strategy: str
    params: dict[str, Any]
    initial_cash: Decimal
    runs: list[SymbolRun]  # in the order the symbols were given
    portfolio_ts: npt.NDArray[np.int64]
    portfolio_equity: npt.NDArray[np.float64]
    aggregate: dict[str, Any]

    @property
    def succeeded(self) -> list[tuple[str, BacktestResult]]:
        return [(run.symbol, run.result) for run in self.runs if run.result is not None]


def run_symbol(
    symbol: str,
    bars: BarData,
    spec: StrategySpec,
    config: BacktestConfig,
    periods_per_year: int,
    details: bool = True,
) -> SymbolRun:
    """One symbol's backtest with metrics; a failure the user can act on (the strategy's own
    error, unusable data) becomes the run's error instead of ending the universe. Without
    ``details`` the orders, fills and trades are dropped once the metrics are computed: they
    are most of what a worker sends back, and of what hundreds of results hold in memory."""
    try:
        result = run_backtest(bars, spec.create(), config)
    except AlgoTradeError as exc:
        return SymbolRun(symbol, None, str(exc))
    result.metrics = compute_metrics(result, periods_per_year=periods_per_year)
    result.benchmark_metrics = benchmark_metrics(result)
    if not details:
        result.orders, result.fills, result.trades = [], [], []
    return SymbolRun(symbol, result)


def split_by_symbol(bars: BarData) -> dict[str, BarData]:
    """Each symbol's bars of a multi-symbol ``bars``, in one pass (not one filter each)."""
    parts = bars.frame.partition_by("symbol", as_dict=True, maintain_order=True)
    return {str(key[0]): BarData(frame) for key, frame in parts.items()}


def default_workers(symbols: int) -> int:
    """All cores when the universe is large enough to gain from a pool, else 1."""
    if symbols < POOL_MIN_SYMBOLS:
        return 1
    return max(1, min(symbols, os.cpu_count() or 1))


def run_universe(
    bars: Mapping[str, BarData],
    symbols: Sequence[str],
    spec: StrategySpec,
    config: BacktestConfig,
    *,
    periods_per_year: int = 252,
    workers: int | None = None,
    on_done: SymbolDone | None = None,
    details: bool = True,
) -> UniverseResult:
    """Backtest ``spec`` on each of ``symbols`` (``bars[symbol]``; a symbol without bars is
    a failed run). ``workers`` None: ``default_workers``; 1 runs in this process.
    ``details`` False: results without orders, fills and trades (see ``run_symbol``)."""
    if not symbols:
        raise ValueError("a universe needs at least one symbol")
    count = default_workers(len(symbols)) if workers is None else workers
    if count < 1:
        raise ValueError(f"workers must be at least 1, got {count}")
    runs: dict[str, SymbolRun] = {}
    pending: list[str] = []
    for symbol in dict.fromkeys(symbols):
        if symbol in bars:
            pending.append(symbol)
        else:
            runs[symbol] = SymbolRun(symbol, None, "no bars in the requested range")
            if on_done is not None:
                on_done(runs[symbol])
    if count == 1 or len(pending) < 2:
        for symbol in pending:
            runs[symbol] = run_symbol(symbol, bars[symbol], spec, config, periods_per_year, details)
            if on_done is not None:
                on_done(runs[symbol])
    else:
        # spawn, not fork: a forked child inherits polars' thread pool in whatever state it
        # was, which can deadlock.
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(
            min(count, len(pending)), mp_context=context, initializer=start_worker_quietly
        )
        try:
            with starting_workers_without_sigint():  # Ctrl-C is ours alone (worker_process)
                futures: dict[Future[SymbolRun], str] = {
                    pool.submit(run_symbol, s, bars[s], spec, config, periods_per_year, details): s
                    for s in pending
                }
            for future in as_completed(futures):
                run = future.result()
                runs[run.symbol] = run
                if on_done is not None:
                    on_done(run)
        except BaseException:
            stop_pool(pool)  # Ctrl-C or an error: not a wait for every other symbol's run
            raise
        pool.shutdown(wait=True)
    ordered = [runs[symbol] for symbol in dict.fromkeys(symbols)]
    times, equity = portfolio_curve(
        [run.result for run in ordered if run.result is not None], config.initial_cash
    )
    first = next((run.result for run in ordered if run.result is not None), None)
    return UniverseResult(
        strategy=first.strategy if first is not None else spec.name,
        params=first.params if first is not None else dict(spec.params),
        initial_cash=config.initial_cash,
        runs=ordered,
        portfolio_ts=times,
        portfolio_equity=equity,
        aggregate=aggregate(ordered, config.initial_cash, times, equity, periods_per_year),
    )


def portfolio_curve(
    results: Sequence[BacktestResult], initial_cash: Decimal
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The equal-weight portfolio's equity at every timestamp of any symbol (module doc)."""
    if not results:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    times = np.unique(np.concatenate([np.asarray(r.equity_ts, dtype=np.int64) for r in results]))
    total = np.zeros(times.shape, dtype=np.float64)
    for result in results:
        own_ts = np.asarray(result.equity_ts, dtype=np.int64)
        ratio = np.asarray(result.equity, dtype=np.float64) / float(result.initial_cash)
        index = np.searchsorted(own_ts, times, side="right")  # 0: before the sleeve's first bar
        total += np.take(np.concatenate(([1.0], ratio)), index)
    return times, total * (float(initial_cash) / len(results))


def aggregate(
    runs: Sequence[SymbolRun],
    initial_cash: Decimal,
    times: npt.NDArray[np.int64],
    equity: npt.NDArray[np.float64],
    periods_per_year: int,
) -> dict[str, Any]:
    """Sums, averages, best/worst and the portfolio of ``runs`` (module doc), JSON-ready."""
    done = [(run.symbol, run.result) for run in runs if run.result is not None]
    sums = {
        name: decimal_text(sum((_money(result, name) for _, result in done), Decimal(0)))
        for name in MONEY_SUMS
    }
    averaged: dict[str, dict[str, float | None]] = {}
    for name in AVERAGED_METRICS:
        values = [float(v) for _, r in done if isinstance(v := r.metrics.get(name), int | float)]
        averaged[name] = {
            "mean": statistics.fmean(values) if values else None,
            "median": statistics.median(values) if values else None,
        }
    ranked = sorted(
        ((symbol, r.metrics.get("total_return")) for symbol, r in done),
        key=lambda item: (item[1] is None, -(item[1] or 0.0), item[0]),
    )
    ranked = [item for item in ranked if item[1] is not None]
    return {
        "symbols": len(runs),
        "succeeded": len(done),
        "failures": len(runs) - len(done),
        "failed_symbols": [run.symbol for run in runs if run.result is None],
        **sums,
        "trades": sum(int(result.metrics["trades"]) for _, result in done),
        "fills": sum(int(result.metrics["fills"]) for _, result in done),
        "bars": sum(result.bar_count for _, result in done),
        "best": [{"symbol": s, "total_return": v} for s, v in ranked[:BEST_WORST]],
        "worst": [{"symbol": s, "total_return": v} for s, v in ranked[::-1][:BEST_WORST]],
        "mean": {name: pair["mean"] for name, pair in averaged.items()},
        "median": {name: pair["median"] for name, pair in averaged.items()},
        "portfolio": portfolio_metrics(initial_cash, times, equity, periods_per_year),
    }


def portfolio_metrics(
    initial_cash: Decimal,
    times: npt.NDArray[np.int64],
    equity: npt.NDArray[np.float64],
    periods_per_year: int,
) -> dict[str, Any]:
    """The equal-weight portfolio's return, risk and span, defined as in ``metrics``."""
    cash = float(initial_cash)
    if equity.size == 0:
        return {"initial_cash": decimal_text(initial_cash), "final_equity": None}
    final = float(equity[-1])
    span = int(times[-1] - times[0])
    with_start = np.concatenate(([cash], equity))  # a loss on the first bar is a drawdown
    return {
        "initial_cash": decimal_text(initial_cash),
        "final_equity": final,
        "total_return": total_return_of(cash, final),
        "cagr": cagr_of(cash, final, span),
        **return_statistics(daily_returns(times, equity), periods_per_year),
        "max_drawdown": max_drawdown(with_start),
        "start": ns_to_iso(int(times[0])),
        "end": ns_to_iso(int(times[-1])),
    }


def _money(result: BacktestResult, name: str) -> Decimal:
    if name == "net_profit":
        return result.final_equity - result.initial_cash
    if name == "fees_paid":
        return result.fees
    value: Decimal = getattr(result, name)
    return value

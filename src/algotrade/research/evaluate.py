"""One unit of research work: a batch of parameter sets backtested on one dataset window.

``evaluate_batch`` is what every executor runs in its workers (local processes or Dask). It is
pure and deterministic: the same batch on the same bars gives the same rows, bit for bit, as
running each backtest alone with ``run_backtest`` and ``compute_metrics``. A strategy that
fails for one parameter set gives that row an ``error`` text; the other sets still run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import polars as pl

from algotrade.backtest.metrics import compute_metrics
from algotrade.backtest.runner import BacktestConfig, run_backtest
from algotrade.backtest.strategy_failure import create_checked
from algotrade.core.errors import AlgoTradeError
from algotrade.data.bars import BarData
from algotrade.strategies.registry import get_strategy_class

Window = tuple[int | None, int | None]
"""A bar ``ts`` slice ``[start, end)`` in epoch ns; ``None`` is open-ended."""

# compute_metrics keys that describe the run rather than score it.
_NOT_METRICS = frozenset({"start", "end", "periods_per_year"})
# compute_metrics keys whose values are exact decimal text (money).
_DECIMAL_TEXT = frozenset(
    {"initial_cash", "final_equity", "realized_pnl", "unrealized_pnl", "fees_paid", "net_profit"}
)


@dataclass(frozen=True, slots=True)
class EvalConfig:
    """The backtest settings shared by every evaluation of a run."""

    cash: Decimal = Decimal(100_000)
    commission: Decimal = Decimal(0)
    slippage_bps: Decimal = Decimal(0)
    periods_per_year: int = 252

    def __post_init__(self) -> None:
        if self.cash <= 0:
            raise ValueError(f"cash must be positive, got {self.cash}")
        if self.commission < 0 or self.slippage_bps < 0:
            raise ValueError("commission and slippage_bps must be >= 0")
        if self.periods_per_year < 1:
            raise ValueError(f"periods_per_year must be >= 1, got {self.periods_per_year}")

    def backtest_config(self) -> BacktestConfig:
        return BacktestConfig(
            initial_cash=self.cash, commission=self.commission, slippage_bps=self.slippage_bps
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "cash": str(self.cash),
            "commission": str(self.commission),
            "slippage_bps": str(self.slippage_bps),
            "periods_per_year": self.periods_per_year,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvalConfig:
        return cls(
            cash=Decimal(data["cash"]),
            commission=Decimal(data["commission"]),
            slippage_bps=Decimal(data["slippage_bps"]),
            periods_per_year=int(data["periods_per_year"]),
        )


@dataclass(frozen=True, slots=True)
class Batch:
    """Parameter sets of one strategy to backtest on one dataset window.

    ``dataset`` is a key of the datasets given to the executor (``"hyperliquid:BTC:1h"``);
    ``tag`` labels the window (``"is:0"``, ``"oos:0"``, or ``""`` for the whole range).
    """

    batch_id: str
    strategy: str
    param_sets: list[dict[str, Any]]
    dataset: str
    window: Window
    config: EvalConfig
    tag: str = ""


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One backtest's outcome: its numeric metrics, or the error that stopped it."""

    batch_id: str
    params: dict[str, Any]
    dataset: str
    window: Window
    tag: str
    metrics: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None


def evaluate_batch(batch: Batch, bars: BarData) -> list[ResultRow]:
    """Backtest every parameter set of ``batch`` on ``bars`` sliced to ``batch.window``."""
    window_bars = slice_window(bars, batch.window)
    strategy_class = get_strategy_class(batch.strategy)
    config = batch.config.backtest_config()
    rows = []
    for params in batch.param_sets:
        metrics: dict[str, float | None] = {}
        error: str | None = None
        if window_bars is None:
            error = "no bars in the window"
        else:
            try:
                strategy = create_checked(strategy_class, params)
                result = run_backtest(window_bars, strategy, config)
                metrics = numeric_metrics(
                    compute_metrics(result, periods_per_year=batch.config.periods_per_year)
                )
            except AlgoTradeError as exc:  # the strategy's failure: one line, others go on
                error = str(exc)
        rows.append(
            ResultRow(
                batch_id=batch.batch_id,
                params=dict(params),
                dataset=batch.dataset,
                window=batch.window,
                tag=batch.tag,
                metrics=metrics,
                error=error,
            )
        )
    return rows


def slice_window(bars: BarData, window: Window) -> BarData | None:
    """The bars with ``start <= ts < end``, or ``None`` when none fall inside."""
    start, end = window
    if start is None and end is None:
        return bars
    condition = pl.lit(value=True)
    if start is not None:
        condition &= pl.col("ts") >= start
    if end is not None:
        condition &= pl.col("ts") < end
    frame = bars.frame.filter(condition)
    return BarData(frame) if frame.height else None


def numeric_metrics(metrics: dict[str, Any]) -> dict[str, float | None]:
    """The scores of ``compute_metrics`` as floats (money text converted), ``None`` kept."""
    numbers: dict[str, float | None] = {}
    for name, value in metrics.items():
        if name in _NOT_METRICS:
            continue
        if value is None:
            numbers[name] = None
        elif name in _DECIMAL_TEXT:
            numbers[name] = float(Decimal(value))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            numbers[name] = float(value)
    return numbers

"""What a backtest produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from algotrade.core.events import OrderFilled
from algotrade.core.orders import Order
from algotrade.core.trades import ClosedTrade

if TYPE_CHECKING:
    from algotrade.backtest.benchmark import Benchmark


@dataclass(slots=True)
class BacktestResult:
    strategy: str
    params: dict[str, Any]
    symbols: list[str]
    bar_count: int
    start_ns: int
    end_ns: int
    initial_cash: Decimal
    final_equity: Decimal  # exact: cash + Σ qty × last close
    realized_pnl: Decimal  # gross of fees
    unrealized_pnl: Decimal
    fees: Decimal
    orders: list[Order]
    fills: list[OrderFilled]
    trades: list[ClosedTrade]
    # Equity after all bars of each distinct timestamp: int64 ns and float64 values.
    equity_ts: npt.NDArray[np.int64]
    equity: npt.NDArray[np.float64]
    exposure: float  # fraction of timestamps with any open position
    synthetic: bool = False  # True when the data was generated (label it in every output)
    benchmark: Benchmark | None = None  # buy-and-hold over the same bars (backtest.benchmark)
    metrics: dict[str, Any] = field(default_factory=dict)
    benchmark_metrics: dict[str, Any] = field(default_factory=dict)

"""algo-trade: one event-driven engine for backtest, paper and live trading."""

from __future__ import annotations

__version__ = "0.1.0"

"""Backtest results as JSON: exact decimals as strings, timestamps as ISO-8601 UTC."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from algotrade.atomic_file import write_atomic
from algotrade.backtest.benchmark import benchmark_metrics
from algotrade.backtest.result import BacktestResult
from algotrade.core.money import decimal_text
from algotrade.core.timeutil import NS_PER_SECOND, ns_to_iso


def iso_times(ts: npt.NDArray[np.int64]) -> list[str]:
    """Vectorised ns → ISO-8601 ``Z`` (whole seconds when every stamp allows it)."""
    if ts.size == 0:
        return []
    unit: Literal["s", "ms"] = "s" if bool(np.all(ts % NS_PER_SECOND == 0)) else "ms"
    stamps: npt.NDArray[np.datetime64] = ts.astype("datetime64[ns]")
    text = np.datetime_as_string(stamps, unit=unit)
    return [t + "Z" for t in text.tolist()]


def result_to_dict(result: BacktestResult) -> dict[str, Any]:
    fills = [
        {
            "timestamp": ns_to_iso(f.ts),
            "symbol": f.symbol,
            "side": f.side.value,
            "qty": decimal_text(f.qty),
            "price": decimal_text(f.price),
            "fee": decimal_text(f.fee),
            "liquidity": f.liquidity.value,
            "order_id": f.client_order_id,
        }
        for f in result.fills
    ]
    trades = [
        {
            "symbol": t.symbol,
            "direction": t.direction,
            "qty": decimal_text(t.qty),
            "entry_time": ns_to_iso(t.entry_ts),
            "exit_time": ns_to_iso(t.exit_ts),
            "entry_price": decimal_text(t.entry_price),
            "exit_price": decimal_text(t.exit_price),
            "gross_pnl": decimal_text(t.gross_pnl),
            "fees": decimal_text(t.fees),
            "net_pnl": decimal_text(t.net_pnl),
        }
        for t in result.trades
    ]
    values = [_finite(v) for v in np.round(result.equity, 8).tolist()]
    equity = [[t, v] for t, v in zip(iso_times(result.equity_ts), values, strict=True)]
    return {
        "simulated_data": result.synthetic,
        "strategy": result.strategy,
        "params": result.params,
        "symbols": result.symbols,
        "metrics": result.metrics,
        "benchmark": (result.benchmark_metrics or benchmark_metrics(result)) or None,
        "fills": fills,
        "trades": trades,
        "equity": equity,
    }


def write_json(result: BacktestResult, path: Path) -> Path:
    """Write atomically (a reader never sees half a file), creating missing parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(result_to_dict(result), indent=1) + "\n")
    return path


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None

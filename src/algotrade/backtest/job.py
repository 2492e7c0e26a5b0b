"""One backtest as a job for a worker process: a picklable spec in, files and a summary out.

``run_job`` is what the daemon's process pool runs (``daemon.backtest_jobs``). It never raises:
whatever goes wrong comes back as a one-line error, because an exception raised by a user's
strategy may not survive pickling back to the daemon, and a dataset error must not show the
daemon's file paths (only the dataset's name). The report (``report.html``) and the full result
(``result.json``) are written into the job's folder by the worker itself, so only a small
summary crosses the process boundary.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from algotrade.atomic_file import write_atomic
from algotrade.backtest.benchmark import benchmark_metrics
from algotrade.backtest.export import write_json
from algotrade.backtest.job_spec import (
    REPORT_FILE,
    RESULT_FILE,
    BarLoader,
    JobSpec,
    SyntheticSpec,
)
from algotrade.backtest.metrics import compute_metrics
from algotrade.backtest.runner import BacktestConfig, run_backtest
from algotrade.backtest.strategy_failure import create_checked
from algotrade.core.errors import AlgoTradeError, DataError
from algotrade.data.bars import BarData
from algotrade.data.intervals import interval_ns
from algotrade.data.loader import load_bars
from algotrade.data.synthetic import generate_bars
from algotrade.strategies.registry import get_strategy_class

MAX_ERROR_CHARS = 500
__all__ = ["REPORT_FILE", "RESULT_FILE", "BarLoader", "JobSpec", "SyntheticSpec", "run_job"]


def run_job(
    spec: JobSpec, datasets_dir: str | None, out_dir: str, *, loader: BarLoader | None = None
) -> dict[str, Any]:
    """Run ``spec``; write ``report.html`` and ``result.json`` into ``out_dir``.

    Returns ``{"ok": True, "metrics": {...}, "symbols": [...], "bars": n}`` or
    ``{"ok": False, "error": "one line"}``. Runs in a worker process. ``loader`` is asked
    first for ``spec.dataset`` (the daemon binds it with ``functools.partial``).
    """
    try:
        return _run(spec, datasets_dir, Path(out_dir), loader)
    except Exception as exc:
        return {"ok": False, "error": one_line_error(exc, datasets_dir, spec.dataset)}


def worker_pid() -> int:
    """The pid of the worker process that runs it (tests and diagnostics)."""
    return os.getpid()


def one_line_error(exc: BaseException, datasets_dir: str | None, dataset: str | None) -> str:
    """``Type: message`` on one line; the datasets folder's path replaced by nothing, so a
    dataset error names the file as the user knows it."""
    message = " ".join(str(exc).split())
    if datasets_dir:
        prefix = str(Path(datasets_dir)) + os.sep
        message = message.replace(prefix, "")
    if len(message) > MAX_ERROR_CHARS:
        message = message[: MAX_ERROR_CHARS - 1] + "…"
    if isinstance(exc, AlgoTradeError):  # our errors are written for users already
        return message or type(exc).__name__
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def _run(
    spec: JobSpec, datasets_dir: str | None, out: Path, loader: BarLoader | None
) -> dict[str, Any]:
    # plotly (the report) is loaded in the worker only: the daemon imports this module for
    # JobSpec and must not pay plotly's import time.
    from algotrade.backtest.report import write_report  # noqa: PLC0415

    strategy = create_checked(get_strategy_class(spec.strategy), spec.params)
    data = _in_window(_bars(spec, datasets_dir, loader), spec)
    config = BacktestConfig(
        initial_cash=Decimal(spec.initial_cash),
        commission=Decimal(spec.fee),
        slippage_bps=Decimal(spec.slippage_bps),
    )
    synthetic = spec.synthetic is not None
    result = run_backtest(data, strategy, config, synthetic=synthetic)
    result.metrics = compute_metrics(result, periods_per_year=spec.periods_per_year)
    result.benchmark_metrics = benchmark_metrics(result)
    out.mkdir(parents=True, exist_ok=True)
    source = "synthetic data" if synthetic else f"dataset {spec.dataset}"
    title = f"Backtest report — {result.strategy} on {', '.join(result.symbols)} ({source})"
    write_report(result, data.frame, out / REPORT_FILE, title=title)
    write_json(result, out / RESULT_FILE)
    metrics = json.loads(json.dumps(result.metrics, default=str))  # plain JSON, no Decimal
    return {"ok": True, "metrics": metrics, "symbols": result.symbols, "bars": len(data)}


def _in_window(data: BarData, spec: JobSpec) -> BarData:
    """The bars opening in ``[spec.start_ns, spec.end_ns)``; ``DataError`` when none do."""
    if spec.synthetic is not None or (spec.start_ns is None and spec.end_ns is None):
        return data
    ts = pl.col("ts")
    keep = pl.lit(value=True)
    if spec.start_ns is not None:
        keep &= ts >= spec.start_ns
    if spec.end_ns is not None:
        keep &= ts < spec.end_ns
    frame = data.frame.filter(keep)
    if frame.height == 0:
        raise DataError(f"dataset {spec.dataset} has no bars in the requested start..end range")
    return BarData.from_validated(frame)


def _bars(spec: JobSpec, datasets_dir: str | None, loader: BarLoader | None) -> BarData:
    if spec.synthetic is None and spec.dataset is not None and loader is not None:
        loaded = loader(spec)
        if loaded is not None:
            return loaded
    if spec.synthetic is not None:
        s = spec.synthetic
        return generate_bars(
            s.bars,
            symbol=spec.symbol or "SYN",
            seed=s.seed,
            start=s.start,
            interval_ns=interval_ns(spec.interval),
            start_price=s.start_price,
            volatility=s.volatility,
        )
    if spec.dataset is None or datasets_dir is None:
        raise DataError("no data: give a dataset or synthetic parameters")
    data = load_bars([Path(datasets_dir) / spec.dataset])
    if spec.symbol is None or data.symbols == [spec.symbol]:
        return data
    if len(data.symbols) == 1:
        # A file of one symbol: the request names it (files often lack a symbol column).
        return load_bars([Path(datasets_dir) / spec.dataset], symbol=spec.symbol)
    if spec.symbol not in data.symbols:
        raise DataError(
            f"dataset {spec.dataset} has no bars for {spec.symbol}; "
            f"it has {', '.join(data.symbols)}"
        )
    return BarData.from_validated(data.frame.filter(pl.col("symbol") == spec.symbol))


def write_text(path: Path, text: str) -> None:
    """Atomic write (a reader never sees half a job file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)

"""The streamed JSON writer (``export.write_json``) writes exactly what
``json.dumps(result_to_dict(result), indent=1)`` wrote before it streamed."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from algotrade.backtest import export
from algotrade.backtest.export import iso_texts, result_to_dict, write_json
from algotrade.backtest.metrics import compute_metrics
from algotrade.backtest.result import BacktestResult
from algotrade.backtest.runner import BacktestConfig, run_backtest
from algotrade.core.timeutil import NS_PER_SECOND, ns_to_iso
from algotrade.data.synthetic import generate_bars
from algotrade.strategies.ma_crossover import MACrossover


def small_run(bars: int = 1_500) -> BacktestResult:
    data = generate_bars(bars, seed=11, volatility=0.01)
    config = BacktestConfig(commission=Decimal("0.001"), slippage_bps=Decimal("2"))
    result = run_backtest(data, MACrossover({"fast": 3, "slow": 12}), config, synthetic=True)
    result.metrics = compute_metrics(result, periods_per_year=365)
    return result


def old_text(result: BacktestResult) -> str:
    """What ``write_json`` wrote before it streamed."""
    return json.dumps(result_to_dict(result), indent=1) + "\n"


def test_streamed_file_equals_the_json_dumps_text(tmp_path: Path) -> None:
    result = small_run()
    assert result.fills
    assert result.trades
    assert result.equity.size == 1_500
    path = write_json(result, tmp_path / "deep" / "out.json")
    assert path.read_text(encoding="utf-8") == old_text(result)


def test_chunk_borders_and_awkward_values_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks: several per list, some taking the fast path, some the Python one.
    monkeypatch.setattr(export, "EQUITY_CHUNK_ROWS", 7)
    monkeypatch.setattr(export, "RECORD_CHUNK_ROWS", 3)
    result = small_run(300)
    equity = result.equity.copy()
    equity[10] = np.nan  # -> null
    equity[30] = 5e-05  # polars would write 0.00005; json writes 5e-05
    equity[50] = -0.0
    equity[70] = 3.0e17  # exponent notation
    equity[90] = -np.inf
    ts = result.equity_ts.copy()
    ts[-1] += 123_456_789  # one sub-second stamp: every stamp gets milliseconds
    fills = list(result.fills)
    fills[0] = dataclasses.replace(fills[0], symbol='odd "sym" ü\\', ts=fills[0].ts + 1_500)
    fills[1] = dataclasses.replace(fills[1], client_order_id="id\n\t{}", qty=Decimal("1.500"))
    trades = list(result.trades)
    trades[0] = dataclasses.replace(trades[0], fees=Decimal("1E+2"), exit_ts=trades[0].exit_ts + 7)
    trades[1] = dataclasses.replace(trades[1], gross_pnl=Decimal("-0.000"), qty=Decimal("2.50"))
    fills[2] = dataclasses.replace(fills[2], fee=Decimal("0E-8"), price=Decimal("1.2E+3"))
    changed = dataclasses.replace(
        result, equity=equity, equity_ts=ts, fills=fills, trades=trades, params={"x": "é"}
    )
    path = write_json(changed, tmp_path / "odd.json")
    assert path.read_text(encoding="utf-8") == old_text(changed)


def test_empty_lists_are_written_like_json_dumps(tmp_path: Path) -> None:
    result = small_run(20)  # too short for a crossover: no fills, trades
    empty = dataclasses.replace(
        result, fills=[], trades=[], equity=np.empty(0), equity_ts=np.empty(0, dtype=np.int64)
    )
    path = write_json(empty, tmp_path / "empty.json")
    assert path.read_text(encoding="utf-8") == old_text(empty)
    assert json.loads(path.read_text())["equity"] == []


def test_iso_texts_is_ns_to_iso_of_each_stamp() -> None:
    rng = np.random.default_rng(5)
    stamps = [
        0,
        1_704_067_200 * NS_PER_SECOND,
        1_704_067_200 * NS_PER_SECOND + 999,  # below a microsecond: truncated
        1_704_067_200 * NS_PER_SECOND + 1_000,
        *rng.integers(0, 4_000_000_000 * NS_PER_SECOND, 200).tolist(),
    ]
    assert iso_texts(stamps) == [ns_to_iso(ns) for ns in stamps]
    outside = [-1_500, -86_400 * NS_PER_SECOND, 5_000, 2**63 - 1]
    assert iso_texts(outside) == [ns_to_iso(ns) for ns in outside]


def test_a_failed_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.json"
    path.write_text("old")

    def broken(*_args: object) -> str:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export, "_trades_text", broken)
    with pytest.raises(RuntimeError):
        write_json(small_run(400), path)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary left behind

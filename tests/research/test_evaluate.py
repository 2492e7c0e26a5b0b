"""evaluate_batch gives exactly what running each backtest alone gives."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from algotrade.backtest.metrics import compute_metrics
from algotrade.backtest.runner import run_backtest
from algotrade.data.synthetic import generate_bars
from algotrade.research.evaluate import Batch, EvalConfig, evaluate_batch, slice_window
from algotrade.strategies.ma_crossover import MACrossover

BARS = generate_bars(2_000, symbol="SYN", seed=3)
CONFIG = EvalConfig(cash=Decimal(50_000), commission=Decimal("0.001"), periods_per_year=365)


def _alone(params: dict[str, int], window: tuple[int | None, int | None]) -> dict[str, object]:
    bars = slice_window(BARS, window)
    assert bars is not None
    result = run_backtest(bars, MACrossover(params), CONFIG.backtest_config())
    return compute_metrics(result, periods_per_year=365)


@pytest.mark.parametrize("window", [(None, None), (BARS.start_ns + 60_000_000_000 * 500, None)])
def test_rows_equal_standalone_backtests(window: tuple[int | None, int | None]) -> None:
    param_sets = [{"fast": 5, "slow": 20}, {"fast": 10, "slow": 50}]
    batch = Batch("b1", "ma_crossover", param_sets, "syn", window, CONFIG, tag="is:0")
    rows = evaluate_batch(batch, BARS)
    assert [row.params for row in rows] == param_sets
    for row, params in zip(rows, param_sets, strict=True):
        alone = _alone(params, window)
        assert row.error is None
        assert (row.batch_id, row.dataset, row.window, row.tag) == ("b1", "syn", window, "is:0")
        assert row.metrics["sharpe"] == alone["sharpe"]
        assert row.metrics["final_equity"] == float(Decimal(str(alone["final_equity"])))
        assert row.metrics["trades"] == float(alone["trades"])  # type: ignore[arg-type]
        assert row.metrics["bars"] == float(alone["bars"])  # type: ignore[arg-type]
        assert "start" not in row.metrics
        assert "periods_per_year" not in row.metrics
        assert all(v is None or isinstance(v, float) for v in row.metrics.values())
    assert evaluate_batch(batch, BARS) == rows  # deterministic


def test_window_slices_bars_half_open() -> None:
    start = int(BARS.frame["ts"][10])
    end = int(BARS.frame["ts"][20])
    sliced = slice_window(BARS, (start, end))
    assert sliced is not None
    assert len(sliced) == 10
    assert sliced.start_ns == start
    assert sliced.end_ns < end
    assert slice_window(BARS, (BARS.end_ns + 1, None)) is None


def test_an_empty_window_is_an_error_row() -> None:
    batch = Batch("b", "ma_crossover", [{"fast": 2, "slow": 3}], "syn", (0, 1), CONFIG)
    (row,) = evaluate_batch(batch, BARS)
    assert row.error == "no bars in the window"
    assert row.metrics == {}


def test_a_failing_parameter_set_gives_an_error_row_and_the_others_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fragile.py").write_text(
        "from algotrade.core.strategy import Strategy, StrategyParams\n"
        "class P(StrategyParams):\n"
        "    k: int = 1\n"
        "class Fragile(Strategy):\n"
        "    name = 'fragile'\n"
        "    Params = P\n"
        "    def on_bar(self, bar):\n"
        "        if self.params.k == 2:\n"
        "            raise ZeroDivisionError('boom')\n"
    )
    batch = Batch("b", "fragile.py", [{"k": 1}, {"k": 2}, {"k": 3}], "syn", (None, None), CONFIG)
    rows = evaluate_batch(batch, BARS)
    assert [row.error is None for row in rows] == [True, False, True]
    assert rows[1].error is not None
    assert "fragile.py:9 in on_bar: ZeroDivisionError: boom" in rows[1].error
    assert rows[1].metrics == {}
    assert rows[0].metrics["trades"] == 0.0

"""What a run is ranked by: ``--metric`` names a number every backtest reports."""

from __future__ import annotations

import pytest

from algotrade.backtest.metrics import compute_metrics
from algotrade.backtest.runner import BacktestConfig, run_backtest
from algotrade.core.errors import InputError
from algotrade.data.synthetic import generate_bars
from algotrade.research.objectives import METRICS, parse_objective
from algotrade.strategies.registry import create_strategy

NOT_SCORES = {"start", "end", "periods_per_year"}  # describe the run, rank nothing


def test_the_metrics_are_what_a_backtest_reports() -> None:
    result = run_backtest(
        generate_bars(300, seed=1),
        create_strategy("ma_crossover", {"fast": 3, "slow": 8}),
        BacktestConfig(),
    )
    assert set(METRICS) == set(compute_metrics(result)) - NOT_SCORES


@pytest.mark.parametrize("spec", ["sharp", "sharpe_ratio:max", "start"])
def test_an_unknown_metric_is_one_line_naming_the_known_ones(spec: str) -> None:
    """Defect: a misspelt --metric ran the whole sweep, exit 0, with every score undefined."""
    with pytest.raises(InputError, match=r"^--metric: unknown metric '.*'; expected one of "
                       r"total_return, cagr, .*sharpe"):  # fmt: skip
        parse_objective(spec)


def test_known_metrics_take_their_direction() -> None:
    assert parse_objective("sharpe").direction == "max"
    assert parse_objective("max_drawdown").direction == "min"
    assert parse_objective("fees_paid:max").direction == "max"

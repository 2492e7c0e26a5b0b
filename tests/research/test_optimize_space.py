"""--param texts as Optuna distributions, and --metric texts as objectives."""

from __future__ import annotations

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from algotrade.core.errors import InputError
from algotrade.research.objectives import Objective, metric_value, parse_objective, parse_objectives
from algotrade.research.optimize_space import parse_search_space
from algotrade.strategies.ma_crossover import MACrossover
from algotrade.strategies.registry import get_strategy_class


def test_ranges_choices_and_fixed_values() -> None:
    space = parse_search_space(
        MACrossover,
        ["fast=5:50", "slow=20:200:10", "qty=0.5:2", "long_only=true,false"],
    )
    dists = space.distributions()
    assert dists["fast"] == IntDistribution(5, 50)
    assert dists["slow"] == IntDistribution(20, 200, step=10)
    assert dists["qty"] == FloatDistribution(0.5, 2.0)
    assert dists["long_only"] == CategoricalDistribution((True, False))
    params = space.to_params({"fast": 7, "slow": 30, "qty": 0.75, "long_only": False})
    assert params == {"fast": 7, "slow": 30, "qty": "0.75", "long_only": False}
    MACrossover(params)  # the strategy accepts what the space produces


def test_stepped_decimals_are_exact_grid_values() -> None:
    space = parse_search_space(MACrossover, ["qty=0.1:0.5:0.1", "fast=3"])
    assert space.distributions() == {"qty": IntDistribution(0, 4)}
    assert [space.to_params({"qty": i})["qty"] for i in range(5)] == [
        "0.1",
        "0.2",
        "0.3",
        "0.4",
        "0.5",
    ]
    assert space.to_params({"qty": 2})["fast"] == 3  # fixed values are in every set


def test_log_ranges() -> None:
    space = parse_search_space(MACrossover, ["fast=2:64:log"])
    assert space.distributions()["fast"] == IntDistribution(2, 64, log=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fast=0:5", "--param fast: value '0' is not valid"),
        ("fast=9:5", "--param fast: high 5 is below low 9"),
        ("fast=5:5", "--param fast: low and high are the same"),
        ("fast=2:3.5", "--param fast: value '3.5' is not valid"),
        ("long_only=0:1", "--param long_only: a yes/no parameter takes choices"),
        ("nope=1:2", "--param nope: strategy ma_crossover has no such parameter"),
        ("fast", "--param: expected name=values"),
    ],
)
def test_bad_ranges_name_the_parameter(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_search_space(MACrossover, [text])
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_nothing_to_search_is_an_error() -> None:
    with pytest.raises(InputError, match="give at least one parameter"):
        parse_search_space(MACrossover, [])
    with pytest.raises(InputError, match="every parameter has one value"):
        parse_search_space(get_strategy_class("ma_crossover"), ["fast=3", "slow=9"])


def test_objectives() -> None:
    assert parse_objective("sharpe") == Objective("sharpe", "max")
    assert parse_objective("max_drawdown") == Objective("max_drawdown", "min")  # a loss
    assert parse_objective("max_drawdown:max") == Objective("max_drawdown", "max")
    assert parse_objective(" total_return:min ").label == "total_return:min"
    with pytest.raises(InputError, match="direction must be 'max' or 'min'"):
        parse_objective("sharpe:up")
    with pytest.raises(InputError, match="expected METRIC"):
        parse_objective(":max")
    with pytest.raises(InputError, match="sharpe given more than once"):
        parse_objectives(["sharpe", "sharpe:min"])
    assert metric_value({"a": "1.5", "b": None, "c": float("nan"), "d": True}, "a") == 1.5
    assert [metric_value({"b": None, "c": float("nan"), "d": True}, k) for k in "bcdz"] == [
        None,
        None,
        None,
        None,
    ]
    objective = Objective("x", "min")
    ranked = sorted([3.0, None, 1.0], key=objective.sort_key)
    assert ranked == [1.0, 3.0, None]

"""Parameter ranges from --param texts, checked against the strategy's model."""

from __future__ import annotations

import itertools

import pytest

from algotrade.core.errors import InputError
from algotrade.research.space import parse_space
from algotrade.strategies.ma_crossover import MACrossover
from algotrade.strategies.rsi import RSIReversion


def test_int_range_is_inclusive_and_choices_keep_their_order() -> None:
    space = parse_space(MACrossover, ["fast=5:20:5", "slow=60,20,30"])
    assert [r.values for r in space.ranges] == [(5, 10, 15, 20), (60, 20, 30)]
    assert space.size == 12


def test_float_range_steps_exactly_without_drift() -> None:
    (rng,) = parse_space(RSIReversion, ["oversold=0.1:0.5:0.1"]).ranges
    assert rng.values == (0.1, 0.2, 0.3, 0.4, 0.5)  # not 0.30000000000000004
    assert all(type(v) is float for v in rng.values)


def test_decimal_values_stay_exact_text_and_bools_parse() -> None:
    space = parse_space(MACrossover, ["qty=0.1:0.3:0.1", "long_only=true,false", "fast=3"])
    assert [r.values for r in space.ranges] == [("0.1", "0.2", "0.3"), (True, False), (3,)]


def test_grid_drops_combinations_the_model_rejects_and_counts_them() -> None:
    space = parse_space(MACrossover, ["fast=10:30:10", "slow=10:30:10"])
    sample = space.grid()
    expected = [
        {"fast": f, "slow": s} for f, s in itertools.product((10, 20, 30), repeat=2) if f < s
    ]
    assert sample.param_sets == expected
    assert sample.rejected == 9 - len(expected)
    assert sample.first_rejection is not None
    assert "must be smaller than slow" in sample.first_rejection


def test_random_sample_is_deterministic_distinct_and_from_the_grid() -> None:
    space = parse_space(MACrossover, ["fast=1:40:1", "slow=41:80:1"])
    first = space.random(25, seed=7)
    again = space.random(25, seed=7)
    other = space.random(25, seed=8)
    assert first == again
    assert first.param_sets != other.param_sets
    assert len(first.param_sets) == 25
    assert first.rejected == 0
    keys = {(p["fast"], p["slow"]) for p in first.param_sets}
    assert len(keys) == 25
    assert all(1 <= f <= 40 and 41 <= s <= 80 for f, s in keys)


def test_random_sample_larger_than_the_grid_is_the_whole_grid() -> None:
    space = parse_space(MACrossover, ["fast=1,2", "slow=5,6"])
    assert space.random(100, seed=1).param_sets == space.grid().param_sets


def test_combination_index_matches_grid_order() -> None:
    space = parse_space(MACrossover, ["fast=1:3:1", "slow=10,20", "long_only=true,false"])
    grid = space.grid().param_sets
    assert [space.combination(i) for i in range(space.size)] == grid


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["fast=0:3:1"], "--param fast: value '0' is not valid"),
        (["fast=abc"], "--param fast: value 'abc' is not valid"),
        (["fast=1.5"], "--param fast: value '1.5'"),
        (["nope=1"], "--param nope: strategy ma_crossover has no such parameter"),
        (["fast=5:1:1"], "--param fast: stop '1' is below start '5'"),
        (["fast=1:5:0"], "--param fast: step must be positive"),
        (["fast=1:5"], "--param fast: a range is start:stop:step"),
        (["fast=1", "fast=2"], "--param fast: given twice"),
        (["fast"], "--param: expected name=values"),
        (["long_only=maybe"], "--param long_only: value 'maybe'"),
        (["fast=1:1000000:1"], "--param fast: 1,000,000 values"),
    ],
)
def test_bad_values_are_refused_naming_the_parameter(texts: list[str], message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_space(MACrossover, texts)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)

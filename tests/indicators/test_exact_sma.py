from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from algotrade.indicators.sma import ExactSMA

prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999"), places=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(prices, min_size=8, max_size=60), st.integers(1, 4), st.integers(5, 8))
def test_compare_agrees_with_exact_decimal_means(values, fast_n, slow_n) -> None:
    fast, slow = ExactSMA(fast_n), ExactSMA(slow_n)
    for i, value in enumerate(values):
        fast.update(float(value))
        ready = slow.update(float(value))
        assert ready == (i + 1 >= slow_n)
        if ready:
            f = sum(values[i - fast_n + 1 : i + 1]) / fast_n
            s = sum(values[i - slow_n + 1 : i + 1]) / slow_n
            expected = (f > s) - (f < s)
            assert fast.compare(slow) == expected
            assert slow.value == pytest.approx(float(s), rel=1e-12)


def test_equal_means_compare_equal_where_float_sums_do_not() -> None:
    # Both means are 0.2; the float sum makes the first 0.20000000000000004.
    three, one = ExactSMA(3), ExactSMA(1)
    for value in (0.1, 0.2, 0.3):
        three.update(value)
    one.update(0.2)
    assert (0.1 + 0.2 + 0.3) / 3 != 0.2
    assert three.compare(one) == 0


@pytest.mark.parametrize("period", [0, -1, 1.5, True])
def test_bad_period(period) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        ExactSMA(period)


@settings(max_examples=300, deadline=None)
@given(st.lists(prices, min_size=1, max_size=80), st.integers(1, 5), st.integers(6, 12))
def test_crossover_matches_decimal_reference(values, fast_n, slow_n) -> None:
    from algotrade.indicators.sma import ExactCrossover

    cross = ExactCrossover(fast_n, slow_n)
    for i, value in enumerate(values):
        got = cross.update(float(value))
        if i + 1 < slow_n:
            assert got == 0
            continue
        f = sum(values[i - fast_n + 1 : i + 1]) / fast_n
        s = sum(values[i - slow_n + 1 : i + 1]) / slow_n
        assert got == (f > s) - (f < s)


@pytest.mark.parametrize(("fast", "slow"), [(5, 5), (0, 3), (3, True)])
def test_crossover_rejects_bad_periods(fast, slow) -> None:
    from algotrade.indicators.sma import ExactCrossover

    with pytest.raises(ValueError, match="period"):
        ExactCrossover(fast, slow)

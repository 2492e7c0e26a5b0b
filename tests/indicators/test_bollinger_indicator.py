from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from algotrade.indicators import Bollinger, BollingerBands


def reference_bands(xs: list[float], period: int, k: float) -> list[BollingerBands | None]:
    """numpy mean and population std of each full window."""
    out: list[BollingerBands | None] = []
    for end in range(1, len(xs) + 1):
        if end < period:
            out.append(None)
            continue
        window = np.array(xs[end - period : end])
        middle = float(window.mean())
        width = k * float(window.std(ddof=0))
        out.append(BollingerBands(middle, middle + width, middle - width))
    return out


def assert_bands_close(
    got: list[BollingerBands | None], want: list[BollingerBands | None], xs: list[float]
) -> None:
    assert [g is None for g in got] == [w is None for w in want]
    # Errors scale with the magnitude of the prices, not of the (possibly tiny) band width.
    scale = max(abs(x) for x in xs)
    for g, w in zip(got, want, strict=True):
        if g is not None and w is not None:
            assert tuple(g) == pytest.approx(tuple(w), rel=1e-9, abs=scale * 1e-9)


def run(indicator: Bollinger, xs: list[float]) -> list[BollingerBands | None]:
    return [indicator.update(x) for x in xs]


@pytest.mark.parametrize(("period", "k"), [(1, 2.0), (2, 1.0), (20, 2.0), (50, 2.5)])
def test_matches_reference_on_random_walk(period: int, k: float) -> None:
    rng = random.Random(period)
    xs = [100.0]
    for _ in range(500):
        xs.append(xs[-1] * (1 + rng.gauss(0, 0.01)))
    assert_bands_close(run(Bollinger(period, k), xs), reference_bands(xs, period, k), xs)


@given(
    xs=st.lists(st.floats(min_value=1e-3, max_value=1e6), min_size=1, max_size=150),
    period=st.integers(min_value=1, max_value=25),
    k=st.floats(min_value=0.0, max_value=4.0),
)
def test_matches_reference_property(xs: list[float], period: int, k: float) -> None:
    assert_bands_close(run(Bollinger(period, k), xs), reference_bands(xs, period, k), xs)


def test_precise_for_large_prices_with_tiny_spread() -> None:
    """Shifted sums keep the std exact where naive E[x²] - E[x]² would lose it."""
    rng = random.Random(7)
    xs = [1e6 + rng.uniform(-0.01, 0.01) for _ in range(2000)]
    got = run(Bollinger(30, 1.0), xs)
    want = reference_bands(xs, 30, 1.0)
    for g, w in zip(got[29:], want[29:], strict=True):
        assert g is not None
        assert w is not None
        width = g.upper - g.middle
        assert width == pytest.approx(w.upper - w.middle, rel=1e-6)


def test_no_drift_over_many_updates() -> None:
    rng = random.Random(3)
    bands = Bollinger(20, 2.0)
    xs = [rng.uniform(50.0, 150.0) for _ in range(100_003)]
    for x in xs:
        bands.update(x)
    want = reference_bands(xs[-20:], 20, 2.0)[-1]
    assert bands.value is not None
    assert want is not None
    assert tuple(bands.value) == pytest.approx(tuple(want), rel=1e-12)


def test_warm_up_and_constant_window() -> None:
    bands = Bollinger(3, 2.0)
    assert bands.update(5.0) is None
    assert bands.update(5.0) is None
    assert not bands.ready
    assert bands.update(5.0) == BollingerBands(5.0, 5.0, 5.0)  # zero variance, never negative
    assert bands.ready
    value = bands.update(8.0)  # window 5, 5, 8: mean 6, population std sqrt(2)
    assert value is not None
    assert value.middle == pytest.approx(6.0)
    assert value.upper == pytest.approx(6.0 + 2 * math.sqrt(2))
    assert value.lower == pytest.approx(6.0 - 2 * math.sqrt(2))


@pytest.mark.parametrize("period", [0, -5, 3.0, True])
def test_bad_period(period: object) -> None:
    with pytest.raises(ValueError, match="Bollinger period must be a positive integer"):
        Bollinger(period)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [-1.0, math.nan, math.inf, "2", None])
def test_bad_k(k: object) -> None:
    with pytest.raises(ValueError, match="Bollinger k must be a finite number >= 0"):
        Bollinger(20, k)  # type: ignore[arg-type]

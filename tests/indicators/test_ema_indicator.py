from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from algotrade.indicators import EMA

prices = st.lists(st.floats(min_value=1e-3, max_value=1e6), min_size=1, max_size=200)


def assert_series_close(
    got: list[float | None], want: list[float | None], rel: float = 1e-9, abs_: float = 0.0
) -> None:
    """Same warm-up (None) positions, and values within tolerance."""
    assert [g is None for g in got] == [w is None for w in want]
    pairs = [(g, w) for g, w in zip(got, want, strict=True) if g is not None]
    assert [g for g, _ in pairs] == pytest.approx([w for _, w in pairs], rel=rel, abs=abs_)


def reference_ema(xs: list[float], period: int) -> list[float | None]:
    """Recompute from scratch for every prefix: SMA seed, then the recursive formula."""
    out: list[float | None] = []
    alpha = 2.0 / (period + 1)
    for end in range(1, len(xs) + 1):
        history = xs[:end]
        if len(history) < period:
            out.append(None)
            continue
        value = float(np.mean(history[:period]))
        for x in history[period:]:
            value = alpha * x + (1 - alpha) * value
        out.append(value)
    return out


def run(indicator: EMA, xs: list[float]) -> list[float | None]:
    return [indicator.update(x) for x in xs]


@pytest.mark.parametrize("period", [1, 2, 5, 20])
def test_matches_reference_on_random_walk(period: int) -> None:
    rng = random.Random(period)
    xs = [100.0]
    for _ in range(300):
        xs.append(xs[-1] * (1 + rng.gauss(0, 0.01)))
    got = run(EMA(period), xs)
    want = reference_ema(xs, period)
    assert_series_close(got, want, rel=1e-12)


@given(xs=prices, period=st.integers(min_value=1, max_value=30))
def test_matches_reference_property(xs: list[float], period: int) -> None:
    got = run(EMA(period), xs)
    # ema + alpha * (x - ema) and alpha * x + (1 - alpha) * ema round differently; the error
    # is relative to the size of the inputs, not of the (possibly tiny) result.
    assert_series_close(got, reference_ema(xs, period), rel=1e-9, abs_=max(xs) * 1e-12)


def test_warm_up_and_seed() -> None:
    ema = EMA(3)
    assert ema.update(1.0) is None
    assert ema.update(2.0) is None
    assert not ema.ready
    assert ema.value is None
    assert ema.update(6.0) == pytest.approx(3.0)  # SMA of the first 3
    assert ema.ready
    assert ema.update(7.0) == pytest.approx(3.0 + 0.5 * (7.0 - 3.0))
    assert ema.value == pytest.approx(5.0)


def test_constant_input_is_constant() -> None:
    ema = EMA(10)
    values = [ema.update(42.5) for _ in range(50)]
    assert values[9:] == [pytest.approx(42.5)] * 41


@pytest.mark.parametrize("period", [0, -1, 2.5, "3", True, None])
def test_bad_period(period: object) -> None:
    with pytest.raises(ValueError, match="EMA period must be a positive integer"):
        EMA(period)  # type: ignore[arg-type]

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from algotrade.indicators import RSI

prices = st.lists(st.floats(min_value=1e-3, max_value=1e6), min_size=1, max_size=200)


def assert_series_close(
    got: list[float | None], want: list[float | None], rel: float = 1e-9, abs_: float = 0.0
) -> None:
    """Same warm-up (None) positions, and values within tolerance."""
    assert [g is None for g in got] == [w is None for w in want]
    pairs = [(g, w) for g, w in zip(got, want, strict=True) if g is not None]
    assert [g for g, _ in pairs] == pytest.approx([w for _, w in pairs], rel=rel, abs=abs_)


def reference_rsi(xs: list[float], period: int) -> list[float | None]:
    """Textbook Wilder RSI recomputed over every prefix of the history."""
    out: list[float | None] = []
    for end in range(1, len(xs) + 1):
        history = xs[:end]
        changes = [b - a for a, b in itertools.pairwise(history)]
        if len(changes) < period:
            out.append(None)
            continue
        gains = [max(c, 0.0) for c in changes]
        losses = [max(-c, 0.0) for c in changes]
        avg_gain = sum(gains[:period]) / period
        avg_loss = sum(losses[:period]) / period
        for gain, loss in zip(gains[period:], losses[period:], strict=True):
            avg_gain = (avg_gain * (period - 1) + gain) / period
            avg_loss = (avg_loss * (period - 1) + loss) / period
        if avg_loss == 0:
            out.append(100.0 if avg_gain > 0 else 50.0)
        else:
            out.append(100.0 - 100.0 / (1.0 + avg_gain / avg_loss))
    return out


def run(indicator: RSI, xs: list[float]) -> list[float | None]:
    return [indicator.update(x) for x in xs]


@pytest.mark.parametrize("period", [1, 2, 14, 30])
def test_matches_reference_on_random_walk(period: int) -> None:
    rng = random.Random(period)
    xs = [100.0]
    for _ in range(300):
        xs.append(xs[-1] + rng.gauss(0, 1))
    got = run(RSI(period), xs)
    want = reference_rsi(xs, period)
    assert_series_close(got, want, rel=1e-9, abs_=1e-9)


@given(xs=prices, period=st.integers(min_value=1, max_value=30))
def test_matches_reference_property(xs: list[float], period: int) -> None:
    got = run(RSI(period), xs)
    # RSI lives in [0, 100]; an absolute tolerance is the meaningful one.
    assert_series_close(got, reference_rsi(xs, period), rel=0.0, abs_=1e-7)
    assert all(0.0 <= v <= 100.0 for v in got if v is not None)


def test_ready_after_period_plus_one_inputs() -> None:
    rsi = RSI(3)
    assert [rsi.update(x) for x in (10.0, 11.0, 12.0)] == [None, None, None]
    assert not rsi.ready
    assert rsi.update(11.0) == pytest.approx(100 * 2 / 3)  # gains 1,1,0 / losses 0,0,1
    assert rsi.ready
    # Wilder step: avg_gain = (2/3*2 + 0)/3, avg_loss = (1/3*2 + 2)/3.
    assert rsi.update(9.0) == pytest.approx(100 * (4 / 9) / (4 / 9 + 8 / 9))


def test_only_gains_is_100_and_flat_is_50() -> None:
    rising = RSI(5)
    assert run(rising, [float(x) for x in range(1, 10)])[-1] == 100.0
    flat = RSI(5)
    assert run(flat, [7.0] * 10)[-1] == 50.0
    falling = RSI(5)
    assert run(falling, [float(x) for x in range(10, 0, -1)])[-1] == 0.0


@pytest.mark.parametrize("period", [0, -3, 1.5, True])
def test_bad_period(period: object) -> None:
    with pytest.raises(ValueError, match="RSI period must be a positive integer"):
        RSI(period)  # type: ignore[arg-type]

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from algotrade.indicators import MACD, MACDValue


def reference_ema(xs: list[float], period: int) -> list[float | None]:
    """Whole-series EMA: SMA seed at index period-1, recursive after."""
    alpha = 2.0 / (period + 1)
    out: list[float | None] = [None] * min(period - 1, len(xs))
    if len(xs) < period:
        return out
    value = float(np.mean(xs[:period]))
    out.append(value)
    for x in xs[period:]:
        value = alpha * x + (1 - alpha) * value
        out.append(value)
    return out


def reference_macd(xs: list[float], fast: int, slow: int, signal: int) -> list[MACDValue | None]:
    fast_ema = reference_ema(xs, fast)
    slow_ema = reference_ema(xs, slow)
    line = [
        f - s for f, s in zip(fast_ema, slow_ema, strict=True) if f is not None and s is not None
    ]
    signal_ema = reference_ema(line, signal)
    warm = len(xs) - len(line)
    out: list[MACDValue | None] = [None] * warm
    for m, s in zip(line, signal_ema, strict=True):
        out.append(None if s is None else MACDValue(m, s, m - s))
    return out


def assert_close(got: list[MACDValue | None], want: list[MACDValue | None], scale: float) -> None:
    assert [g is None for g in got] == [w is None for w in want]
    for g, w in zip(got, want, strict=True):
        if g is not None and w is not None:
            assert tuple(g) == pytest.approx(tuple(w), rel=1e-9, abs=scale * 1e-10)


@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (1, 2, 1), (3, 10, 5)])
def test_matches_reference_on_random_walk(fast: int, slow: int, signal: int) -> None:
    rng = random.Random(fast * 100 + slow)
    xs = [100.0]
    for _ in range(400):
        xs.append(xs[-1] * (1 + rng.gauss(0, 0.01)))
    macd = MACD(fast, slow, signal)
    assert_close([macd.update(x) for x in xs], reference_macd(xs, fast, slow, signal), 100.0)


@given(
    xs=st.lists(st.floats(min_value=1e-3, max_value=1e5), min_size=1, max_size=150),
    fast=st.integers(min_value=1, max_value=10),
    extra=st.integers(min_value=1, max_value=15),
    signal=st.integers(min_value=1, max_value=10),
)
def test_matches_reference_property(xs: list[float], fast: int, extra: int, signal: int) -> None:
    slow = fast + extra
    macd = MACD(fast, slow, signal)
    got = [macd.update(x) for x in xs]
    assert_close(got, reference_macd(xs, fast, slow, signal), max(xs))


def test_warm_up() -> None:
    macd = MACD(2, 3, 2)
    xs = [1.0, 2.0, 3.0, 5.0, 4.0]
    got = []
    for x in xs[:3]:
        got.append(macd.update(x))
    # The MACD line exists from input 3 (slow=3); the signal from input 3 + 2 - 1 = 4.
    assert got == [None, None, None]
    assert macd.macd_line is not None
    assert not macd.ready
    assert macd.value is None
    for x in xs[3:]:
        got.append(macd.update(x))
    assert macd.ready
    assert macd.value == got[4]
    last = got[4]
    assert got[3] is not None
    assert last is not None
    # By hand: fast EMA(2) seeds at 1.5 (input 2), slow EMA(3) seeds at 2.0 (input 3).
    fast = [1.5]
    for x in xs[2:]:
        fast.append(fast[-1] + 2 / 3 * (x - fast[-1]))
    slow = [2.0]
    for x in xs[3:]:
        slow.append(slow[-1] + 0.5 * (x - slow[-1]))
    line = [f - s for f, s in zip(fast[1:], slow, strict=True)]
    signal = (line[0] + line[1]) / 2
    signal = signal + 2 / 3 * (line[2] - signal)
    assert last.macd == pytest.approx(line[2])
    assert last.signal == pytest.approx(signal)
    assert last.histogram == pytest.approx(line[2] - signal)


@pytest.mark.parametrize(
    ("fast", "slow", "signal", "message"),
    [
        (0, 26, 9, "fast period must be a positive integer"),
        (12, 26, 0, "signal period must be a positive integer"),
        (12, 2.5, 9, "slow period must be a positive integer"),
        (26, 12, 9, r"fast period \(26\) must be smaller than slow \(12\)"),
        (12, 12, 9, r"fast period \(12\) must be smaller than slow \(12\)"),
    ],
)
def test_bad_periods(fast: object, slow: object, signal: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MACD(fast, slow, signal)  # type: ignore[arg-type]

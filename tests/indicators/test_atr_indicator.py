from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from algotrade.indicators import ATR

HLC = tuple[float, float, float]


def assert_series_close(
    got: list[float | None], want: list[float | None], rel: float = 1e-9, abs_: float = 0.0
) -> None:
    """Same warm-up (None) positions, and values within tolerance."""
    assert [g is None for g in got] == [w is None for w in want]
    pairs = [(g, w) for g, w in zip(got, want, strict=True) if g is not None]
    assert [g for g, _ in pairs] == pytest.approx([w for _, w in pairs], rel=rel, abs=abs_)


def reference_atr(bars: list[HLC], period: int) -> list[float | None]:
    """TA-Lib style ATR recomputed over every prefix of the history."""
    out: list[float | None] = []
    for end in range(1, len(bars) + 1):
        history = bars[:end]
        true_ranges = [
            max(high - low, abs(high - prev[2]), abs(low - prev[2]))
            for prev, (high, low, _close) in itertools.pairwise(history)
        ]
        if len(true_ranges) < period:
            out.append(None)
            continue
        atr = sum(true_ranges[:period]) / period
        for tr in true_ranges[period:]:
            atr = (atr * (period - 1) + tr) / period
        out.append(atr)
    return out


def random_bars(rng: random.Random, n: int) -> list[HLC]:
    bars = []
    close = 100.0
    for _ in range(n):
        open_ = close + rng.gauss(0, 1)
        close = open_ + rng.gauss(0, 1)
        high = max(open_, close) + abs(rng.gauss(0, 0.5))
        low = min(open_, close) - abs(rng.gauss(0, 0.5))
        bars.append((high, low, close))
    return bars


@st.composite
def bar_lists(draw: st.DrawFn) -> list[HLC]:
    points = st.floats(min_value=1.0, max_value=1e5)
    bars = []
    for _ in range(draw(st.integers(min_value=1, max_value=120))):
        a, b, c = draw(points), draw(points), draw(points)
        low, close, high = sorted((a, b, c))
        bars.append((high, low, close))
    return bars


@pytest.mark.parametrize("period", [1, 3, 14])
def test_matches_reference_on_random_bars(period: int) -> None:
    bars = random_bars(random.Random(period), 300)
    atr = ATR(period)
    got = [atr.update(*bar) for bar in bars]
    want = reference_atr(bars, period)
    assert_series_close(got, want, rel=1e-9)


@given(bars=bar_lists(), period=st.integers(min_value=1, max_value=20))
def test_matches_reference_property(bars: list[HLC], period: int) -> None:
    atr = ATR(period)
    got = [atr.update(*bar) for bar in bars]
    assert_series_close(got, reference_atr(bars, period), rel=1e-9, abs_=1e-9)


def test_warm_up_and_gaps() -> None:
    atr = ATR(2)
    assert atr.update(10.0, 9.0, 9.5) is None  # no previous close yet
    assert atr.update(10.0, 9.0, 9.5) is None  # TR 1.0
    assert not atr.ready
    # Gap up: the true range reaches back to the previous close 9.5.
    assert atr.update(13.0, 12.0, 12.5) == pytest.approx((1.0 + 3.5) / 2)
    assert atr.ready
    assert atr.update(12.5, 12.0, 12.2) == pytest.approx((2.25 * 1 + 0.5) / 2)
    assert atr.value == pytest.approx(1.375)


@pytest.mark.parametrize("period", [0, -1, 2.0, False])
def test_bad_period(period: object) -> None:
    with pytest.raises(ValueError, match="ATR period must be a positive integer"):
        ATR(period)  # type: ignore[arg-type]

"""The vectorised drawdown metrics agree with a plain loop over the curve on random curves
(flat stretches, exact returns to a peak, non-positive equity)."""

from __future__ import annotations

import numpy as np
import pytest

from algotrade.backtest.metrics import max_drawdown, max_drawdown_duration_ns


def loop_max_drawdown(equity: list[float]) -> float:
    peak = -np.inf
    worst = 0.0
    for value in equity:
        peak = max(peak, value)
        if peak > 0:
            worst = max(worst, 1.0 - value / peak)
    return worst


def loop_duration(times: list[int], equity: list[float]) -> int:
    if len(equity) < 2:
        return 0
    longest = 0
    peak, peak_time, below = equity[0], times[0], False
    for time, value in zip(times[1:], equity[1:], strict=True):
        if value >= peak:
            if below:
                longest = max(longest, time - peak_time)
            peak, peak_time, below = value, time, False
        else:
            below = True
    if below:
        longest = max(longest, times[-1] - peak_time)
    return longest


@pytest.mark.parametrize("seed", range(40))
def test_drawdowns_match_a_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(0, 60))
    steps = rng.normal(0, 1, size)
    if seed % 3 == 0:
        steps = np.round(steps)  # flat stretches and exact returns to a peak
    equity = np.cumsum(steps) + float(rng.choice([-2.0, 0.0, 3.0, 50.0]))
    times = np.cumsum(rng.integers(1, 10**9, size)).astype(np.int64)
    assert max_drawdown(equity) == pytest.approx(loop_max_drawdown(equity.tolist()), abs=1e-15)
    assert max_drawdown_duration_ns(times, equity) == loop_duration(times.tolist(), equity.tolist())


@pytest.mark.parametrize("seed", range(20))
def test_a_start_point_counts_as_the_first_point(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    size = int(rng.integers(1, 40))
    equity = np.round(np.cumsum(rng.normal(0, 1, size)) + 4.0, int(seed % 2))
    times = 1_000 + np.cumsum(rng.integers(1, 10**9, size)).astype(np.int64)
    initial = float(rng.choice([4.0, 6.0, 0.0]))
    with_start = [initial, *equity.tolist()]
    assert max_drawdown(equity, start=initial) == pytest.approx(
        loop_max_drawdown(with_start), abs=1e-15
    )
    assert max_drawdown_duration_ns(times, equity, start=(0, initial)) == loop_duration(
        [0, *times.tolist()], with_start
    )

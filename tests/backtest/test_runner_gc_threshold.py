"""The backtest loop collects young objects less often, and restores the thresholds after."""

from __future__ import annotations

import gc
from decimal import Decimal

import pytest

from algotrade.backtest.runner import GC_YOUNG_THRESHOLD, BacktestConfig, run_backtest
from algotrade.core.strategy import Strategy
from algotrade.data.synthetic import generate_bars


class _RecordsThreshold(Strategy):
    name = "records_threshold"

    def on_start(self) -> None:
        self.seen: set[tuple[int, int, int]] = set()

    def on_bar(self, bar: object) -> None:
        self.seen.add(gc.get_threshold())


def test_the_loop_raises_the_young_threshold_and_restores_it() -> None:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        strategy = _RecordsThreshold()
        run_backtest(generate_bars(50, seed=1), strategy, BacktestConfig())
        assert strategy.seen == {(GC_YOUNG_THRESHOLD, 10, 10)}
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)


def test_thresholds_are_restored_when_the_strategy_fails() -> None:
    class Fails(Strategy):
        name = "fails"

        def on_bar(self, bar: object) -> None:
            raise RuntimeError("boom")

    before = gc.get_threshold()
    with pytest.raises(Exception, match="boom"):
        run_backtest(generate_bars(5, seed=1), Fails(), BacktestConfig(initial_cash=Decimal(1000)))
    assert gc.get_threshold() == before

"""Drive strategies through the real engine and paper venue."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

import pytest

from algotrade.core.engine import Engine
from algotrade.core.events import Bar
from algotrade.core.instruments import InstrumentRegistry
from algotrade.core.portfolio import Portfolio
from algotrade.core.strategy import Strategy
from algotrade.venues.paper import PaperVenue

MINUTE_NS = 60 * 1_000_000_000

BarFactory = Callable[..., Bar]
EngineFactory = Callable[..., Engine]


def make_bar(
    i: int,
    close: float,
    *,
    open_: float | None = None,
    high: float | None = None,
    low: float | None = None,
    symbol: str = "X",
) -> Bar:
    """Bar number ``i`` (one a minute); open defaults to the close, the range covers both."""
    opened = close if open_ is None else open_
    top = max(opened, close) if high is None else high
    bottom = min(opened, close) if low is None else low
    return Bar(symbol, i * MINUTE_NS, opened, top, bottom, close, 1.0)


def make_engine(strategy: Strategy, instruments: InstrumentRegistry | None = None) -> Engine:
    """An engine with a paper venue sharing the same instruments, not started."""
    registry = instruments or InstrumentRegistry()
    venue = PaperVenue(instruments=registry)
    return Engine(strategy, venue, portfolio=Portfolio(Decimal(1_000_000)), instruments=registry)


def run_bars(
    strategy: Strategy, bars: Iterable[Bar], instruments: InstrumentRegistry | None = None
) -> Engine:
    engine = make_engine(strategy, instruments)
    engine.start()
    for bar in bars:
        engine.on_bar(bar)
    engine.stop()
    return engine


@pytest.fixture
def bar() -> BarFactory:
    return make_bar


@pytest.fixture
def engine_for() -> EngineFactory:
    return make_engine


@pytest.fixture
def run() -> Callable[..., Engine]:
    return run_bars

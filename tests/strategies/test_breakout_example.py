"""The example user strategy, loaded by path the way the CLI does, run through the engine."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from algotrade.core.engine import Engine
from algotrade.core.events import Bar
from algotrade.strategies import create_strategy

BarFactory = Callable[..., Bar]
Runner = Callable[..., Engine]

BREAKOUT = Path(__file__).resolve().parents[2] / "examples" / "strategies" / "breakout.py"
MINUTE_NS = 60 * 1_000_000_000


def fills(engine: Engine) -> list[tuple[object, ...]]:
    return [(f.ts // MINUTE_NS, f.side.value, f.qty, f.price) for f in engine.fills]


# (close, high, low): a 3-bar channel 9-11, then a break up, a quiet spell, a break down.
BARS = [
    (10.0, 11.0, 9.0),  # 0
    (10.5, 11.0, 9.5),  # 1
    (10.0, 10.5, 9.0),  # 2: channel of bars 0-2 is 9 .. 11
    (10.8, 11.0, 9.8),  # 3: 10.8 is inside → nothing (the target starts undefined)
    (11.5, 11.6, 10.9),  # 4: close 11.5 > 11 → long
    (11.2, 11.4, 11.0),  # 5: inside 9.0 .. 11.6 → hold
    (10.95, 11.2, 10.9),  # 6: channel of bars 3-5 is 9.8 .. 11.6 → hold
    (9.5, 10.9, 9.4),  # 7: channel of bars 4-6 is 10.9 .. 11.6; 9.5 < 10.9 → short
    (9.4, 9.6, 9.3),  # 8: fills
]


def bars(bar: BarFactory) -> list[Bar]:
    return [bar(i, c, open_=c, high=h, low=lo) for i, (c, h, lo) in enumerate(BARS)]


def test_breakout_through_engine(run: Runner, bar: BarFactory) -> None:
    engine = run(create_strategy(str(BREAKOUT), {"lookback": "3"}), bars(bar))
    assert fills(engine) == [
        (5, "buy", 1, Decimal("11.2")),
        (8, "sell", 2, Decimal("9.4")),
    ]
    assert engine.portfolio.position_qty("X") == -1


def test_breakout_long_only(run: Runner, bar: BarFactory) -> None:
    strategy = create_strategy(str(BREAKOUT), {"lookback": "3", "long_only": "true"})
    engine = run(strategy, bars(bar))
    assert fills(engine) == [
        (5, "buy", 1, Decimal("11.2")),
        (8, "sell", 1, Decimal("9.4")),
    ]

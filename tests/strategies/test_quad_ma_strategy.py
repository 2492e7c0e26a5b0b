from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from algotrade.core.engine import Engine
from algotrade.core.errors import ConfigError
from algotrade.core.events import Bar
from algotrade.strategies.quad_ma import QuadMA

BarFactory = Callable[..., Bar]
Runner = Callable[..., Engine]

MINUTE_NS = 60 * 1_000_000_000
FAST = {"p1": 1, "p2": 2, "p3": 3, "p4": 4}
# Up 5 bars, then down: all four SMAs agree up at bar 3, disagree at bar 6, agree down at bar 8.
CLOSES = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 14.0, 13.0, 12.0, 11.0, 10.0, 9.0]


def fills(engine: Engine) -> list[tuple[object, ...]]:
    """(bar index, side, qty, price) of every fill."""
    return [(f.ts // MINUTE_NS, f.side.value, f.qty, f.price) for f in engine.fills]


def bars_from(closes: list[float], bar: BarFactory) -> list[Bar]:
    # Open one below the close, so a fill at "the next bar's open" is recognisable.
    return [bar(i, c, open_=c - 0.25) for i, c in enumerate(closes)]


def test_long_flat_short_through_engine(run: Runner, bar: BarFactory) -> None:
    engine = run(QuadMA(FAST), bars_from(CLOSES, bar))
    assert fills(engine) == [
        (4, "buy", 1, Decimal("13.75")),  # all up at bar 3 → market buy at bar 4's open
        (7, "sell", 1, Decimal("12.75")),  # bar 6: SMA1 14 < SMA2 14.5 → flat
        (9, "sell", 1, Decimal("10.75")),  # bar 8: 12 < 12.5 < 13 < 13.5 → short
    ]
    assert engine.portfolio.position_qty("X") == -1


def test_long_only_goes_flat_instead_of_short(run: Runner, bar: BarFactory) -> None:
    engine = run(QuadMA({**FAST, "long_only": True, "qty": "2.5"}), bars_from(CLOSES, bar))
    assert fills(engine) == [
        (4, "buy", Decimal("2.5"), Decimal("13.75")),
        (7, "sell", Decimal("2.5"), Decimal("12.75")),
    ]
    assert engine.portfolio.position_qty("X") == 0


def test_nothing_before_all_four_averages_exist(run: Runner, bar: BarFactory) -> None:
    # Strictly rising, but SMA(4) needs 4 bars: the first target comes on bar 3.
    engine = run(QuadMA(FAST), bars_from([1.0, 2.0, 3.0], bar))
    assert engine.orders == {}


def test_targets_are_sent_only_when_they_change(engine_for: Callable[..., Engine]) -> None:
    strategy = QuadMA(FAST)
    engine = engine_for(strategy)
    sent: list[tuple[str, Decimal]] = []
    original = engine.target_position

    def record(symbol: str, qty: Decimal | int | float | str, tag: str = "") -> None:
        sent.append((symbol, Decimal(qty)))
        original(symbol, qty, tag)

    engine.target_position = record  # type: ignore[method-assign]
    engine.start()
    # Flat (tie), flat, long, long, long, mixed → flat, flat.
    closes = [5.0, 5.0, 5.0, 5.0, 5.0, 6.0, 7.0, 8.0, 9.0, 8.0, 8.0]
    for i, close in enumerate(closes):
        engine.on_bar(Bar("X", i * MINUTE_NS, close, close, close, close, 1.0))
    engine.stop()
    assert sent == [("X", Decimal(0)), ("X", Decimal(1)), ("X", Decimal(0))]


def test_symbols_are_independent(run: Runner, bar: BarFactory) -> None:
    bars = []
    for i, close in enumerate(CLOSES[:6]):
        bars.append(bar(i, close, symbol="UP"))
        bars.append(bar(i, 100.0 - close, symbol="DOWN"))
    engine = run(QuadMA(FAST), bars)
    assert engine.portfolio.position_qty("UP") == 1
    assert engine.portfolio.position_qty("DOWN") == -1


def test_default_params() -> None:
    params = QuadMA().params
    assert (params.p1, params.p2, params.p3, params.p4) == (5, 10, 20, 40)
    assert params.qty == 1
    assert params.long_only is False


def test_string_params_are_coerced() -> None:
    params = QuadMA({"p1": "2", "p2": "3", "p3": "7", "p4": "9", "long_only": "true"}).params
    assert (params.p1, params.p2, params.p3, params.p4, params.long_only) == (2, 3, 7, 9, True)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"p2": 5}, r"parameter 'p2': value error, p2 \(5\) must be greater than p1 \(5\)"),
        ({"p3": 8}, r"parameter 'p3': value error, p3 \(8\) must be greater than p2 \(10\)"),
        ({"p4": 20}, r"parameter 'p4': .*p4 \(20\) must be greater than p3 \(20\)"),
        ({"p1": 0}, r"parameter 'p1': input should be greater than or equal to 1"),
        ({"p1": "x"}, r"parameter 'p1': input should be a valid integer"),
        ({"qty": 0}, r"parameter 'qty': input should be greater than 0"),
        ({"fast": 3}, r"unknown parameter 'fast'"),
    ],
)
def test_bad_params_name_the_field(params: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=r"^strategy quad_ma: " + message):
        QuadMA(params)

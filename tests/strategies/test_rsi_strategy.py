from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from algotrade.core.engine import Engine
from algotrade.core.errors import ConfigError
from algotrade.core.events import Bar
from algotrade.strategies.rsi import RSIReversion

BarFactory = Callable[..., Bar]
Runner = Callable[..., Engine]

MINUTE_NS = 60 * 1_000_000_000


def fills(engine: Engine) -> list[tuple[object, ...]]:
    """(bar index, side, qty, price) of every fill."""
    return [(f.ts // MINUTE_NS, f.side.value, f.qty, f.price) for f in engine.fills]


def bars_from(closes: list[float], bar: BarFactory) -> list[Bar]:
    # Open a quarter above the close, so a fill at "the next bar's open" is recognisable.
    return [bar(i, c, open_=c + 0.25) for i, c in enumerate(closes)]


# With period 1, Wilder's averages are just the last change: RSI is 100 after a rise, 0 after
# a fall and 50 after an unchanged close, which makes every rule easy to trigger by hand.
PERIOD_ONE_CLOSES = [
    10.0,  # 0: warm-up
    9.0,  # 1: RSI 0 < 30 → long
    9.0,  # 2: RSI 50, long and >= exit 50 → flat
    8.0,  # 3: RSI 0 → long
    7.0,  # 4: RSI 0, already long → nothing
    8.0,  # 5: RSI 100 > 70 → short (reversal: sell 2)
    8.0,  # 6: RSI 50, short and <= exit 50 → flat
    9.0,  # 7: RSI 100 → short
    10.0,  # 8: RSI 100, already short → nothing
    9.0,  # 9: RSI 0 → long (reversal: buy 2)
    9.0,  # 10: fills the last order
]


def test_rules_through_engine(run: Runner, bar: BarFactory) -> None:
    engine = run(RSIReversion({"period": 1}), bars_from(PERIOD_ONE_CLOSES, bar))
    assert fills(engine) == [
        (2, "buy", 1, Decimal("9.25")),
        (3, "sell", 1, Decimal("8.25")),
        (4, "buy", 1, Decimal("7.25")),
        (6, "sell", 2, Decimal("8.25")),
        (7, "buy", 1, Decimal("9.25")),
        (8, "sell", 1, Decimal("10.25")),
        (10, "buy", 2, Decimal("9.25")),
    ]
    assert engine.portfolio.position_qty("X") == 1


def test_long_only_never_shorts(run: Runner, bar: BarFactory) -> None:
    engine = run(RSIReversion({"period": 1, "long_only": True}), bars_from(PERIOD_ONE_CLOSES, bar))
    assert fills(engine) == [
        (2, "buy", 1, Decimal("9.25")),
        (3, "sell", 1, Decimal("8.25")),
        (4, "buy", 1, Decimal("7.25")),
        (6, "sell", 1, Decimal("8.25")),  # overbought exits the long but opens nothing
        (10, "buy", 1, Decimal("9.25")),
    ]


def test_exit_level_between_the_bands(run: Runner, bar: BarFactory) -> None:
    # RSI(2) by hand: changes +1, -1 → 50; -1 → avg gain 0.25, loss 0.75 → 25 (long);
    # +0.5 → 0.375 / 0.375 → 50 (below exit 55: hold); +0.5 → 0.4375 / 0.1875 → 70 (exit).
    closes = [10.0, 11.0, 10.0, 9.0, 9.5, 10.0, 10.0]
    engine = run(
        RSIReversion({"period": 2, "exit_level": 55, "overbought": 75}), bars_from(closes, bar)
    )
    assert fills(engine) == [
        (4, "buy", 1, Decimal("9.75")),
        (6, "sell", 1, Decimal("10.25")),
    ]


def test_nothing_during_warm_up(run: Runner, bar: BarFactory) -> None:
    # Falling hard, but RSI(3) needs 4 closes.
    engine = run(RSIReversion({"period": 3}), bars_from([10.0, 9.0, 8.0], bar))
    assert engine.orders == {}


def test_default_params() -> None:
    params = RSIReversion().params
    assert (params.period, params.oversold, params.overbought, params.exit_level) == (
        14,
        30,
        70,
        50,
    )
    assert params.qty == 1
    assert params.long_only is False


def test_string_params_are_coerced() -> None:
    params = RSIReversion(
        {"period": "7", "oversold": "20.5", "exit_level": "45", "qty": "0.5"}
    ).params
    assert (params.period, params.oversold, params.exit_level) == (7, 20.5, 45.0)
    assert params.qty == Decimal("0.5")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"exit_level": 30}, r"parameter 'exit_level': .*must be greater than oversold \(30"),
        ({"exit_level": 70}, r"parameter 'overbought': .*must be greater than exit_level \(70"),
        ({"overbought": 40}, r"parameter 'overbought': .*must be greater than exit_level \(50"),
        ({"oversold": 0}, r"parameter 'oversold': input should be greater than 0"),
        ({"overbought": 100}, r"parameter 'overbought': input should be less than 100"),
        ({"period": 0}, r"parameter 'period': input should be greater than or equal to 1"),
        ({"long_only": "maybe"}, r"parameter 'long_only': input should be a valid boolean"),
    ],
)
def test_bad_params_name_the_field(params: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=r"^strategy rsi: " + message):
        RSIReversion(params)

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from algotrade.core.engine import Engine
from algotrade.core.errors import ConfigError
from algotrade.core.events import Bar
from algotrade.core.instruments import Instrument, InstrumentRegistry
from algotrade.core.orders import OrderStatus, OrderType
from algotrade.strategies.grid import Grid

BarFactory = Callable[..., Bar]
EngineFactory = Callable[..., Engine]

MINUTE_NS = 60 * 1_000_000_000


def cents() -> InstrumentRegistry:
    return InstrumentRegistry(
        {"X": Instrument("X", tick_size=Decimal("0.01"), lot_size=Decimal(1))}
    )


def resting(engine: Engine) -> list[tuple[object, ...]]:
    """(side, limit price, qty) of the open orders, lowest price first."""
    orders: list[tuple[str, Decimal, Decimal]] = []
    for order in engine.open_orders():
        assert order.request.type is OrderType.LIMIT
        assert order.request.limit_price is not None
        orders.append((order.side.value, order.request.limit_price, order.qty))
    orders.sort(key=lambda o: o[1])
    return list(orders)


def fills(engine: Engine) -> list[tuple[object, ...]]:
    """(bar index, side, qty, price) of every fill."""
    return [(f.ts // MINUTE_NS, f.side.value, f.qty, f.price) for f in engine.fills]


def feed(engine: Engine, bars: list[Bar]) -> None:
    for bar in bars:
        engine.on_bar(bar)


FIXED = {"levels": 2, "spacing_pct": 1, "reference": 100, "symbol": "X"}


def test_fixed_reference_lays_the_ladder_at_start(engine_for: EngineFactory) -> None:
    engine = engine_for(Grid(FIXED), cents())
    engine.start()
    assert resting(engine) == [
        ("buy", Decimal("98.00"), 1),
        ("buy", Decimal("99.00"), 1),
        ("sell", Decimal("101.00"), 1),
        ("sell", Decimal("102.00"), 1),
    ]
    assert all(o.request.tag == "grid" for o in engine.orders.values())


def test_round_trips_place_counter_orders_one_level_away(
    engine_for: EngineFactory, bar: BarFactory
) -> None:
    engine = engine_for(Grid(FIXED), cents())
    engine.start()
    feed(
        engine,
        [
            bar(0, 100.0, high=100.5, low=99.5),  # touches nothing
            bar(1, 99.2, open_=100.0, low=98.9),  # buy 99 fills → sell at 100
            bar(2, 100.1, open_=99.2, high=100.2),  # sell 100 fills → buy at 99
            bar(3, 101.2, open_=100.1, high=101.5),  # sell 101 fills → buy at 100
        ],
    )
    assert fills(engine) == [
        (1, "buy", 1, Decimal("99.00")),
        (2, "sell", 1, Decimal("100.00")),
        (3, "sell", 1, Decimal("101.00")),
    ]
    assert engine.portfolio.position_qty("X") == -1
    assert resting(engine) == [
        ("buy", Decimal("98.00"), 1),
        ("buy", Decimal("99.00"), 1),
        ("buy", Decimal("100.00"), 1),
        ("sell", Decimal("102.00"), 1),
    ]
    # Two round trips of one level each: 99 → 100 closed, 101 still open (short).
    assert engine.portfolio.realized_pnl == Decimal(1)
    engine.stop()
    assert engine.open_orders() == []
    cancelled = [o for o in engine.orders.values() if o.status is OrderStatus.CANCELLED]
    assert len(cancelled) == 4


def test_first_close_reference_and_tick_rounding(
    engine_for: EngineFactory, bar: BarFactory
) -> None:
    engine = engine_for(Grid({"levels": 3, "spacing_pct": "0.3"}), cents())
    engine.start()
    assert engine.orders == {}  # the reference is not known yet
    feed(engine, [bar(0, 100.37)])
    # step = 100.37 × 0.3% = 0.30111; e.g. 100.37 - 0.30111 = 100.06889 → 100.07.
    assert resting(engine) == [
        ("buy", Decimal("99.47"), 1),
        ("buy", Decimal("99.77"), 1),
        ("buy", Decimal("100.07"), 1),
        ("sell", Decimal("100.67"), 1),
        ("sell", Decimal("100.97"), 1),
        ("sell", Decimal("101.27"), 1),
    ]
    grid = engine.strategy
    assert isinstance(grid, Grid)
    assert grid.reference == Decimal("100.37")
    assert grid.level_price(0) == Decimal("100.37")


def test_gap_fill_keeps_the_counter_order_on_the_lattice(
    engine_for: EngineFactory, bar: BarFactory
) -> None:
    engine = engine_for(Grid(FIXED), cents())
    engine.start()
    feed(engine, [bar(0, 97.8, open_=97.5, high=97.9, low=97.4)])  # gaps through both buys
    assert fills(engine) == [
        (0, "buy", 1, Decimal("97.5")),  # at the open: better than both limits
        (0, "buy", 1, Decimal("97.5")),
    ]
    # Counter sells at the levels above the *orders* (99 → 100, 98 → 99), not at 98.5.
    assert resting(engine) == [
        ("sell", Decimal("99.00"), 1),
        ("sell", Decimal("100.00"), 1),
        ("sell", Decimal("101.00"), 1),
        ("sell", Decimal("102.00"), 1),
    ]


def test_max_position_skips_orders_that_could_exceed_it(
    engine_for: EngineFactory, bar: BarFactory
) -> None:
    engine = engine_for(Grid({**FIXED, "levels": 3, "max_position": 1}), cents())
    engine.start()
    # Only the nearest buy and sell fit: two buys filling would make the position 2.
    assert resting(engine) == [("buy", Decimal("99.00"), 1), ("sell", Decimal("101.00"), 1)]
    feed(engine, [bar(0, 99.5, open_=100.0, low=98.5)])  # buy 99 fills: position 1
    # Sell at 100 fits (1 - 2 = -1); no new buy could fit while long 1.
    assert resting(engine) == [("sell", Decimal("100.00"), 1), ("sell", Decimal("101.00"), 1)]
    feed(engine, [bar(1, 98.0, open_=99.0, low=97.0)])  # nothing rests below: no fill
    assert engine.portfolio.position_qty("X") == 1
    feed(engine, [bar(2, 100.0, open_=99.0, high=100.0)])  # sell 100 fills: flat, buy at 99
    assert resting(engine) == [("buy", Decimal("99.00"), 1), ("sell", Decimal("101.00"), 1)]


def test_default_max_position_is_levels_times_qty(
    engine_for: EngineFactory, bar: BarFactory
) -> None:
    engine = engine_for(Grid({**FIXED, "qty": 2}), cents())
    engine.start()
    # Crash through every buy, then keep falling: the position stops at 2 levels × 2.
    feed(engine, [bar(0, 90.0, open_=100.0, low=90.0), bar(1, 80.0, open_=90.0, low=80.0)])
    assert engine.portfolio.position_qty("X") == 4
    assert [o for o in resting(engine) if o[0] == "buy"] == []


def test_bars_of_other_symbols_are_ignored(engine_for: EngineFactory, bar: BarFactory) -> None:
    engine = engine_for(Grid({"levels": 1, "spacing_pct": 1}), cents())
    engine.start()
    feed(engine, [bar(0, 100.0, symbol="X"), bar(0, 50.0, symbol="Y"), bar(1, 40.0, symbol="Y")])
    assert {o.symbol for o in engine.orders.values()} == {"X"}
    assert len(engine.orders) == 2


def test_symbol_param_picks_the_symbol(engine_for: EngineFactory, bar: BarFactory) -> None:
    engine = engine_for(Grid({"levels": 1, "spacing_pct": 1, "symbol": "Y"}), cents())
    engine.start()
    feed(engine, [bar(0, 100.0, symbol="X"), bar(0, 50.0, symbol="Y")])
    assert resting(engine) == [("buy", Decimal("49.50"), 1), ("sell", Decimal("50.50"), 1)]


def test_qty_is_rounded_to_the_lot(engine_for: EngineFactory) -> None:
    engine = engine_for(Grid({**FIXED, "levels": 1, "qty": "2.7"}), cents())
    engine.start()
    assert [qty for _, _, qty in resting(engine)] == [2, 2]


def test_default_params() -> None:
    params = Grid().params
    assert params.levels == 5
    assert params.spacing_pct == Decimal("0.5")
    assert params.qty == 1
    assert params.reference == "first_close"
    assert params.max_position is None


def test_string_params_are_coerced() -> None:
    params = Grid({"levels": "3", "spacing_pct": "0.25", "reference": "101.5"}).params
    assert (params.levels, params.spacing_pct, params.reference) == (
        3,
        Decimal("0.25"),
        Decimal("101.5"),
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"levels": 0}, r"parameter 'levels': input should be greater than or equal to 1"),
        ({"spacing_pct": 0}, r"parameter 'spacing_pct': input should be greater than 0"),
        ({"levels": 10, "spacing_pct": 10}, r"parameter 'spacing_pct': .*must be below 100"),
        ({"max_position": 0}, r"parameter 'max_position': input should be greater than 0"),
        ({"reference": "-5"}, r"parameter 'reference': .*\"first_close\" or a positive price"),
        ({"reference": "last_close"}, r"parameter 'reference': .*or a positive price"),
        ({"qty": "abc"}, r"parameter 'qty': input should be a valid decimal"),
    ],
)
def test_bad_params_name_the_field(params: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=r"^strategy grid: " + message):
        Grid(params)


def test_levels_fill_when_the_bar_exactly_touches_them(
    engine_for: EngineFactory, bar: BarFactory
) -> None:
    grid = Grid({"levels": 1, "spacing_pct": 50, "reference": "0.2", "symbol": "X"})
    engine = engine_for(grid, cents())
    engine.start()
    assert resting(engine) == [("buy", Decimal("0.10"), 1), ("sell", Decimal("0.30"), 1)]
    feed(engine, [bar(0, 0.2, high=0.3, low=0.1)])  # the range touches both levels
    assert [side for _, side, _, _ in fills(engine)] == ["buy", "sell"]

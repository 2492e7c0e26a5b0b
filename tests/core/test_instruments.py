from __future__ import annotations

from decimal import Decimal

import pytest

from algotrade.core.instruments import Instrument, InstrumentRegistry
from algotrade.core.money import to_decimal

D = Decimal


def test_rounding_to_tick_and_lot() -> None:
    es = Instrument("ES", tick_size=D("0.25"), lot_size=D(1))
    assert es.round_price(D("5000.13")) == D("5000.25")  # 20000.52 ticks → 20001
    assert es.round_price(D("5000.12")) == D("5000.00")
    assert es.round_price_adverse(D("5000.01"), buying=True) == D("5000.25")
    assert es.round_price_adverse(D("5000.24"), buying=False) == D("5000.00")
    assert es.round_qty(D("2.9")) == D(2)
    assert es.round_qty(D("-2.9")) == D(-2)


def test_float_conversion_keeps_published_digits() -> None:
    assert to_decimal(2.179012) == D("2.179012")
    assert to_decimal(0.1) + to_decimal(0.2) == D("0.3")
    with pytest.raises(ValueError, match="finite"):
        to_decimal(float("nan"))
    with pytest.raises(TypeError):
        to_decimal(True)


@pytest.mark.parametrize("field", ["tick_size", "lot_size"])
def test_invalid_grid_rejected(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Instrument("X", **{field: D(0)})


def test_registry_defaults_unknown_symbols() -> None:
    registry = InstrumentRegistry(default_tick=D("0.01"))
    assert registry.get("AAPL").tick_size == D("0.01")
    assert "AAPL" in registry

"""Instruments: what can be traded and the venue's price/size grid."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from algotrade.core.money import ZERO, floor_to_step, quantize_to_step, to_decimal

DEFAULT_TICK = Decimal("0.00000001")
DEFAULT_LOT = Decimal("0.00000001")


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable symbol with its tick size, lot size and minimum order value.

    ``multiplier`` scales PnL per unit of price (1 for spot and perps, e.g. 50 for ES futures).
    """

    symbol: str
    tick_size: Decimal = DEFAULT_TICK
    lot_size: Decimal = DEFAULT_LOT
    min_qty: Decimal = ZERO
    min_notional: Decimal = ZERO
    multiplier: Decimal = Decimal(1)
    venue: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValueError("instrument symbol must not be empty")
        for name in ("tick_size", "lot_size"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or value <= 0:
                raise ValueError(f"instrument {self.symbol}: {name} must be a positive Decimal")
        if self.min_qty < 0 or self.min_notional < 0:
            raise ValueError(f"instrument {self.symbol}: minimums must not be negative")
        if self.multiplier <= 0:
            raise ValueError(f"instrument {self.symbol}: multiplier must be positive")

    def round_price(self, price: Decimal | float | str, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        """Round a price to the tick grid."""
        return quantize_to_step(to_decimal(price), self.tick_size, rounding)

    def round_price_adverse(self, price: Decimal | float | str, buying: bool) -> Decimal:
        """Round a price to the tick against the trader: up when buying, down when selling."""
        return self.round_price(price, ROUND_CEILING if buying else ROUND_FLOOR)

    def round_qty(self, qty: Decimal | float | str) -> Decimal:
        """Round a size toward zero to the lot grid."""
        return floor_to_step(to_decimal(qty), self.lot_size)


class InstrumentRegistry:
    """Known instruments by symbol; unknown symbols get the defaults of this registry.

    A backtest on a CSV file has no venue metadata, so its instruments come from defaults
    (fine 1e-8 grids that keep published prices exact) unless the user sets them.
    """

    def __init__(
        self,
        instruments: dict[str, Instrument] | None = None,
        *,
        default_tick: Decimal = DEFAULT_TICK,
        default_lot: Decimal = DEFAULT_LOT,
        default_min_notional: Decimal = ZERO,
    ) -> None:
        self._by_symbol: dict[str, Instrument] = dict(instruments or {})
        self._default_tick = default_tick
        self._default_lot = default_lot
        self._default_min_notional = default_min_notional

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def get(self, symbol: str) -> Instrument:
        instrument = self._by_symbol.get(symbol)
        if instrument is None:
            instrument = self._by_symbol[symbol] = Instrument(
                symbol,
                tick_size=self._default_tick,
                lot_size=self._default_lot,
                min_notional=self._default_min_notional,
            )
        return instrument

    def add(self, instrument: Instrument) -> None:
        self._by_symbol[instrument.symbol] = instrument

    def as_dict(self) -> dict[str, Instrument]:
        return dict(self._by_symbol)

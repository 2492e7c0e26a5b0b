"""Futures PnL from a contract's tick size and tick value (points → ticks → money).

The gateway describes each contract by ``tickSize`` (price step, in points) and ``tickValue``
(money per tick per contract). A price move of ``points`` is ``points / tickSize`` ticks, worth
``ticks × tickValue`` per contract. The risk engine's multiplier for a contract (money per 1.0 of
price per contract) is ``tickValue / tickSize`` — taken from the venue, never typed by hand.

Money is booked with the project's one quantum and rounding (``core.money.book_money``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from algotrade.core.money import EXACT, book_product, derived_price
from algotrade.venues.projectx.errors import ProjectXPayloadError
from algotrade.venues.projectx.schemas import Contract, OrderSide, PositionType

__all__ = [
    "TickSpec",
    "multiplier",
    "points_to_ticks",
    "round_trip_pnl",
    "ticks_to_money",
    "unrealized_pnl",
]


@dataclass(frozen=True, slots=True)
class TickSpec:
    """The two numbers that turn prices into money for one contract."""

    tick_size: Decimal
    tick_value: Decimal

    def __post_init__(self) -> None:
        if self.tick_size <= 0 or self.tick_value <= 0:
            raise ValueError(
                f"tick_size and tick_value must be positive (got {self.tick_size}, "
                f"{self.tick_value})"
            )

    @classmethod
    def of(cls, contract: Contract) -> TickSpec:
        return cls(contract.tick_size, contract.tick_value)

    @property
    def multiplier(self) -> Decimal:
        """Money per 1.0 of price per contract (ES: 12.50 / 0.25 = 50); exact when the ratio
        terminates within 12 decimals (every listed CME contract), else rounded to 1e-12."""
        ratio = EXACT.divide(self.tick_value, self.tick_size)
        exponent = ratio.normalize(EXACT).as_tuple().exponent
        if isinstance(exponent, int) and exponent >= -12:
            return ratio.normalize(EXACT) if exponent < 0 else ratio.quantize(Decimal(1))
        return derived_price(ratio)


def multiplier(contract: Contract) -> Decimal:
    """The PnL multiplier the risk engine and the portfolio use for ``contract``."""
    return TickSpec.of(contract).multiplier


def points_to_ticks(points: Decimal, spec: TickSpec) -> Decimal:
    """Ticks in a price distance; a distance off the tick grid is a venue or input error."""
    ticks = EXACT.divide(points, spec.tick_size)
    if ticks != ticks.to_integral_value():
        raise ProjectXPayloadError(
            f"price distance {points} is not a whole number of ticks of {spec.tick_size}"
        )
    return ticks


def ticks_to_money(ticks: Decimal, size: int, spec: TickSpec) -> Decimal:
    """Money for ``ticks`` on ``size`` contracts, booked."""
    return book_product(ticks, spec.tick_value, Decimal(size))


def round_trip_pnl(
    side: OrderSide | PositionType, entry: Decimal, exit: Decimal, size: int, spec: TickSpec
) -> Decimal:
    """Gross PnL of ``size`` contracts opened at ``entry`` and closed at ``exit``; a long
    (``OrderSide.BID`` / ``PositionType.LONG``) gains when the price rises."""
    if size < 0:
        raise ValueError(f"size must not be negative, got {size}")
    # Identity, not ==: IntEnums compare by value and OrderSide.ASK == PositionType.LONG == 1.
    long = side is OrderSide.BID or side is PositionType.LONG
    points = exit - entry if long else entry - exit
    return ticks_to_money(points_to_ticks(points, spec), size, spec)


def unrealized_pnl(
    side: PositionType, average_price: Decimal, mark: Decimal, size: int, spec: TickSpec
) -> Decimal:
    """Open PnL at ``mark``; a mark off the tick grid is valued exactly (no tick check)."""
    points = mark - average_price if side is PositionType.LONG else average_price - mark
    return book_product(points, spec.multiplier, Decimal(size))

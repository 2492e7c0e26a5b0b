"""Positions, cash, fees and PnL, in exact ``Decimal``.

Accounting model (documented in docs/backtest-semantics.md):

- cash moves by the booked notional of every fill (``qty × price × multiplier`` rounded to the
  money quantum) and by its fee (cash account; shorts credit cash), so
  ``equity = cash + Σ booked(qty × mark × multiplier)`` at all times;
- a position carries its cost basis (the booked notional still open); its average price is
  that cost divided by the size, a derived price. Reducing releases cost in proportion
  (booked), and realizes ``proceeds − released cost`` (gross of fees);
- fees are tracked on their own, so ``equity = initial cash + realized + unrealized − fees``
  holds exactly, with every term on the money quantum.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, localcontext

from algotrade.core.events import OrderFilled
from algotrade.core.instruments import InstrumentRegistry
from algotrade.core.money import (
    EXACT,
    ZERO,
    book_money,
    book_product,
    book_share,
    derived_price,
    to_decimal,
)
from algotrade.core.trades import ClosedTrade, TradeLedger, split_notional

ONE = Decimal(1)


class Position:
    """Net position in one symbol. ``qty`` > 0 long, < 0 short; ``cost`` is the booked notional
    of the open quantity, with the sign of ``qty``."""

    __slots__ = ("cost", "fees", "multiplier", "qty", "realized_pnl", "symbol")

    def __init__(
        self,
        symbol: str,
        multiplier: Decimal = ONE,
        qty: Decimal = ZERO,
        avg_price: Decimal = ZERO,
        realized_pnl: Decimal = ZERO,
        fees: Decimal = ZERO,
    ) -> None:
        self.symbol = symbol
        self.multiplier = multiplier
        self.qty = qty
        self.realized_pnl = realized_pnl
        self.fees = fees
        self.cost = book_product(qty, avg_price, multiplier)

    def __repr__(self) -> str:
        return (
            f"Position({self.symbol!r}, qty={self.qty}, avg_price={self.avg_price}, "
            f"realized_pnl={self.realized_pnl}, fees={self.fees})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Position):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable

    @property
    def avg_price(self) -> Decimal:
        """Average entry price of the open quantity (derived: cost ÷ size)."""
        if not self.qty:
            return ZERO
        return derived_price(EXACT.divide(self.cost, EXACT.multiply(self.qty, self.multiplier)))

    @avg_price.setter
    def avg_price(self, price: Decimal) -> None:
        """Set the cost basis from an average price (a position reported from outside)."""
        self.cost = book_product(self.qty, price, self.multiplier)

    def apply(self, signed_qty: Decimal, price: Decimal, fee: Decimal) -> Decimal:
        """Apply one execution; returns the gross PnL it realized (booked)."""
        return self.apply_booked(signed_qty, book_product(signed_qty, price, self.multiplier), fee)

    def apply_booked(self, signed_qty: Decimal, notional: Decimal, fee: Decimal) -> Decimal:
        """``apply`` with the execution's booked notional (``signed qty × price × multiplier``)
        already computed, as the portfolio does once per fill for cash, position and ledger."""
        self.fees += fee
        old = self.qty
        new = old + signed_qty
        realized = ZERO
        if old == 0 or (old > 0) == (signed_qty > 0):
            self.cost += notional  # opening or adding
        elif abs(signed_qty) <= abs(old):
            released = self.cost if new == 0 else book_share(self.cost, -signed_qty, old)
            realized = -notional - released
            self.cost -= released
        else:  # flipped: close all of ``old``, the rest opens at this price
            closing, opening = split_notional(notional, -old, signed_qty)
            realized = -closing - self.cost
            self.cost = opening
        self.qty = new
        self.realized_pnl += realized
        return realized

    def copy(self) -> Position:
        twin = Position(self.symbol, self.multiplier, self.qty, ZERO, self.realized_pnl, self.fees)
        twin.cost = self.cost
        return twin

    def market_value(self, mark: Decimal) -> Decimal:
        return book_product(self.qty, mark, self.multiplier)

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        return EXACT.subtract(self.market_value(mark), self.cost)


class Portfolio:
    """All positions of one account (or one bot's sub-account)."""

    def __init__(
        self,
        initial_cash: Decimal,
        instruments: InstrumentRegistry | None = None,
        *,
        keep_closed_trades: bool = True,
    ) -> None:
        if not isinstance(initial_cash, Decimal):
            raise TypeError("initial_cash must be a Decimal")
        if initial_cash != book_money(initial_cash):
            raise ValueError(f"initial_cash must have at most 8 decimal places: {initial_cash}")
        self.initial_cash = initial_cash
        self.cash = initial_cash
        self.fees_paid = ZERO
        self.realized_pnl = ZERO
        self.positions: dict[str, Position] = {}
        self.marks: dict[str, float | Decimal] = {}
        self.ledger = TradeLedger(keep_closed=keep_closed_trades)
        self._instruments = instruments or InstrumentRegistry()

    @property
    def instruments(self) -> InstrumentRegistry:
        return self._instruments

    def position(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            multiplier = self._instruments.get(symbol).multiplier
            pos = self.positions[symbol] = Position(symbol, multiplier)
        return pos

    def position_qty(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return pos.qty if pos is not None else ZERO

    def set_initial_cash(self, initial_cash: Decimal) -> None:
        """Change the initial capital; cash moves by the difference (as if every fill had
        been booked from the new amount)."""
        with localcontext(EXACT):  # money sums beyond 28 digits stay exact
            if initial_cash != book_money(initial_cash):
                raise ValueError(f"initial_cash must have at most 8 decimal places: {initial_cash}")
            self.cash += initial_cash - self.initial_cash
            self.initial_cash = initial_cash

    def rebuild(self, fills: Iterable[OrderFilled]) -> None:
        """Start over from the initial cash and book ``fills`` in order (a daemon restart):
        positions, cost bases, cash, PnL and the round trips in progress all come from the
        persisted fills, so nothing derived can disagree with what was stored.

        Each symbol is then marked at its last fill's price, the latest price the books know,
        until the market gives a newer one (``apply_fill`` alone keeps a mark it has, because
        within a bar the close it was marked at is later than a fill at the open)."""
        self.cash = self.initial_cash
        self.fees_paid = ZERO
        self.realized_pnl = ZERO
        self.positions = {}
        self.marks.clear()
        self.ledger = TradeLedger(keep_closed=self.ledger.keep_closed)
        last_prices: dict[str, Decimal] = {}
        for fill in fills:
            self.apply_fill(fill)
            last_prices[fill.symbol] = fill.price
        self.marks.update(last_prices)

    def apply_fill(self, fill: OrderFilled) -> ClosedTrade | None:
        """Book a fill; returns the round trip it closed, if any."""
        with localcontext(EXACT):  # money sums beyond 28 digits stay exact
            if not (
                isinstance(fill.qty, Decimal)
                and isinstance(fill.price, Decimal)
                and isinstance(fill.fee, Decimal)
            ):
                name = next(
                    n for n in ("qty", "price", "fee") if not isinstance(getattr(fill, n), Decimal)
                )
                raise TypeError(f"fill {fill.trade_id}: {name} must be Decimal")
            fee = book_money(fill.fee)  # venues charge on a grid of their own; we book on ours
            pos = self.position(fill.symbol)
            signed = fill.signed_qty
            qty_before = pos.qty
            # Booked once for cash, position and ledger (rounding half-even is symmetric, so
            # the ledger's unsigned value is its absolute value).
            notional = book_product(signed, fill.price, pos.multiplier)
            realized = pos.apply_booked(signed, notional, fee)
            self.cash -= notional + fee
            self.fees_paid += fee
            self.realized_pnl += realized
            self.marks.setdefault(fill.symbol, fill.price)
            return self.ledger.record_booked(fill, qty_before, pos.multiplier, abs(notional), fee)

    def update_mark(self, symbol: str, price: float | Decimal) -> None:
        self.marks[symbol] = price

    def mark(self, symbol: str) -> Decimal:
        """Last mark as exact Decimal (falls back to the average price when never marked)."""
        raw = self.marks.get(symbol)
        if raw is None:
            pos = self.positions.get(symbol)
            return pos.avg_price if pos else ZERO
        return raw if isinstance(raw, Decimal) else to_decimal(raw)

    def unrealized_pnl(self, symbol: str | None = None) -> Decimal:
        positions: Iterable[Position] = (
            self.positions.values() if symbol is None else [self.position(symbol)]
        )
        with localcontext(EXACT):  # money sums beyond 28 digits stay exact
            return sum((p.unrealized_pnl(self.mark(p.symbol)) for p in positions if p.qty), ZERO)

    def market_value(self) -> Decimal:
        with localcontext(EXACT):
            return sum(
                (p.market_value(self.mark(p.symbol)) for p in self.positions.values() if p.qty),
                ZERO,
            )

    def gross_exposure(self) -> Decimal:
        with localcontext(EXACT):  # money sums beyond 28 digits stay exact
            return sum(
                (
                    abs(p.market_value(self.mark(p.symbol)))
                    for p in self.positions.values()
                    if p.qty
                ),
                ZERO,
            )

    def equity(self) -> Decimal:
        """Cash plus the market value of every open position (asked before each order that
        adds exposure: one exact context for the whole sum, not one per part)."""
        with localcontext(EXACT):  # money sums beyond 28 digits stay exact
            total = self.cash + ZERO  # the exponent ``cash + market_value()`` has
            for pos in self.positions.values():
                if pos.qty:
                    total += pos.market_value(self.mark(pos.symbol))
            return total

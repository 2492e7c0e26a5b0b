"""Positions, cash, fees and PnL, in exact ``Decimal``.

Accounting model (documented in docs/backtest-semantics.md):

- cash moves by the full notional of every fill and by its fee (cash account; shorts credit
  cash), so ``equity = cash + Σ qty × mark × multiplier`` at all times;
- positions use the average-price method: adding to a position moves the average, reducing
  realizes ``closed qty × (exit − average) × direction × multiplier`` (gross of fees);
- fees are tracked on their own, so ``equity = initial cash + realized + unrealized − fees``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from algotrade.core.events import OrderFilled
from algotrade.core.instruments import InstrumentRegistry
from algotrade.core.money import ZERO, to_decimal
from algotrade.core.trades import ClosedTrade, TradeLedger

ONE = Decimal(1)


@dataclass(slots=True)
class Position:
    """Net position in one symbol. ``qty`` > 0 long, < 0 short."""

    symbol: str
    multiplier: Decimal = ONE
    qty: Decimal = ZERO
    avg_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO

    def apply(self, signed_qty: Decimal, price: Decimal, fee: Decimal) -> Decimal:
        """Apply one execution; returns the gross PnL it realized."""
        self.fees += fee
        old = self.qty
        new = old + signed_qty
        realized = ZERO
        if old == 0 or (old > 0) == (signed_qty > 0):
            # Opening or adding: weighted average of the old and new prices.
            self.avg_price = (abs(old) * self.avg_price + abs(signed_qty) * price) / abs(new)
        else:
            closed = min(abs(signed_qty), abs(old))
            direction = ONE if old > 0 else -ONE
            realized = closed * (price - self.avg_price) * direction * self.multiplier
            if new == 0:
                self.avg_price = ZERO
            elif (new > 0) != (old > 0):
                self.avg_price = price  # flipped: the remainder opened at this price
        self.qty = new
        self.realized_pnl += realized
        return realized

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        return self.qty * (mark - self.avg_price) * self.multiplier


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

    def restore(
        self,
        *,
        cash: Decimal,
        realized_pnl: Decimal,
        fees_paid: Decimal,
        positions: Iterable[Position],
    ) -> None:
        """Load persisted state (daemon restart). Round trips in progress are not restored:
        the trade ledger is for reports, the money is in cash and positions."""
        self.cash = cash
        self.realized_pnl = realized_pnl
        self.fees_paid = fees_paid
        self.positions = {p.symbol: p for p in positions}
        for position in self.positions.values():
            position.multiplier = self._instruments.get(position.symbol).multiplier

    def apply_fill(self, fill: OrderFilled) -> ClosedTrade | None:
        """Book a fill; returns the round trip it closed, if any."""
        for name in ("qty", "price", "fee"):
            if not isinstance(getattr(fill, name), Decimal):
                raise TypeError(f"fill {fill.trade_id}: {name} must be Decimal")
        pos = self.position(fill.symbol)
        signed = fill.signed_qty
        realized = pos.apply(signed, fill.price, fill.fee)
        self.cash -= signed * fill.price * pos.multiplier + fill.fee
        self.fees_paid += fill.fee
        self.realized_pnl += realized
        self.marks.setdefault(fill.symbol, fill.price)
        return self.ledger.record(fill, pos.qty - signed, pos.multiplier)

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
        return sum((p.unrealized_pnl(self.mark(p.symbol)) for p in positions if p.qty), ZERO)

    def market_value(self) -> Decimal:
        return sum(
            (p.qty * self.mark(p.symbol) * p.multiplier for p in self.positions.values() if p.qty),
            ZERO,
        )

    def gross_exposure(self) -> Decimal:
        return sum(
            (
                abs(p.qty) * self.mark(p.symbol) * p.multiplier
                for p in self.positions.values()
                if p.qty
            ),
            ZERO,
        )

    def equity(self) -> Decimal:
        return self.cash + self.market_value()

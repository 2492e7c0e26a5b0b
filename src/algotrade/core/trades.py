"""Round-trip trades: a position opened from flat and closed back to flat.

A fill that flips a position closes the current trade and opens a new one; its fee and its
notional are split between the two in proportion to quantity (each part booked on the money
quantum, the second part the remainder, so the parts add up exactly).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from algotrade.core.errors import HaltError
from algotrade.core.events import OrderFilled
from algotrade.core.money import EXACT, ZERO, book_money, book_product, book_share, derived_price


def split_notional(
    total: Decimal, closing_qty: Decimal, fill_qty: Decimal
) -> tuple[Decimal, Decimal]:
    """Split a fill's booked ``total`` into the part of ``closing_qty`` (booked) and the
    remainder; quantities may be signed, only their ratio matters."""
    closing = book_share(total, closing_qty, fill_qty)
    return closing, total - closing


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    symbol: str
    direction: str  # "long" | "short"
    qty: Decimal  # largest absolute position held during the trade
    entry_ts: int
    exit_ts: int
    entry_price: Decimal  # average entry
    exit_price: Decimal  # average exit
    gross_pnl: Decimal
    fees: Decimal

    @property
    def net_pnl(self) -> Decimal:
        return self.gross_pnl - self.fees


@dataclass(slots=True)
class _OpenTrade:
    direction: int
    entry_ts: int
    entry_qty: Decimal = ZERO
    entry_cost: Decimal = ZERO  # booked notional (× multiplier) of the entries
    exit_qty: Decimal = ZERO
    exit_value: Decimal = ZERO  # booked notional (× multiplier) of the exits
    max_qty: Decimal = ZERO
    fees: Decimal = ZERO


class TradeLedger:
    def __init__(self, *, keep_closed: bool = True) -> None:
        self.open: dict[str, _OpenTrade] = {}
        self.closed: list[ClosedTrade] = []
        self.closed_count = 0
        self.keep_closed = keep_closed  # a bot running for months must not grow forever

    def record(
        self, fill: OrderFilled, qty_before: Decimal, multiplier: Decimal
    ) -> ClosedTrade | None:
        """Book ``fill`` given the position before it; returns the round trip it closed."""
        value = book_product(fill.qty, fill.price, multiplier)
        return self.record_booked(fill, qty_before, multiplier, value, book_money(fill.fee))

    def record_booked(
        self,
        fill: OrderFilled,
        qty_before: Decimal,
        multiplier: Decimal,
        value: Decimal,
        fee: Decimal,
    ) -> ClosedTrade | None:
        """``record`` with the fill's booked value (``qty × price × multiplier``, unsigned)
        and booked fee already computed."""
        signed = fill.signed_qty
        remaining_qty = fill.qty
        remaining_fee = fee
        remaining_value = value
        finished: ClosedTrade | None = None
        trade = self.open.get(fill.symbol)
        if qty_before and trade is None:
            raise HaltError(
                f"trade ledger of {fill.symbol}: a position of {qty_before} has no open trade "
                "(rebuild the portfolio from its fills)"
            )
        if trade is not None and qty_before and (signed > 0) != (qty_before > 0):
            closing = min(fill.qty, abs(qty_before))
            value, rest_value = split_notional(remaining_value, closing, fill.qty)
            fee_part, rest_fee = split_notional(remaining_fee, closing, fill.qty)
            trade.exit_qty += closing
            trade.exit_value += value
            trade.fees += fee_part
            remaining_qty -= closing
            remaining_value, remaining_fee = rest_value, rest_fee
            if closing == abs(qty_before):
                finished = self._close(fill.symbol, trade, fill.ts, multiplier)
                trade = None
        if remaining_qty > 0:
            if trade is None:
                trade = self.open[fill.symbol] = _OpenTrade(
                    direction=1 if signed > 0 else -1, entry_ts=fill.ts
                )
            trade.entry_qty += remaining_qty
            trade.entry_cost += remaining_value
            trade.fees += remaining_fee
            held = trade.entry_qty - trade.exit_qty
            trade.max_qty = max(trade.max_qty, held)
        return finished

    def _close(self, symbol: str, trade: _OpenTrade, ts: int, multiplier: Decimal) -> ClosedTrade:
        del self.open[symbol]
        entry = derived_price(
            EXACT.divide(trade.entry_cost, EXACT.multiply(trade.entry_qty, multiplier))
        )
        exit_ = derived_price(
            EXACT.divide(trade.exit_value, EXACT.multiply(trade.exit_qty, multiplier))
        )
        gross = (trade.exit_value - trade.entry_cost) * trade.direction
        closed = ClosedTrade(
            symbol=symbol,
            direction="long" if trade.direction > 0 else "short",
            qty=trade.max_qty,
            entry_ts=trade.entry_ts,
            exit_ts=ts,
            entry_price=entry,
            exit_price=exit_,
            gross_pnl=gross,
            fees=trade.fees,
        )
        self.closed_count += 1
        if self.keep_closed:
            self.closed.append(closed)
        return closed

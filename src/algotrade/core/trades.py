"""Round-trip trades: a position opened from flat and closed back to flat.

A fill that flips a position closes the current trade and opens a new one; its fee is split
between the two in proportion to quantity.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from algotrade.core.events import OrderFilled
from algotrade.core.money import ZERO


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
    entry_cost: Decimal = ZERO
    exit_qty: Decimal = ZERO
    exit_value: Decimal = ZERO
    max_qty: Decimal = ZERO
    fees: Decimal = ZERO


class TradeLedger:
    def __init__(self, *, keep_closed: bool = True) -> None:
        self.open: dict[str, _OpenTrade] = {}
        self.closed: list[ClosedTrade] = []
        self.closed_count = 0
        self._keep_closed = keep_closed  # a bot running for months must not grow forever

    def record(
        self, fill: OrderFilled, qty_before: Decimal, multiplier: Decimal
    ) -> ClosedTrade | None:
        signed = fill.signed_qty
        remaining_qty = fill.qty
        remaining_fee = fill.fee
        finished: ClosedTrade | None = None
        trade = self.open.get(fill.symbol)
        if trade is not None and (signed > 0) != (trade.direction > 0):
            closing = min(fill.qty, abs(qty_before))
            fee_part = fill.fee if closing == fill.qty else fill.fee * closing / fill.qty
            trade.exit_qty += closing
            trade.exit_value += closing * fill.price
            trade.fees += fee_part
            remaining_qty -= closing
            remaining_fee -= fee_part
            if closing == abs(qty_before):
                finished = self._close(fill.symbol, trade, fill.ts, multiplier)
                trade = None
        if remaining_qty > 0:
            if trade is None:
                trade = self.open[fill.symbol] = _OpenTrade(
                    direction=1 if signed > 0 else -1, entry_ts=fill.ts
                )
            trade.entry_qty += remaining_qty
            trade.entry_cost += remaining_qty * fill.price
            trade.fees += remaining_fee
            held = trade.entry_qty - trade.exit_qty
            trade.max_qty = max(trade.max_qty, held)
        return finished

    def _close(self, symbol: str, trade: _OpenTrade, ts: int, multiplier: Decimal) -> ClosedTrade:
        del self.open[symbol]
        entry = trade.entry_cost / trade.entry_qty
        exit_ = trade.exit_value / trade.exit_qty
        gross = (trade.exit_value - trade.entry_cost) * trade.direction * multiplier
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
        if self._keep_closed:
            self.closed.append(closed)
        return closed

"""A read-only account view for risk-policy tests that counts how often it is valued."""

from __future__ import annotations

from decimal import Decimal

from algotrade.core.instruments import Instrument


class CountingAccount:
    def __init__(self, position: str, mark: str, equity: str, min_notional: str = "0") -> None:
        self.position = Decimal(position)
        self.mark = Decimal(mark)
        self._equity = Decimal(equity)
        self._instrument = Instrument("X", min_notional=Decimal(min_notional))
        self.equity_calls = 0
        self.mark_calls = 0

    def position_qty(self, symbol: str) -> Decimal:
        return self.position

    def pending_qty(self, symbol: str) -> Decimal:
        return Decimal(0)

    def mark_price(self, symbol: str) -> Decimal | None:
        self.mark_calls += 1
        return self.mark

    def equity(self) -> Decimal:
        self.equity_calls += 1
        return self._equity

    def instrument(self, symbol: str) -> Instrument:
        return self._instrument

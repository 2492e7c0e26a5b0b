"""``BasicRiskPolicy.check`` values the account only when a rule needs it: the leverage cap
only for an order that adds exposure, the mark only when a rule uses a reference price."""

from __future__ import annotations

from decimal import Decimal

import pytest

from algotrade.core.errors import OrderRejectedError
from algotrade.core.events import OrderSide
from algotrade.core.instruments import Instrument
from algotrade.core.orders import OrderRequest
from algotrade.core.risk_policy import BasicRiskPolicy


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


def order(side: OrderSide, qty: str) -> OrderRequest:
    return OrderRequest("X", side, Decimal(qty))


def test_an_order_adding_exposure_beyond_the_cap_is_rejected() -> None:
    account = CountingAccount(position="0", mark="100", equity="1000")
    with pytest.raises(OrderRejectedError, match=r"would exceed 2x equity \(2000\)"):
        BasicRiskPolicy(max_leverage=Decimal(2)).check(order(OrderSide.BUY, "21"), account)
    BasicRiskPolicy(max_leverage=Decimal(2)).check(order(OrderSide.BUY, "20"), account)
    assert account.equity_calls == 2


def test_a_reducing_order_passes_without_valuing_the_account() -> None:
    # Long 50 at 100 on 1000 equity is far over 2x; reducing it must still go through.
    account = CountingAccount(position="50", mark="100", equity="1000")
    BasicRiskPolicy(max_leverage=Decimal(2)).check(order(OrderSide.SELL, "30"), account)
    assert account.equity_calls == 0


def test_the_mark_is_read_only_when_a_rule_needs_a_reference_price() -> None:
    account = CountingAccount(position="0", mark="100", equity="1000")
    BasicRiskPolicy().check(order(OrderSide.BUY, "1"), account)
    assert account.mark_calls == 0
    guarded = CountingAccount(position="0", mark="100", equity="1000", min_notional="150")
    with pytest.raises(OrderRejectedError, match="below minimum 150"):
        BasicRiskPolicy().check(order(OrderSide.BUY, "1"), guarded)
    assert guarded.mark_calls == 1

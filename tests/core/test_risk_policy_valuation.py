"""``BasicRiskPolicy.check`` values the account only when a rule needs it: the leverage cap
only for an order that adds exposure, the mark only when a rule uses a reference price."""

from __future__ import annotations

from decimal import Decimal

import pytest

from algotrade.core.errors import OrderRejectedError
from algotrade.core.events import OrderSide
from algotrade.core.orders import OrderRequest
from algotrade.core.risk_policy import BasicRiskPolicy
from testkit.accounts import CountingAccount


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

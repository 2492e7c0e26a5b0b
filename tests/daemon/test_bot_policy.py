"""``BotRiskPolicy``: the basic checks, then the account guard, then the bot's money limits
(risk per trade, max position), all on one valuation of the account per order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from algotrade.core.errors import OrderRejectedError
from algotrade.core.events import OrderSide
from algotrade.core.orders import OrderRequest, OrderType
from algotrade.daemon.bot_policy import BotRiskPolicy
from testkit.accounts import CountingAccount


def policy(
    *,
    leverage: str = "2",
    max_position_pct: str = "100",
    risk_per_trade_pct: str = "100",
    guard: tuple[bool, str] = (True, ""),
) -> BotRiskPolicy:
    return BotRiskPolicy(
        leverage=Decimal(leverage),
        max_position_pct=Decimal(max_position_pct),
        risk_per_trade_pct=Decimal(risk_per_trade_pct),
        account_guard=lambda request: guard,
    )


def buy(qty: str, limit: str | None = None) -> OrderRequest:
    if limit is None:
        return OrderRequest("X", OrderSide.BUY, Decimal(qty))
    return OrderRequest("X", OrderSide.BUY, Decimal(qty), OrderType.LIMIT, Decimal(limit))


def test_an_order_within_every_limit_values_the_account_once() -> None:
    account = CountingAccount(position="0", mark="100", equity="1000")
    policy().check(buy("20"), account)  # 2,000 of value on 1,000 × 2: exactly at every cap
    assert account.equity_calls == 1


def test_leverage_is_checked_before_the_bots_own_limits() -> None:
    account = CountingAccount(position="0", mark="100", equity="1000")
    with pytest.raises(OrderRejectedError, match=r"would exceed 2x equity \(2000\)"):
        policy(risk_per_trade_pct="1").check(buy("21"), account)


def test_risk_per_trade_caps_an_order_adding_exposure() -> None:
    account = CountingAccount(position="0", mark="100", equity="1000")
    with pytest.raises(OrderRejectedError, match=r"order value 600.00 exceeds risk_per_trade_pct"):
        policy(risk_per_trade_pct="25").check(buy("6"), account)  # cap 25% of 2,000 = 500
    policy(risk_per_trade_pct="25").check(buy("5"), account)
    assert account.equity_calls == 2


def test_max_position_caps_the_position_after_the_order() -> None:
    account = CountingAccount(position="8", mark="100", equity="1000")
    with pytest.raises(
        OrderRejectedError, match=r"position value 1100.00 would exceed max_position_pct 50%"
    ):
        policy(max_position_pct="50").check(buy("3"), account)
    policy(max_position_pct="50").check(buy("2"), account)


def test_the_order_price_values_a_limit_order_not_the_mark() -> None:
    account = CountingAccount(position="0", mark="100", equity="1000")
    policy(risk_per_trade_pct="25").check(buy("10", limit="50"), account)  # 500 at its limit
    assert account.mark_calls == 0
    with pytest.raises(OrderRejectedError, match=r"order value 1000\.00"):
        policy(risk_per_trade_pct="25").check(buy("10", limit="100"), account)


def test_reducing_passes_every_money_limit_without_a_valuation() -> None:
    account = CountingAccount(position="50", mark="100", equity="1000")  # far over every cap
    sell = OrderRequest("X", OrderSide.SELL, Decimal(30))
    policy(max_position_pct="1", risk_per_trade_pct="1").check(sell, account)
    assert account.equity_calls == 0


def test_the_account_guard_refuses_before_the_money_limits() -> None:
    account = CountingAccount(position="0", mark="100", equity="1000")
    refusing = policy(risk_per_trade_pct="1", guard=(False, "risk rule daily_loss: locked"))
    with pytest.raises(OrderRejectedError, match=r"^risk rule daily_loss: locked$"):
        refusing.check(buy("6"), account)


def test_the_account_guard_is_asked_for_a_reducing_order_too() -> None:
    account = CountingAccount(position="50", mark="100", equity="1000")
    sell = OrderRequest("X", OrderSide.SELL, Decimal(30))
    with pytest.raises(OrderRejectedError, match="locked"):
        policy(guard=(False, "locked")).check(sell, account)

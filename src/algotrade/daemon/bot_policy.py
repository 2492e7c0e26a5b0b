"""A bot's risk policy: the engine's pre-trade checks plus the bot config's money limits."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from algotrade.core.errors import OrderRejectedError
from algotrade.core.orders import OrderRequest
from algotrade.core.ports import AccountView
from algotrade.core.risk_policy import BasicRiskPolicy

HUNDRED = Decimal(100)


class BotRiskPolicy(BasicRiskPolicy):
    """``leverage`` caps a symbol's position value at equity × leverage (checked per order on the
    projected position, via ``BasicRiskPolicy.max_leverage``); ``max_position_pct`` caps
    one symbol's position value at that % of equity × leverage; ``risk_per_trade_pct`` caps
    the value of any single order that adds exposure at that % of equity × leverage. The
    ``account_guard`` is the account risk engine's verdict, asked last, for every order."""

    def __init__(
        self,
        *,
        leverage: Decimal,
        max_position_pct: Decimal,
        risk_per_trade_pct: Decimal,
        account_guard: Callable[[OrderRequest], tuple[bool, str]] | None = None,
    ) -> None:
        super().__init__(max_leverage=leverage)
        self.account_guard = account_guard
        self.leverage = leverage
        self.max_position_pct = max_position_pct
        self.risk_per_trade_pct = risk_per_trade_pct

    def check(self, request: OrderRequest, account: AccountView) -> None:
        # The basic checks value the account for an order adding exposure at a known price
        # (their leverage is this policy's); their budget is this one's, valued once.
        budget = self.checked_budget(request, account)
        if self.account_guard is not None:
            allowed, reason = self.account_guard(request)
            if not allowed:
                raise OrderRejectedError(reason)
        if budget is None:
            return  # reducing (always allowed), or no price to value the order at
        price = request.limit_price or request.stop_price or account.mark_price(request.symbol)
        assert price is not None  # the basic checks valued the order at this price
        instrument = account.instrument(request.symbol)
        after = account.position_qty(request.symbol) + request.qty * request.side.sign
        order_value = request.qty * price * instrument.multiplier
        if order_value > budget * self.risk_per_trade_pct / HUNDRED:
            raise OrderRejectedError(
                f"order value {order_value:.2f} exceeds risk_per_trade_pct "
                f"{self.risk_per_trade_pct}% of equity × leverage ({budget:.2f})"
            )
        position_value = abs(after) * price * instrument.multiplier
        if position_value > budget * self.max_position_pct / HUNDRED:
            raise OrderRejectedError(
                f"position value {position_value:.2f} would exceed max_position_pct "
                f"{self.max_position_pct}% of equity × leverage ({budget:.2f})"
            )

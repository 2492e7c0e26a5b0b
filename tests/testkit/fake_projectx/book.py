"""Records of the fake ProjectX: accounts, orders, positions and trades, in their wire shapes.

Shapes follow gateway.docs.projectx.com: Account/search (id, name, balance, canTrade,
isVisible), Order/search (id … customTag), Position/searchOpen (id, accountId, contractId,
creationTimestamp, type, size, averagePrice) and Trade/search (… profitAndLoss, fees, side,
size, voided, orderId). The realtime user hub sends the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .wire import OrderSide, OrderStatus, OrderType, PositionType, iso, num

__all__ = ["Account", "Order", "Position", "Trade"]


@dataclass
class Account:
    id: int
    name: str
    user: str
    balance: Decimal
    can_trade: bool = True
    is_visible: bool = True
    active: bool = True

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "balance": num(self.balance),
            "canTrade": self.can_trade,
            "isVisible": self.is_visible,
        }


@dataclass
class Order:
    id: int
    account_id: int
    contract_id: str
    symbol_id: str
    type: OrderType
    side: OrderSide
    size: int
    limit_price: Decimal | None
    stop_price: Decimal | None
    custom_tag: str | None
    created: float
    updated: float | None = None
    status: OrderStatus = OrderStatus.OPEN
    fill_volume: int = 0
    filled_price: Decimal | None = None
    #: "api" (Order/place) or "web" (placed by the human trader on the broker's platform)
    origin: str = "api"
    #: set by ``set_order_status``: whether searchOpen lists the order, whatever its status
    listed_open: bool | None = None

    @property
    def is_open(self) -> bool:
        if self.listed_open is not None:
            return self.listed_open
        return self.status == OrderStatus.OPEN

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "accountId": self.account_id,
            "contractId": self.contract_id,
            "symbolId": self.symbol_id,
            "creationTimestamp": iso(self.created),
            "updateTimestamp": None if self.updated is None else iso(self.updated),
            "status": int(self.status),
            "type": int(self.type),
            "side": int(self.side),
            "size": self.size,
            "limitPrice": num(self.limit_price),
            "stopPrice": num(self.stop_price),
            "fillVolume": self.fill_volume,
            "filledPrice": num(self.filled_price),
            "customTag": self.custom_tag,
        }


@dataclass
class Position:
    id: int
    account_id: int
    contract_id: str
    created: float
    net: int = 0  # signed: > 0 long, < 0 short
    average_price: Decimal = Decimal(0)

    def wire(self) -> dict[str, Any]:
        if self.net > 0:
            kind = PositionType.LONG
        elif self.net < 0:
            kind = PositionType.SHORT
        else:
            kind = PositionType.UNDEFINED
        return {
            "id": self.id,
            "accountId": self.account_id,
            "contractId": self.contract_id,
            "creationTimestamp": iso(self.created),
            "type": int(kind),
            "size": abs(self.net),
            "averagePrice": num(self.average_price),
        }


@dataclass
class Trade:
    id: int
    account_id: int
    contract_id: str
    created: float
    price: Decimal
    profit_and_loss: Decimal | None  # None on a half turn (a fill that only opens)
    fees: Decimal
    side: OrderSide
    size: int
    order_id: int
    voided: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "accountId": self.account_id,
            "contractId": self.contract_id,
            "creationTimestamp": iso(self.created),
            "price": num(self.price),
            "profitAndLoss": num(self.profit_and_loss),
            "fees": num(self.fees),
            "side": int(self.side),
            "size": self.size,
            "voided": self.voided,
            "orderId": self.order_id,
        }

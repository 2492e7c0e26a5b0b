"""Orders, executions, positions and wallets of the fake Bybit, with their v5 wire shapes.

Shapes follow docs/v5/order/open-order (REST order), docs/v5/websocket/private/order,
docs/v5/order/execution and docs/v5/websocket/private/execution, docs/v5/position/position
(REST ``avgPrice``) and docs/v5/websocket/private/position (WS ``entryPrice``),
docs/v5/account/wallet-balance and docs/v5/websocket/private/wallet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .wire import fmt

__all__ = ["OPEN_STATUSES", "Account", "Execution", "Order", "Position"]

OPEN_STATUSES = frozenset({"New", "PartiallyFilled", "Untriggered"})
_ZERO = Decimal(0)


@dataclass
class Order:
    order_id: str
    order_link_id: str
    uid: str
    symbol: str
    side: str  # "Buy" | "Sell"
    order_type: str  # "Market" | "Limit"
    time_in_force: str
    price: Decimal  # the limit price; for a Market order the slippage-protection price
    qty: Decimal
    reduce_only: bool
    close_on_trigger: bool
    created_ms: int
    updated_ms: int
    last_price_on_created: Decimal
    status: str = "New"
    cum_qty: Decimal = _ZERO
    cum_value: Decimal = _ZERO
    cum_fee: Decimal = _ZERO
    closed_pnl: Decimal = _ZERO
    cancel_type: str = "UNKNOWN"
    reject_reason: str = "EC_NoError"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def leaves_qty(self) -> Decimal:
        return self.qty - self.cum_qty if self.is_open else _ZERO

    @property
    def is_buy(self) -> bool:
        return self.side == "Buy"

    def avg_price(self) -> str:
        return fmt(self.cum_value / self.cum_qty) if self.cum_qty else ""

    def _common(self) -> dict[str, Any]:
        leaves = self.leaves_qty
        return {
            "orderId": self.order_id,
            "orderLinkId": self.order_link_id,
            "blockTradeId": "",
            "symbol": self.symbol,
            "price": fmt(self.price),
            "qty": fmt(self.qty),
            "side": self.side,
            "isLeverage": "",
            "positionIdx": 0,
            "orderStatus": self.status,
            "createType": "CreateByUser",
            "cancelType": self.cancel_type,
            "rejectReason": self.reject_reason,
            "avgPrice": self.avg_price(),
            "leavesQty": fmt(leaves),
            "leavesValue": fmt(leaves * self.price),
            "cumExecQty": fmt(self.cum_qty),
            "cumExecValue": fmt(self.cum_value),
            "cumExecFee": fmt(self.cum_fee),
            "timeInForce": self.time_in_force,
            "orderType": self.order_type,
            "stopOrderType": "",
            "orderIv": "",
            "marketUnit": "",
            "triggerPrice": "",
            "takeProfit": "",
            "stopLoss": "",
            "tpslMode": "",
            "ocoTriggerBy": "",
            "tpLimitPrice": "",
            "slLimitPrice": "",
            "tpTriggerBy": "",
            "slTriggerBy": "",
            "triggerDirection": 0,
            "triggerBy": "",
            "lastPriceOnCreated": fmt(self.last_price_on_created),
            "basePrice": "",
            "reduceOnly": self.reduce_only,
            "closeOnTrigger": self.close_on_trigger,
            "placeType": "",
            "smpType": "None",
            "smpGroup": 0,
            "smpOrderId": "",
            "createdTime": str(self.created_ms),
            "updatedTime": str(self.updated_ms),
            "cumFeeDetail": {"USDT": fmt(self.cum_fee)} if self.cum_fee else {},
        }

    def rest(self) -> dict[str, Any]:
        """An entry of /v5/order/realtime and /v5/order/history ``result.list``."""
        return {**self._common(), "parentOrderLinkId": ""}

    def ws(self) -> dict[str, Any]:
        """An entry of the private ``order`` topic's ``data``."""
        return {
            **self._common(),
            "category": "linear",
            "closedPnl": fmt(self.closed_pnl),
            "feeCurrency": "",
            "rpiTakerAccess": False,
            "rpiMatchedQty": "0",
        }


@dataclass(frozen=True)
class Execution:
    exec_id: str
    symbol: str
    side: str
    order_id: str
    order_link_id: str
    order_type: str
    order_price: Decimal
    order_qty: Decimal
    leaves_qty: Decimal
    exec_price: Decimal
    exec_qty: Decimal
    exec_fee: Decimal
    fee_rate: Decimal
    is_maker: bool
    exec_time_ms: int
    closed_size: Decimal
    exec_pnl: Decimal
    mark_price: Decimal
    seq: int

    def _common(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderLinkId": self.order_link_id,
            "side": self.side,
            "orderPrice": fmt(self.order_price),
            "orderQty": fmt(self.order_qty),
            "leavesQty": fmt(self.leaves_qty),
            "createType": "CreateByUser",
            "orderType": self.order_type,
            "stopOrderType": "UNKNOWN",
            "execFee": fmt(self.exec_fee),
            "execId": self.exec_id,
            "execPrice": fmt(self.exec_price),
            "execQty": fmt(self.exec_qty),
            "execType": "Trade",
            "execValue": fmt(self.exec_price * self.exec_qty),
            "execTime": str(self.exec_time_ms),
            "feeCurrency": "USDT",
            "isMaker": self.is_maker,
            "feeRate": fmt(self.fee_rate),
            "tradeIv": "",
            "markIv": "",
            "markPrice": fmt(self.mark_price),
            "indexPrice": "",
            "underlyingPrice": "",
            "blockTradeId": "",
            "closedSize": fmt(self.closed_size),
            "seq": self.seq,
            "extraFees": "",
        }

    def rest(self) -> dict[str, Any]:
        """An entry of /v5/execution/list ``result.list``."""
        return {**self._common(), "execFeeV2": ""}

    def ws(self) -> dict[str, Any]:
        """An entry of the private ``execution`` topic's ``data``."""
        return {
            **self._common(),
            "category": "linear",
            "isLeverage": "0",
            "marketUnit": "",
            "execPnl": fmt(self.exec_pnl),
            "extraFees": [],
        }


@dataclass
class Position:
    """A one-way-mode position: ``size`` is signed (negative = short)."""

    symbol: str
    size: Decimal = _ZERO
    avg_price: Decimal = _ZERO
    cur_realised: Decimal = _ZERO
    cum_realised: Decimal = _ZERO
    created_ms: int = 0
    updated_ms: int = 0
    seq: int = -1
    leverage: Decimal = Decimal(10)

    def side(self) -> str:
        return "Buy" if self.size > 0 else "Sell" if self.size < 0 else ""

    def _common(self, mark: Decimal) -> dict[str, Any]:
        size = abs(self.size)
        value = size * self.avg_price
        upl = (mark - self.avg_price) * self.size if self.size else _ZERO
        im = value / self.leverage
        return {
            "positionIdx": 0,
            "riskId": 1,
            "riskLimitValue": "2000000",
            "symbol": self.symbol,
            "side": self.side(),
            "size": fmt(size),
            "positionValue": fmt(value),
            "tradeMode": 0,
            "positionStatus": "Normal",
            "autoAddMargin": 0,
            "adlRankIndicator": 2 if size else 0,
            "leverage": fmt(self.leverage),
            "breakEvenPrice": fmt(self.avg_price),
            "positionBalance": fmt(im),
            "markPrice": fmt(mark),
            "liqPrice": "",
            "bustPrice": "",
            "positionIM": fmt(im),
            "positionIMByMp": fmt(size * mark / self.leverage),
            "positionMM": "0",
            "positionMMByMp": "0",
            "tpslMode": "Full",
            "takeProfit": "0",
            "stopLoss": "0",
            "trailingStop": "0",
            "sessionAvgPrice": "",
            "unrealisedPnl": fmt(upl),
            "curRealisedPnl": fmt(self.cur_realised),
            "cumRealisedPnl": fmt(self.cum_realised),
            "seq": self.seq,
            "isReduceOnly": False,
            "mmrSysUpdatedTime": "",
            "leverageSysUpdatedTime": "",
            "createdTime": str(self.created_ms),
            "updatedTime": str(self.updated_ms),
        }

    def rest(self, mark: Decimal) -> dict[str, Any]:
        """An entry of /v5/position/list ``result.list``."""
        return {**self._common(mark), "avgPrice": fmt(self.avg_price)}

    def ws(self, mark: Decimal) -> dict[str, Any]:
        """An entry of the private ``position`` topic's ``data`` (``entryPrice``, not avgPrice)."""
        return {**self._common(mark), "entryPrice": fmt(self.avg_price), "category": "linear"}


@dataclass
class Account:
    uid: str
    api_key: str
    secret: str
    balance: Decimal  # USDT wallet balance
    positions: dict[str, Position] = field(default_factory=dict)
    link_ids: set[str] = field(default_factory=set)
    cum_realised: Decimal = _ZERO

    def position(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position(symbol)
        return pos

    def wallet(self, marks: dict[str, Decimal]) -> dict[str, Any]:
        """The UNIFIED account object of wallet-balance ``result.list`` and the ``wallet`` topic.

        One coin (USDT, valued at 1 USD); margin is the positions' initial margin at entry."""
        upl = _ZERO
        im = _ZERO
        for pos in self.positions.values():
            if pos.size:
                mark = marks.get(pos.symbol, pos.avg_price)
                upl += (mark - pos.avg_price) * pos.size
                im += abs(pos.size) * pos.avg_price / pos.leverage
        equity = self.balance + upl
        available = equity - im
        return {
            "accountType": "UNIFIED",
            "accountIMRate": fmt((im / equity).quantize(Decimal("0.0001"))) if equity else "0",
            "accountMMRate": "0",
            "accountIMRateByMp": "0",
            "accountMMRateByMp": "0",
            "totalInitialMarginByMp": fmt(im),
            "totalMaintenanceMarginByMp": "0",
            "totalEquity": fmt(equity),
            "totalWalletBalance": fmt(self.balance),
            "totalMarginBalance": fmt(equity),
            "totalAvailableBalance": fmt(available),
            "totalPerpUPL": fmt(upl),
            "totalInitialMargin": fmt(im),
            "totalMaintenanceMargin": "0",
            "accountLTV": "0",
            "coin": [
                {
                    "coin": "USDT",
                    "equity": fmt(equity),
                    "usdValue": fmt(equity),
                    "walletBalance": fmt(self.balance),
                    "locked": "0",
                    "spotHedgingQty": "0",
                    "borrowAmount": "0",
                    "accruedInterest": "0",
                    "totalOrderIM": "0",
                    "totalPositionIM": fmt(im),
                    "totalPositionMM": "0",
                    "unrealisedPnl": fmt(upl),
                    "cumRealisedPnl": fmt(self.cum_realised),
                    "bonus": "0",
                    "marginCollateral": True,
                    "collateralSwitch": True,
                    "spotBorrow": "0",
                    "free": "",
                    "availableToWithdraw": "",
                    "availableToBorrow": "",
                }
            ],
        }

"""Orders, positions and accounts of the fake Hyperliquid, and how each renders on the wire."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .wire import AssetSpec, fmt

__all__ = ["OPEN_STATUSES", "Account", "Order", "Position"]

#: Statuses of an order that is still live on the book (untriggered or triggered).
OPEN_STATUSES = frozenset({"open", "triggered"})


@dataclass(slots=True)
class Order:
    oid: int
    user: str
    asset_index: int
    asset: AssetSpec
    is_buy: bool
    limit_px: Decimal
    orig_sz: Decimal
    sz: Decimal  # remaining
    reduce_only: bool
    tif: str | None  # None for a trigger order
    cloid: str | None
    timestamp: int
    trigger_px: Decimal | None = None
    is_market: bool = False
    tpsl: str | None = None
    triggered: bool = False
    status: str = "open"
    status_ts: int = 0

    @property
    def coin(self) -> str:
        return self.asset.name

    @property
    def side(self) -> str:
        return "B" if self.is_buy else "A"

    @property
    def is_trigger(self) -> bool:
        return self.trigger_px is not None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def waiting_for_trigger(self) -> bool:
        return self.is_trigger and not self.triggered

    def order_type(self) -> str:
        if not self.is_trigger:
            return "Limit"
        kind = "Stop" if self.tpsl == "sl" else "Take Profit"
        return f"{kind} {'Market' if self.is_market else 'Limit'}"

    def trigger_condition(self) -> str:
        if not self.is_trigger:
            return "N/A"
        above = (self.tpsl == "sl") == self.is_buy  # sl buy / tp sell trigger on a rise
        return f"Price {'above' if above else 'below'} {fmt(self.trigger_px or Decimal(0))}"

    def wire(self) -> dict[str, Any]:
        """The ``openOrders`` / ``orderUpdates`` shape (``cloid`` only when the order has one)."""
        out: dict[str, Any] = {
            "coin": self.coin,
            "side": self.side,
            "limitPx": fmt(self.limit_px),
            "sz": fmt(self.sz),
            "oid": self.oid,
            "timestamp": self.timestamp,
            "origSz": fmt(self.orig_sz),
        }
        if self.cloid is not None:
            out["cloid"] = self.cloid
        return out

    def frontend(self) -> dict[str, Any]:
        """The ``frontendOpenOrders`` / ``orderStatus`` shape (``cloid`` always, maybe null)."""
        out = self.wire()
        out.update(
            {
                "triggerCondition": self.trigger_condition(),
                "isTrigger": self.is_trigger,
                "triggerPx": fmt(self.trigger_px or Decimal(0)),
                "children": [],
                "isPositionTpsl": False,
                "reduceOnly": self.reduce_only,
                "orderType": self.order_type(),
                "tif": self.tif,
                "cloid": self.cloid,
            }
        )
        return out

    def update(self) -> dict[str, Any]:
        """One element of the ``orderUpdates`` channel."""
        return {"order": self.wire(), "status": self.status, "statusTimestamp": self.status_ts}


@dataclass(slots=True)
class Position:
    szi: Decimal = Decimal(0)
    entry_px: Decimal | None = None


@dataclass(slots=True)
class Account:
    address: str
    balance: Decimal
    positions: dict[str, Position] = field(default_factory=dict)
    leverage: dict[str, tuple[str, int]] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)

    def position(self, coin: str) -> Position:
        return self.positions.setdefault(coin, Position())

    def leverage_of(self, asset: AssetSpec) -> tuple[str, int]:
        return self.leverage.get(asset.name, ("cross", min(20, asset.max_leverage)))

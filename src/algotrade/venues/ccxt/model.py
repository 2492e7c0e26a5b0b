"""Exchange-neutral shapes of what a ccxt venue reports, and our client order id mapping.

A driver (``bybit/parse.py``) turns the exchange's payloads into these; everything above the
driver (account, execution, reconciliation, candles) works on them only. Money is exact.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal

from algotrade.core.events import Bar, Liquidity, OrderFilled, OrderSide

__all__ = [
    "Balance",
    "Candle",
    "InstrumentInfo",
    "PlaceRequest",
    "VenueFill",
    "VenueOrder",
    "VenuePosition",
    "link_id_for",
]

NS_PER_MS = 1_000_000
LINK_ID_MAX = 36  # Bybit orderLinkId: at most 36 of [A-Za-z0-9_-]
_LINK_ID = re.compile(r"^[A-Za-z0-9_-]+$")


def link_id_for(client_order_id: str, prefix: str = "") -> str:
    """The venue's client order id (Bybit ``orderLinkId``) of one of ours: the id itself
    (after ``prefix``) when it fits the venue's rule — at most 36 letters, digits, ``-`` or
    ``_`` — else ``prefix`` + ``h`` + hex digits of its SHA-256 (deterministic, so it is
    found again after a restart). Our ids always contain ``-`` (``<bot>-<seq>``) and the
    hashed form never does (the prefix aside), so the two forms never collide."""
    if not client_order_id:
        raise ValueError("client_order_id must not be empty")
    plain = prefix + client_order_id
    if len(plain) <= LINK_ID_MAX and _LINK_ID.match(plain) and "-" in client_order_id:
        return plain
    room = LINK_ID_MAX - len(prefix) - 1
    return prefix + "h" + hashlib.sha256(client_order_id.encode("utf-8")).hexdigest()[:room]


@dataclass(frozen=True, slots=True)
class InstrumentInfo:
    """A contract's trading rules (Bybit instruments-info)."""

    symbol: str
    status: str
    tick_size: Decimal
    qty_step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    max_market_qty: Decimal
    min_notional: Decimal
    min_price: Decimal
    max_price: Decimal
    max_leverage: Decimal
    leverage_step: Decimal

    @property
    def trading(self) -> bool:
        return self.status == "Trading"


#: Bybit order statuses (docs/v5/enum#orderstatus) that are still working.
OPEN_STATUSES = frozenset({"New", "PartiallyFilled", "Untriggered", "Created"})


@dataclass(frozen=True, slots=True)
class VenueOrder:
    order_id: str
    link_id: str
    symbol: str
    side: OrderSide
    order_type: str  # "Market" | "Limit"
    tif: str  # "GTC" | "IOC" | "FOK" | "PostOnly"
    price: Decimal | None
    qty: Decimal
    cum_qty: Decimal
    status: str
    reject_reason: str
    cancel_type: str
    reduce_only: bool
    created_ms: int
    updated_ms: int

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_filled(self) -> bool:
        return self.status == "Filled"

    @property
    def is_rejected(self) -> bool:
        return self.status == "Rejected"

    @property
    def ended_unfilled(self) -> bool:
        """Ended without (further) fills: cancelled, rejected or deactivated."""
        return not self.is_open and not self.is_filled

    @property
    def end_reason(self) -> str:
        """Why the order ended, in words."""
        reason = _REJECT_REASONS.get(self.reject_reason)
        if reason is None:
            reason = _CANCEL_TYPES.get(self.cancel_type)
        if reason is None:
            detail = "/".join(
                x for x in (self.cancel_type, self.reject_reason) if x and x != "UNKNOWN"
            )
            reason = f"venue: {self.status}" + (f" ({detail})" if detail else "")
        return reason


_REJECT_REASONS = {
    "EC_PostOnlyWillTakeLiquidity": "post-only order would have taken liquidity",
    "EC_NoImmediateQtyToFill": "IOC remainder not filled",
    "EC_CancelForNoFullFill": "FOK not filled in full",
}
_CANCEL_TYPES = {
    "CancelByUser": "cancelled by request",
    "CancelByReduceOnly": "reduce-only: nothing left to reduce",
    "CancelByLiq": "cancelled by the venue: liquidation",
    "CancelByAdl": "cancelled by the venue: auto-deleveraging",
    "CancelByAdmin": "cancelled by the venue (admin)",
    "CancelAllBeforeLiq": "cancelled by the venue before liquidation",
}


@dataclass(frozen=True, slots=True)
class VenueFill:
    """One execution of ours (Bybit ``execType`` Trade)."""

    exec_id: str
    order_id: str
    link_id: str
    symbol: str
    side: OrderSide
    qty: Decimal
    price: Decimal
    fee: Decimal  # paid (>0) or rebate (<0), in the settle coin
    is_maker: bool
    time_ms: int
    exec_type: str = "Trade"
    # Bybit's cross sequence: "used to associate each fill and each position update" (the
    # position's ``seq`` is that of the last execution it holds); None when not given.
    seq: int | None = None

    @property
    def signed_qty(self) -> Decimal:
        return self.qty if self.side is OrderSide.BUY else -self.qty

    def to_order_filled(self, client_order_id: str) -> OrderFilled:
        return OrderFilled(
            client_order_id=client_order_id,
            venue_order_id=self.order_id,
            trade_id=self.exec_id,
            symbol=self.symbol,
            side=self.side,
            qty=self.qty,
            price=self.price,
            fee=self.fee,
            liquidity=Liquidity.MAKER if self.is_maker else Liquidity.TAKER,
            ts=self.time_ms * NS_PER_MS,
        )


@dataclass(frozen=True, slots=True)
class VenuePosition:
    """A one-way position: ``size`` signed (negative: short)."""

    symbol: str
    size: Decimal
    avg_price: Decimal
    mark_price: Decimal | None
    unrealized_pnl: Decimal
    updated_ms: int
    seq: int | None = None  # the cross sequence of the last execution it holds (VenueFill.seq)


@dataclass(frozen=True, slots=True)
class Balance:
    """The settle coin's balance (in that coin) and the account's available balance in USD.

    Bybit's unified account gives no per-coin available balance (the coin's
    ``availableToWithdraw`` is deprecated for UNIFIED): what is available for margin is the
    account-wide ``totalAvailableBalance``, a sum over every collateral coin valued in USD.
    It is kept as USD, never relabelled as the coin; ``None`` when the venue leaves it empty
    (isolated margin)."""

    coin: str
    wallet_balance: Decimal
    equity: Decimal
    account_available_usd: Decimal | None
    unrealized_pnl: Decimal
    updated_ms: int
    seq: int | None = None  # the cross sequence of the last execution it holds (VenueFill.seq)


@dataclass(frozen=True, slots=True)
class Candle:
    """One kline; ``closed`` when the venue says it is final (Bybit ``confirm``)."""

    symbol: str
    interval: str  # the venue's interval name
    open_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    closed: bool

    def to_bar(self, symbol: str | None = None) -> Bar:
        return Bar(
            symbol or self.symbol,
            self.open_ms * NS_PER_MS,
            float(self.open),
            float(self.high),
            float(self.low),
            float(self.close),
            float(self.volume),
        )


@dataclass(frozen=True, slots=True)
class PlaceRequest:
    """An order as the venue gets it (prices and sizes already on the instrument's grid)."""

    symbol: str
    side: OrderSide
    order_type: str  # "Market" | "Limit"
    qty: Decimal
    price: Decimal | None
    tif: str  # "GTC" | "IOC" | "PostOnly"
    reduce_only: bool
    link_id: str

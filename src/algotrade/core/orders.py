"""Order requests (intents) and orders (entities with a state machine)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

from algotrade.core.errors import InvalidOrderTransitionError
from algotrade.core.events import (
    OrderAccepted,
    OrderAmended,
    OrderAmendRejected,
    OrderCancelled,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    OrderSide,
)
from algotrade.core.money import EXACT, ZERO, derived_price


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"  # stop-market: becomes a market order when the trigger price trades


class TimeInForce(StrEnum):
    GTC = "gtc"  # good till cancelled
    IOC = "ioc"  # immediate or cancel: whatever does not fill on arrival is cancelled
    POST_ONLY = "post_only"  # rejected instead of taking liquidity


class OrderStatus(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        return self in _OPEN_STATUSES


_OPEN_STATUSES = frozenset({OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})

_ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.NEW: frozenset(
        {
            OrderStatus.ACCEPTED,
            OrderStatus.REJECTED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
        }
    ),
    OrderStatus.ACCEPTED: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED}
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED}
    ),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """The intent to place one order (``SubmitOrder``). Sizes and prices are exact."""

    symbol: str
    side: OrderSide
    qty: Decimal
    type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    tag: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.qty, Decimal):
            raise TypeError(f"order qty must be Decimal, got {type(self.qty).__name__}")
        if self.qty <= 0:
            raise ValueError(f"order qty must be positive, got {self.qty}")
        if self.type is OrderType.LIMIT and self.limit_price is None:
            raise ValueError("a limit order needs limit_price")
        if self.type is OrderType.STOP and self.stop_price is None:
            raise ValueError("a stop order needs stop_price")
        for name in ("limit_price", "stop_price"):
            price = getattr(self, name)
            if price is not None and (not isinstance(price, Decimal) or price <= 0):
                raise ValueError(f"{name} must be a positive Decimal, got {price!r}")


@dataclass(slots=True)
class Order:
    """An order we sent, tracked through its life: new → accepted → partially filled →
    filled / cancelled / rejected. Only ``apply`` changes it."""

    client_order_id: str
    request: OrderRequest
    created_ts: int
    status: OrderStatus = OrderStatus.NEW
    venue_order_id: str = ""
    filled_qty: Decimal = ZERO
    avg_fill_price: Decimal = ZERO
    fees: Decimal = ZERO
    updated_ts: int = 0
    reason: str = ""
    fill_ids: list[str] = field(default_factory=list)

    @property
    def symbol(self) -> str:
        return self.request.symbol

    @property
    def side(self) -> OrderSide:
        return self.request.side

    @property
    def qty(self) -> Decimal:
        return self.request.qty

    @property
    def remaining_qty(self) -> Decimal:
        return self.request.qty - self.filled_qty

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    def _move(self, target: OrderStatus, ts: int) -> None:
        if target not in _ALLOWED[self.status]:
            raise InvalidOrderTransitionError(
                f"order {self.client_order_id}: cannot go from {self.status} to {target}"
            )
        self.status = target
        self.updated_ts = ts

    def apply(self, event: OrderEvent) -> None:
        """Advance the state machine; raises ``InvalidOrderTransitionError`` on a bad event."""
        if event.client_order_id != self.client_order_id:
            raise InvalidOrderTransitionError(
                f"event for {event.client_order_id} applied to order {self.client_order_id}"
            )
        if isinstance(event, OrderAccepted):
            self._move(OrderStatus.ACCEPTED, event.ts)
            self.venue_order_id = event.venue_order_id
        elif isinstance(event, OrderRejected):
            self._move(OrderStatus.REJECTED, event.ts)
            self.reason = event.reason
        elif isinstance(event, OrderCancelled):
            self._move(OrderStatus.CANCELLED, event.ts)
            self.reason = event.reason
        elif isinstance(event, OrderFilled):
            self._apply_fill(event)
        elif isinstance(event, OrderAmended):
            self._apply_amend(event)
        elif isinstance(event, OrderAmendRejected):
            pass  # the order stays exactly as it was; the reason is the event's to report
        else:  # pragma: no cover - exhaustive over OrderEvent
            raise InvalidOrderTransitionError(f"unknown order event {event!r}")

    def _apply_amend(self, event: OrderAmended) -> None:
        """Replace the request's size and prices; status, fills and fees stay. A new total
        equal to what has filled leaves nothing to execute: the order is then filled."""
        if not self.is_open:
            raise InvalidOrderTransitionError(
                f"order {self.client_order_id}: cannot amend a {self.status} order"
            )
        if event.qty < self.filled_qty:
            raise InvalidOrderTransitionError(
                f"order {self.client_order_id}: amended qty {event.qty} is below the filled "
                f"qty {self.filled_qty}"
            )
        request = self.request
        try:
            amended = replace(
                request,
                qty=event.qty,
                limit_price=request.limit_price if event.limit_price is None else event.limit_price,
                stop_price=request.stop_price if event.stop_price is None else event.stop_price,
            )
        except (TypeError, ValueError) as exc:
            raise InvalidOrderTransitionError(
                f"order {self.client_order_id}: bad amendment: {exc}"
            ) from exc
        self.request = amended
        if self.filled_qty and event.qty == self.filled_qty:
            self._move(OrderStatus.FILLED, event.ts)
        else:
            self.updated_ts = event.ts

    def _apply_fill(self, fill: OrderFilled) -> None:
        if fill.trade_id in self.fill_ids:
            return  # the same execution reported twice (replay, reconnect): idempotent
        if fill.side is not self.side:
            raise InvalidOrderTransitionError(
                f"order {self.client_order_id}: fill side {fill.side} != order side {self.side}"
            )
        new_filled = self.filled_qty + fill.qty
        if new_filled > self.request.qty:
            raise InvalidOrderTransitionError(
                f"order {self.client_order_id}: overfill {new_filled} > {self.request.qty}"
            )
        target = (
            OrderStatus.FILLED if new_filled == self.request.qty else OrderStatus.PARTIALLY_FILLED
        )
        self._move(target, fill.ts)
        if self.filled_qty:
            filled_value = EXACT.fma(
                self.avg_fill_price, self.filled_qty, EXACT.multiply(fill.price, fill.qty)
            )
            self.avg_fill_price = derived_price(EXACT.divide(filled_value, new_filled))
        else:  # the first fill: (price × qty) ÷ qty is the price itself, exactly
            self.avg_fill_price = derived_price(fill.price)
        self.filled_qty = new_filled
        self.fees += fill.fee
        self.fill_ids.append(fill.trade_id)
        if fill.venue_order_id and not self.venue_order_id:
            self.venue_order_id = fill.venue_order_id

"""Orders between the core and the ProjectX Gateway: the ``customTag`` that carries our
client order id, the local rules checked before anything is sent, and the shapes of an
order on either side.

``customTag`` must be unique across the account (Order/place docs). A bot's client order ids
(``<bot>-<n>``) are unique for the life of the bot, but a bot deleted and created again under
the same id starts over at 1; the tag therefore adds the order's creation time (ms, base 36):
``es-7.loyw3v28``. Both parts are stored with the order, so a restart computes the same tag.

Local rules (the gateway's, so a refusal says which field and why, and nothing is sent):
market, limit and stop orders; good till cancelled (the gateway has no IOC or post-only
flag; a market order fills or is cancelled by the venue); whole contracts; prices on the
contract's tick grid. Reduce-only is the engine's check against the bot's own position (the
gateway has no such flag): the order goes out as a plain order.
"""

from __future__ import annotations

from decimal import Decimal

from algotrade.core.events import OrderCancelled, OrderRejected, OrderSide
from algotrade.core.orders import Order, OrderRequest, OrderStatus, OrderType, TimeInForce
from algotrade.core.timeutil import datetime_to_ns
from algotrade.venues.projectx.schemas import Contract
from algotrade.venues.projectx.schemas import Order as PxOrder
from algotrade.venues.projectx.schemas import OrderSide as PxSide
from algotrade.venues.projectx.schemas import OrderStatus as PxStatus
from algotrade.venues.projectx.schemas import OrderType as PxType

__all__ = [
    "ENDED",
    "LIVE",
    "TYPES",
    "UNSETTLED",
    "Values",
    "amend_problem",
    "ended",
    "not_received",
    "order_from_venue",
    "request_problem",
    "split_tag",
    "tag_for",
    "venue_ts",
    "venue_values",
]

TYPES = {
    OrderType.MARKET: PxType.MARKET,
    OrderType.LIMIT: PxType.LIMIT,
    OrderType.STOP: PxType.STOP,
}
_FROM_PX = {v: k for k, v in TYPES.items()}
# Every venue status is in exactly one group (a test keeps the mapping total). LIVE: working
# (amendments are followed); FILLED; ENDED: over without (more) fills; UNSETTLED: statuses the
# docs give no meaning for (NONE; 7 and 8, listed only by the Swagger enum): the order is left
# as it is (not ended, not amended) and its fills are still booked from its trades.
LIVE = (PxStatus.OPEN, PxStatus.PENDING)
ENDED = (PxStatus.CANCELLED, PxStatus.EXPIRED, PxStatus.REJECTED)
UNSETTLED = (PxStatus.NONE, PxStatus.UNNAMED_7, PxStatus.UNNAMED_8)
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
NS_PER_MS = 1_000_000
Values = tuple[Decimal, Decimal | None, Decimal | None]  # (qty, limit price, stop price)


# ---------------------------------------------------------------------------- tags
def tag_for(client_order_id: str, created_ts: int) -> str:
    """The ``customTag`` of an order: our client order id and its creation time (ms, base 36)."""
    ms, digits = max(created_ts, 0) // NS_PER_MS, ""
    while True:
        ms, rest = divmod(ms, 36)
        digits = _DIGITS[rest] + digits
        if not ms:
            return f"{client_order_id}.{digits}"


def split_tag(tag: str) -> tuple[str, int] | None:
    """``(client order id, creation time ns)`` of a tag made by ``tag_for``, else ``None``."""
    head, dot, tail = tag.rpartition(".")
    if not dot or not head or not tail or not tail.isalnum():
        return None
    try:
        return head, int(tail.lower(), 36) * NS_PER_MS
    except ValueError:
        return None


# ---------------------------------------------------------------------------- local rules
def request_problem(contract: Contract, request: OrderRequest) -> str | None:
    """Why the gateway would refuse ``request`` (naming the field), or ``None``."""
    if request.type not in TYPES:
        return f"type: ProjectX takes market, limit and stop orders; got {request.type}"
    if request.type is not OrderType.MARKET and request.tif is not TimeInForce.GTC:
        return f"tif: ProjectX orders are good till cancelled; {request.tif} is not supported"
    return _qty_problem("qty", request.qty) or _price_problem(
        contract, request.limit_price, request.stop_price
    )


def amend_problem(
    contract: Contract,
    order: Order,
    qty: Decimal | None,
    limit: Decimal | None,
    stop: Decimal | None,
) -> str | None:
    if qty is not None:
        problem = _qty_problem("amend qty", qty)
        if problem is not None:
            return problem
        if qty <= order.filled_qty:
            return f"amend qty: {qty} must exceed the filled qty {order.filled_qty}"
    return _price_problem(contract, limit, stop, prefix="amend ")


def _qty_problem(name: str, qty: Decimal) -> str | None:
    if qty != qty.to_integral_value() or qty < 1:
        return f"{name}: ProjectX trades whole contracts (1, 2, …); got {qty}"
    return None


def _price_problem(
    contract: Contract, limit: Decimal | None, stop: Decimal | None, prefix: str = ""
) -> str | None:
    tick = contract.tick_size
    for name, price in (("limit_price", limit), ("stop_price", stop)):
        if price is not None and price % tick:
            return (
                f"{prefix}{name}: {price} is not on the tick grid of {contract.name} "
                f"(tick size {tick})"
            )
    return None


# ---------------------------------------------------------------------------- shapes
def order_from_venue(symbol: str, coid: str, px: PxOrder, created_ns: int) -> Order:
    """A core order as the venue describes it (status ``new``: adoption aligns it)."""
    kind = _FROM_PX.get(px.type, OrderType.LIMIT)
    request = OrderRequest(
        symbol=symbol,
        side=OrderSide.BUY if px.side is PxSide.BID else OrderSide.SELL,
        qty=Decimal(px.size),
        type=kind,
        limit_price=px.limit_price if kind is OrderType.LIMIT else None,
        stop_price=px.stop_price if kind is OrderType.STOP else None,
        tag="recovered",
    )
    return Order(coid, request, created_ts=created_ns)


def venue_values(order: Order, px: PxOrder) -> Values:
    """The venue's (size, limit, stop) in the shape of the local request."""
    kind = order.request.type
    limit = px.limit_price if kind is OrderType.LIMIT else order.request.limit_price
    stop = px.stop_price if kind is OrderType.STOP else order.request.stop_price
    return Decimal(px.size), limit, stop


def venue_ts(px: PxOrder) -> int:
    return datetime_to_ns(px.update_timestamp or px.creation_timestamp)


def ended(order: Order, px: PxOrder) -> OrderCancelled | OrderRejected:
    """The core event of a venue status that ended an order without (more) fills."""
    reason = f"venue: {px.status.label}"
    if px.status is PxStatus.REJECTED and order.status is OrderStatus.NEW:
        return OrderRejected(order.client_order_id, reason, venue_ts(px))
    return OrderCancelled(order.client_order_id, reason, venue_ts(px))


def not_received(order: Order, reason: str, ts: int) -> OrderCancelled | OrderRejected:
    """An order the venue never got: rejected when nothing happened to it yet."""
    if order.status is OrderStatus.NEW and not order.filled_qty:
        return OrderRejected(order.client_order_id, reason, ts)
    return OrderCancelled(order.client_order_id, reason, ts)

"""Amending a resting order: what the engine checks before it asks the venue.

A strategy gives the new *total* quantity and/or new prices (``Decimal``, int, float or str,
like ``target_position``). They are rounded to the instrument's grid as a new order's would be
by the helpers a strategy uses for new orders: the quantity toward zero to the lot size, prices
to the nearest tick (half-even). What cannot be amended is refused with an
``OrderRejectedError`` naming the field; the engine turns that into ``OrderAmendRejected``.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from algotrade.core.errors import OrderRejectedError
from algotrade.core.instruments import Instrument
from algotrade.core.money import to_decimal
from algotrade.core.orders import Order, OrderRequest, OrderType

Number = Decimal | int | float | str


def amended_request(
    order: Order,
    instrument: Instrument,
    *,
    qty: Number | None = None,
    price: Number | None = None,
    stop_price: Number | None = None,
) -> OrderRequest | None:
    """The order's request as it would be after the amendment, or ``None`` when nothing
    changes. Raises ``OrderRejectedError`` when the amendment is not possible."""
    request = order.request
    new_qty = request.qty
    if qty is not None:
        new_qty = instrument.round_qty(to_decimal(qty))
        if new_qty <= 0:
            raise OrderRejectedError(
                f"amend qty: expected a positive quantity of at least one lot "
                f"({instrument.lot_size}), got {qty}"
            )
        if new_qty <= order.filled_qty:
            raise OrderRejectedError(
                f"amend qty: {new_qty} must exceed the filled qty {order.filled_qty} "
                "(cancel the order to stop it)"
            )
    new_limit = request.limit_price
    if price is not None:
        if request.type is not OrderType.LIMIT:
            raise OrderRejectedError(
                f"amend price: a limit price applies to limit orders only (this is {request.type})"
            )
        new_limit = _price("price", price, instrument)
    new_stop = request.stop_price
    if stop_price is not None:
        if request.type is not OrderType.STOP:
            raise OrderRejectedError(
                f"amend stop_price: applies to stop orders only (this is {request.type})"
            )
        new_stop = _price("stop_price", stop_price, instrument)
    if (new_qty, new_limit, new_stop) == (request.qty, request.limit_price, request.stop_price):
        return None
    return replace(request, qty=new_qty, limit_price=new_limit, stop_price=new_stop)


def check_request(order: Order, amended: OrderRequest) -> OrderRequest:
    """What the pre-trade checks see: the part of the amended order still to execute, as if it
    were a new order (the filled part is already in the position)."""
    if not order.filled_qty:
        return amended
    return replace(amended, qty=amended.qty - order.filled_qty)


def _price(name: str, value: Number, instrument: Instrument) -> Decimal:
    rounded = instrument.round_price(to_decimal(value))
    if rounded <= 0:
        raise OrderRejectedError(
            f"amend {name}: expected a positive price of at least one tick "
            f"({instrument.tick_size}), got {value}"
        )
    return rounded

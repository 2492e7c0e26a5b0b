from __future__ import annotations

from decimal import Decimal

import pytest

from algotrade.core.errors import InvalidOrderTransitionError
from algotrade.core.events import OrderAccepted, OrderCancelled, OrderRejected, OrderSide
from algotrade.core.orders import Order, OrderRequest, OrderStatus, OrderType
from testkit.factories import fill

D = Decimal


def _order(qty: str = "3") -> Order:
    return Order("o1", OrderRequest("X", OrderSide.BUY, D(qty)), created_ts=0)


def test_lifecycle_new_accepted_partial_filled() -> None:
    order = _order()
    order.apply(OrderAccepted("o1", "v9", 1))
    assert order.status is OrderStatus.ACCEPTED
    assert order.venue_order_id == "v9"
    order.apply(fill("buy", "1", "10", "0.1", ts=2))
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.remaining_qty == D(2)
    order.apply(fill("buy", "2", "13", "0.2", ts=3))
    assert order.status is OrderStatus.FILLED
    assert order.avg_fill_price == D(12)
    assert order.fees == D("0.3")
    assert not order.is_open


def test_duplicate_fill_is_ignored() -> None:
    order = _order()
    execution = fill("buy", "1", "10")
    order.apply(execution)
    order.apply(execution)
    assert order.filled_qty == D(1)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (OrderRejected("o1", "no", 1), OrderAccepted("o1", "v", 2)),
        (OrderCancelled("o1", "bye", 1), OrderAccepted("o1", "v", 2)),
        (OrderAccepted("o1", "v", 1), OrderAccepted("o1", "v", 2)),
        (OrderAccepted("o1", "v", 1), OrderRejected("o1", "late", 2)),
    ],
)
def test_illegal_transitions_raise(first, second) -> None:
    order = _order()
    order.apply(first)
    with pytest.raises(InvalidOrderTransitionError):
        order.apply(second)


def test_overfill_and_wrong_side_raise() -> None:
    order = _order("1")
    with pytest.raises(InvalidOrderTransitionError, match="overfill"):
        order.apply(fill("buy", "2", "10"))
    with pytest.raises(InvalidOrderTransitionError, match="side"):
        order.apply(fill("sell", "1", "10"))


def test_filled_order_cannot_be_cancelled() -> None:
    order = _order("1")
    order.apply(fill("buy", "1", "10"))
    with pytest.raises(InvalidOrderTransitionError):
        order.apply(OrderCancelled("o1", "late", 5))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"qty": D(0)}, "positive"),
        ({"qty": 1.5}, "Decimal"),
        ({"type": OrderType.LIMIT}, "limit_price"),
        ({"type": OrderType.STOP}, "stop_price"),
        ({"type": OrderType.LIMIT, "limit_price": D(-1)}, "positive"),
    ],
)
def test_request_validation(kwargs, message) -> None:
    base = {"symbol": "X", "side": OrderSide.BUY, "qty": D(1)}
    base.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        OrderRequest(**base)

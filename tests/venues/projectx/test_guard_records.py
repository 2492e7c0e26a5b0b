"""The account guard's words for the gateway's enums: total over every member."""

from __future__ import annotations

from algotrade.venues.projectx.guard_records import order_status, order_type
from algotrade.venues.projectx.schemas import OrderStatus, OrderType


def test_every_status_and_type_has_a_word() -> None:
    assert {s: order_status(s) for s in OrderStatus} == {
        OrderStatus.NONE: "open",
        OrderStatus.OPEN: "open",
        OrderStatus.FILLED: "filled",
        OrderStatus.CANCELLED: "cancelled",
        OrderStatus.EXPIRED: "cancelled",
        OrderStatus.REJECTED: "rejected",
        OrderStatus.PENDING: "open",
        OrderStatus.UNNAMED_7: "open",  # meaning undocumented: live, so a lockout cancels it
        OrderStatus.UNNAMED_8: "open",
    }
    assert {order_type(t) for t in OrderType} == {"limit", "market", "stop"}

"""Order lists of the gateway read one order at a time: an order whose status value the
gateway does not document fails alone (naming its id and the value); the Swagger-only
statuses 7 and 8 are read."""

from __future__ import annotations

from typing import Any

import pytest

from algotrade.venues.projectx.errors import ProjectXPayloadError
from algotrade.venues.projectx.payloads import parse_orders
from algotrade.venues.projectx.schemas import OrderStatus


def order(order_id: int, status: int, **changes: Any) -> dict[str, Any]:
    return {
        "id": order_id,
        "accountId": 704,
        "contractId": "CON.F.US.EP.Z25",
        "creationTimestamp": "2025-07-18T21:00:01.268009+00:00",
        "updateTimestamp": "2025-07-18T21:00:01.268009+00:00",
        "status": status,
        "type": 1,
        "side": 0,
        "size": 1,
        "limitPrice": 5900,
        "stopPrice": None,
        "customTag": f"tag-{order_id}",
        **changes,
    }


def test_an_undocumented_status_fails_only_that_order() -> None:
    """Defect: one order with a status value not in the enum failed the whole searchOpen /
    search reply, so none of the account's orders were reconciled."""
    reply = {"orders": [order(1, 1), order(2, 9), order(3, 7), order(4, 8)], "success": True}
    orders = parse_orders(reply, "Order/searchOpen")
    assert [(o.id, o.status) for o in orders] == [
        (1, OrderStatus.OPEN),
        (3, OrderStatus.UNNAMED_7),
        (4, OrderStatus.UNNAMED_8),
    ]
    (unread,) = orders.unreadable
    assert (unread.order_id, unread.contract_id, unread.value) == (2, "CON.F.US.EP.Z25", 9)
    assert str(unread) == (
        "order 2: 'status' = 9 is not an order status the gateway documents (0-8)"
    )


def test_a_malformed_order_still_fails_the_reply() -> None:
    """Only an undocumented status is one order's own problem; a broken order is a broken
    reply."""
    reply = {"orders": [order(1, 1), order(2, 1, size="one")]}
    with pytest.raises(ProjectXPayloadError, match="order 2: 'size' must be an integer"):
        parse_orders(reply, "Order/search")


def test_statuses_7_and_8_are_named_by_their_number() -> None:
    assert OrderStatus(7).label == "status 7 (unnamed in the docs)"
    assert OrderStatus.OPEN.label == "open"
    assert not OrderStatus.UNNAMED_7.is_final
    assert not OrderStatus.UNNAMED_8.is_final

"""The venue statuses as the bots' orders follow them: every status in exactly one group."""

from __future__ import annotations

from algotrade.venues.projectx.order_rules import ENDED, LIVE, UNSETTLED
from algotrade.venues.projectx.schemas import OrderStatus


def test_every_venue_status_is_in_exactly_one_group() -> None:
    groups = [set(LIVE), set(ENDED), {OrderStatus.FILLED}, set(UNSETTLED)]
    assert sum(len(g) for g in groups) == len(OrderStatus)
    assert set().union(*groups) == set(OrderStatus)
    assert {OrderStatus.UNNAMED_7, OrderStatus.UNNAMED_8} <= set(UNSETTLED)

"""Orders rebuilt from the venue's view (sent just before a crash, never recorded locally)."""

from __future__ import annotations

from algotrade.core.orders import Order, OrderRequest, OrderType, TimeInForce
from algotrade.venues.ccxt.model import NS_PER_MS, VenueOrder

__all__ = ["order_from_venue"]

_TIF = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "PostOnly": TimeInForce.POST_ONLY}


def order_from_venue(client_order_id: str, venue: VenueOrder) -> Order:
    """A core order as the venue describes it (status ``new``: adoption aligns it)."""
    market = venue.order_type == "Market"
    request = OrderRequest(
        symbol=venue.symbol,
        side=venue.side,
        qty=venue.qty,
        type=OrderType.MARKET if market else OrderType.LIMIT,
        limit_price=None if market else venue.price,
        tif=TimeInForce.GTC if market else _TIF.get(venue.tif, TimeInForce.GTC),
        reduce_only=venue.reduce_only,
        tag="recovered",
    )
    return Order(client_order_id, request, created_ts=venue.created_ms * NS_PER_MS)

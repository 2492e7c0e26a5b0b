"""Small builders for core objects in tests."""

from __future__ import annotations

from decimal import Decimal
from itertools import count

from algotrade.core.events import Bar, Liquidity, OrderFilled, OrderSide

_trade_ids = count(1)
MINUTE = 60_000_000_000


def fill(
    side: str,
    qty: str | Decimal,
    price: str | Decimal,
    fee: str | Decimal = "0",
    *,
    symbol: str = "X",
    ts: int = 0,
    order_id: str = "o1",
) -> OrderFilled:
    return OrderFilled(
        client_order_id=order_id,
        venue_order_id="v1",
        trade_id=f"t{next(_trade_ids)}",
        symbol=symbol,
        side=OrderSide(side),
        qty=Decimal(qty),
        price=Decimal(price),
        fee=Decimal(fee),
        liquidity=Liquidity.TAKER,
        ts=ts,
    )


def bar(i: int, o: float, h: float, low: float, c: float, symbol: str = "X") -> Bar:
    return Bar(symbol, i * MINUTE, o, h, low, c, 1.0)

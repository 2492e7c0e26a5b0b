"""Instrument rules, enforced before anything is sent.

A contract's rules (Bybit instruments-info: ``tickSize``, ``qtyStep``, ``minOrderQty``,
``maxOrderQty``/``maxMktOrderQty``, ``minNotionalValue``, ``minPrice``/``maxPrice``) become
the core ``Instrument`` the bot sizes and rounds with, and every order and amendment is checked
against them here: a violation raises ``VenueRefused`` whose ``rule`` (and the first word of its
message) names the rule; the venue never sees the order.
"""

from __future__ import annotations

from decimal import Decimal

from algotrade.core.instruments import Instrument
from algotrade.core.money import decimal_text
from algotrade.core.orders import OrderRequest, OrderType
from algotrade.venues.ccxt.errors import VenueRefused
from algotrade.venues.ccxt.model import InstrumentInfo

__all__ = ["check_amend", "check_order", "to_instrument"]


def to_instrument(info: InstrumentInfo, venue: str) -> Instrument:
    return Instrument(
        info.symbol,
        tick_size=info.tick_size,
        lot_size=info.qty_step,
        min_qty=info.min_qty,
        min_notional=info.min_notional,
        venue=venue,
        extra={
            "max_qty": decimal_text(info.max_qty),
            "max_market_qty": decimal_text(info.max_market_qty),
            "max_leverage": decimal_text(info.max_leverage),
        },
    )


def _refuse(rule: str, message: str) -> VenueRefused:
    return VenueRefused(f"{rule}: {message}", rule=rule)


def _check_qty(info: InstrumentInfo, qty: Decimal, market: bool) -> None:
    t = decimal_text
    if qty <= 0:
        raise _refuse("qty", f"{t(qty)} must be positive")
    if qty % info.qty_step:
        raise _refuse(
            "qty_step",
            f"qty {t(qty)} is not a multiple of {info.symbol}'s qty step {t(info.qty_step)}",
        )
    if qty < info.min_qty:
        raise _refuse("min_qty", f"qty {t(qty)} is below {info.symbol}'s minimum {t(info.min_qty)}")
    limit = info.max_market_qty if market else info.max_qty
    if limit and qty > limit:
        kind = "market order" if market else "order"
        raise _refuse(
            "max_qty", f"qty {t(qty)} is above the {kind} maximum {t(limit)} of {info.symbol}"
        )


def _check_price(info: InstrumentInfo, price: Decimal) -> None:
    t = decimal_text
    if price % info.tick_size:
        raise _refuse(
            "tick_size",
            f"price {t(price)} is not a multiple of {info.symbol}'s tick size {t(info.tick_size)}",
        )
    if (info.min_price and price < info.min_price) or (info.max_price and price > info.max_price):
        raise _refuse(
            "price_range",
            f"price {t(price)} is outside {info.symbol}'s range "
            f"[{t(info.min_price)}, {t(info.max_price)}]",
        )


def _check_notional(
    info: InstrumentInfo, qty: Decimal, price: Decimal | None, reduce_only: bool
) -> None:
    if reduce_only or price is None or not info.min_notional:
        return
    notional = qty * price
    if notional < info.min_notional:
        raise _refuse(
            "min_notional",
            f"order value {decimal_text(notional)} is below {info.symbol}'s minimum "
            f"{decimal_text(info.min_notional)}",
        )


def check_order(request: OrderRequest, info: InstrumentInfo, reference: Decimal | None) -> None:
    """``reference``: a recent price, for the minimum value of a market order (skipped when
    unknown: the venue checks it too)."""
    if request.type is OrderType.STOP:
        raise _refuse("order_type", "stop orders are not supported on this venue yet")
    if not info.trading:
        raise _refuse("status", f"{info.symbol} is not trading (status {info.status or 'unknown'})")
    market = request.type is OrderType.MARKET
    _check_qty(info, request.qty, market)
    price = reference if market else request.limit_price
    if not market:
        assert request.limit_price is not None
        _check_price(info, request.limit_price)
    _check_notional(info, request.qty, price, request.reduce_only)


def check_amend(
    request: OrderRequest,
    info: InstrumentInfo,
    filled: Decimal,
    qty: Decimal | None,
    price: Decimal | None,
) -> None:
    """The amended order (new total ``qty`` and/or limit ``price``) must keep the rules."""
    if qty is None and price is None:
        raise _refuse("amend", "nothing to change: give a qty and/or a price")
    if price is not None and request.type is not OrderType.LIMIT:
        raise _refuse("amend", "only a limit order's price can be changed")
    new_qty = request.qty if qty is None else qty
    if qty is not None:
        _check_qty(info, qty, market=False)
        if qty <= filled:
            raise _refuse(
                "amend_qty",
                f"new qty {decimal_text(qty)} must exceed the filled {decimal_text(filled)}",
            )
    new_price = request.limit_price if price is None else price
    if price is not None:
        _check_price(info, price)
    _check_notional(info, new_qty, new_price, request.reduce_only)

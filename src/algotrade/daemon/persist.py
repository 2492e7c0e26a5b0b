"""Core objects → store records (the daemon's side of persistence)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from algotrade.core.events import OrderAmended, OrderAmendRejected, OrderSide
from algotrade.core.money import decimal_text
from algotrade.core.orders import Order, OrderRequest, OrderStatus, OrderType, TimeInForce
from algotrade.core.portfolio import Portfolio, Position
from algotrade.store.records import (
    AccountRecord,
    EquityRecord,
    EventRecord,
    OrderRecord,
    PositionRecord,
)


def order_from_record(record: OrderRecord, fill_ids: list[str] | None = None) -> Order:
    """An open order as it was persisted, ready to be adopted by a new engine. It comes back
    as ``new`` so the venue's acknowledgement is a legal transition again; ``fill_ids`` are
    the executions already booked for it (a venue reporting one again is ignored)."""
    request = OrderRequest(
        symbol=record.symbol,
        side=OrderSide(record.side),
        qty=record.qty,
        type=OrderType(record.type),
        limit_price=record.limit_price,
        stop_price=record.stop_price,
        tif=TimeInForce(record.tif),
        reduce_only=record.reduce_only,
        tag=record.tag,
    )
    return Order(
        client_order_id=record.client_order_id,
        request=request,
        created_ts=record.created_ts,
        status=OrderStatus.NEW,
        venue_order_id=record.venue_order_id,
        filled_qty=record.filled_qty,
        avg_fill_price=record.avg_fill_price,
        fees=record.fees,
        updated_ts=record.updated_ts,
        fill_ids=list(fill_ids or []),
    )


def position_record(bot_id: str, position: Position) -> PositionRecord:
    return PositionRecord(
        bot_id=bot_id,
        symbol=position.symbol,
        qty=position.qty,
        avg_price=position.avg_price,
        realized_pnl=position.realized_pnl,
        fees=position.fees,
    )


def position_from_record(record: PositionRecord) -> Position:
    return Position(
        symbol=record.symbol,
        qty=record.qty,
        avg_price=record.avg_price,
        realized_pnl=record.realized_pnl,
        fees=record.fees,
    )


def account_record(bot_id: str, portfolio: Portfolio, ts: int) -> AccountRecord:
    return AccountRecord(
        bot_id=bot_id,
        initial_cash=portfolio.initial_cash,
        cash=portfolio.cash,
        realized_pnl=portfolio.realized_pnl,
        fees_paid=portfolio.fees_paid,
        updated_ts=ts,
    )


def equity_record(bot_id: str, portfolio: Portfolio, ts: int) -> EquityRecord:
    return EquityRecord(
        bot_id=bot_id,
        ts=ts,
        equity=portfolio.equity(),
        cash=portfolio.cash,
        realized_pnl=portfolio.realized_pnl,
        unrealized_pnl=portfolio.unrealized_pnl(),
        fees=portfolio.fees_paid,
    )


def event_record(
    bot_id: str | None, level: str, kind: str, message: str, data: dict[str, Any] | None = None
) -> EventRecord:
    return EventRecord(
        bot_id=bot_id,
        ts=datetime.fromtimestamp(time.time(), tz=UTC),
        level=level,
        kind=kind,
        message=message,
        data=data or {},
    )


def amend_record(
    bot_id: str, order: Order, event: OrderAmended | OrderAmendRejected
) -> EventRecord:
    """The bot's event-log line for an amendment (``order_amended`` with the order's new size
    and prices, or ``order_amend_rejected`` with the reason; the order stays open)."""
    coid = order.client_order_id
    if isinstance(event, OrderAmendRejected):
        data: dict[str, Any] = {"client_order_id": coid, "reason": event.reason}
        return event_record(
            bot_id, "warning", "order_amend_rejected", f"{coid}: {event.reason}", data
        )
    request = order.request
    data = {
        "client_order_id": coid,
        "qty": decimal_text(request.qty),
        "limit_price": _text(request.limit_price),
        "stop_price": _text(request.stop_price),
    }
    prices = "".join(f" {k} {v}" for k, v in data.items() if k.endswith("price") and v)
    return event_record(bot_id, "info", "order_amended", f"{coid}: qty {data['qty']}{prices}", data)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)

"""Record builders for the store tests (defaults are valid, keywords override)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from algotrade.store import (
    AccountRecord,
    EquityRecord,
    EventRecord,
    FillRecord,
    OrderRecord,
    PositionRecord,
)

SECOND = 1_000_000_000
T0 = 1_700_000_000 * SECOND


def bot_config(bot_id: str = "bot1", **changes: Any) -> dict[str, Any]:
    """A BotConfig as the daemon stores it (``model_dump(mode="json")``)."""
    from algotrade.daemon.bot_config import BotConfig

    config = BotConfig(bot_id=bot_id, symbol="BTCUSDT", strategy="ma_crossover", **changes)
    return config.model_dump(mode="json")


def order(bot_id: str = "bot1", client_order_id: str = "bot1-1", **changes: Any) -> OrderRecord:
    values: dict[str, Any] = {
        "bot_id": bot_id,
        "client_order_id": client_order_id,
        "venue_order_id": "",
        "symbol": "BTCUSDT",
        "side": "buy",
        "type": "limit",
        "qty": Decimal("0.5"),
        "limit_price": Decimal("42000.1"),
        "stop_price": None,
        "tif": "gtc",
        "reduce_only": False,
        "status": "new",
        "filled_qty": Decimal(0),
        "avg_fill_price": Decimal(0),
        "fees": Decimal(0),
        "reason": "",
        "tag": "",
        "created_ts": T0,
        "updated_ts": T0,
    }
    values.update(changes)
    return OrderRecord(**values)


def fill(bot_id: str = "bot1", trade_id: str = "t1", **changes: Any) -> FillRecord:
    values: dict[str, Any] = {
        "bot_id": bot_id,
        "trade_id": trade_id,
        "client_order_id": "bot1-1",
        "venue_order_id": "v1",
        "symbol": "BTCUSDT",
        "side": "buy",
        "qty": Decimal("0.25"),
        "price": Decimal("42000.1"),
        "fee": Decimal("0.0105"),
        "liquidity": "maker",
        "ts": T0 + SECOND,
    }
    values.update(changes)
    return FillRecord(**values)


def position(bot_id: str = "bot1", symbol: str = "BTCUSDT", **changes: Any) -> PositionRecord:
    values: dict[str, Any] = {
        "bot_id": bot_id,
        "symbol": symbol,
        "qty": Decimal("0.25"),
        "avg_price": Decimal("42000.1"),
        "realized_pnl": Decimal(0),
        "fees": Decimal("0.0105"),
    }
    values.update(changes)
    return PositionRecord(**values)


def account(bot_id: str = "bot1", **changes: Any) -> AccountRecord:
    values: dict[str, Any] = {
        "bot_id": bot_id,
        "initial_cash": Decimal(10_000),
        "cash": Decimal("-489.9855"),
        "realized_pnl": Decimal(0),
        "fees_paid": Decimal("0.0105"),
        "updated_ts": T0 + SECOND,
    }
    values.update(changes)
    return AccountRecord(**values)


def equity(bot_id: str = "bot1", ts: int = T0, **changes: Any) -> EquityRecord:
    values: dict[str, Any] = {
        "bot_id": bot_id,
        "ts": ts,
        "equity": Decimal("10000.5"),
        "cash": Decimal("9000"),
        "realized_pnl": Decimal(0),
        "unrealized_pnl": Decimal("0.5"),
        "fees": Decimal(0),
    }
    values.update(changes)
    return EquityRecord(**values)


def event(bot_id: str | None = "bot1", message: str = "started", **changes: Any) -> EventRecord:
    values: dict[str, Any] = {
        "bot_id": bot_id,
        "ts": datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC),
        "level": "info",
        "kind": "bot.started",
        "message": message,
        "data": {"n": 1},
    }
    values.update(changes)
    return EventRecord(**values)

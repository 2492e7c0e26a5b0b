"""Persistence: bots and their trading facts on SQLite (default, WAL) or PostgreSQL.

SQLAlchemy 2 (sync) with Alembic migrations shipped in ``store/migrations`` and run by
``Store.open()``. The store sits below the daemon: it imports only ``algotrade.core``.
"""

from __future__ import annotations

from algotrade.store.errors import (
    DuplicateBotError,
    StoreError,
    StoreUnavailableError,
    UnknownBotError,
)
from algotrade.store.records import (
    OPEN_ORDER_STATUSES,
    AccountRecord,
    Activity,
    ActivityLike,
    BotRecord,
    EquityRecord,
    EventRecord,
    FillRecord,
    OrderRecord,
    Page,
    PositionRecord,
)
from algotrade.store.store import Store

__all__ = [
    "OPEN_ORDER_STATUSES",
    "AccountRecord",
    "Activity",
    "ActivityLike",
    "BotRecord",
    "DuplicateBotError",
    "EquityRecord",
    "EventRecord",
    "FillRecord",
    "OrderRecord",
    "Page",
    "PositionRecord",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "UnknownBotError",
]

"""Persistence: bots and their trading facts on SQLite (default, WAL) or PostgreSQL, and the
account risk engine's state, lockouts, log and audit trail (``RiskStore``).

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
from algotrade.store.records_risk import (
    AuditRecord,
    LockoutRecord,
    RiskLogRecord,
    RiskStateRecord,
)
from algotrade.store.risk_store import RiskStore, UnknownLockoutError, UnknownLogEntryError
from algotrade.store.store import Store

__all__ = [
    "OPEN_ORDER_STATUSES",
    "AccountRecord",
    "Activity",
    "ActivityLike",
    "AuditRecord",
    "BotRecord",
    "DuplicateBotError",
    "EquityRecord",
    "EventRecord",
    "FillRecord",
    "LockoutRecord",
    "OrderRecord",
    "Page",
    "PositionRecord",
    "RiskLogRecord",
    "RiskStateRecord",
    "RiskStore",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "UnknownBotError",
    "UnknownLockoutError",
    "UnknownLogEntryError",
]

"""The tables of the store, by name, as SQLAlchemy Core objects (from the ORM models)."""

from __future__ import annotations

from algotrade.store.models import Base

_T = Base.metadata.tables
BOTS = _T["bots"]
ORDERS = _T["orders"]
FILLS = _T["fills"]
POSITIONS = _T["positions"]
ACCOUNTS = _T["accounts"]
EQUITY = _T["equity_snapshots"]
EVENTS = _T["event_log"]

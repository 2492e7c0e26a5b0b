"""The account risk engine's tables (migration ``0002``), on the same ``Base`` and portable
types as ``models.py``: money as exact text, ns timestamps BIGINT, surrogate ids BIGINT
(INTEGER on SQLite).

No foreign keys: risk accounts are venue accounts, not bots, and the log and audit trail must
outlive whatever they describe. ``models.py`` imports this module so ``Base.metadata`` (and so
the migration check) includes these tables.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from algotrade.store.models import Base, BigId, DecimalText, UTCDateTime


class RiskAccountStateRow(Base):
    """One account's engine state (daily PnL, trade counts, peak equity, ...) as opaque JSON,
    replaced whole by every decision."""

    __tablename__ = "risk_account_state"

    account_id: Mapped[str] = mapped_column(String, primary_key=True)
    trading_day: Mapped[str] = mapped_column(String)  # "2026-11-20"
    last_reset_ts: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_ts: Mapped[int] = mapped_column(BigInteger)


class RiskLockoutRow(Base):
    __tablename__ = "risk_lockouts"
    __table_args__ = (
        UniqueConstraint("account_id", "rule", "start_ts"),  # a replayed lockout is ignored
        Index(None, "account_id", "cleared_ts"),  # active lockouts on restart
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String)
    rule: Mapped[str] = mapped_column(String)
    reason: Mapped[str] = mapped_column(Text)
    start_ts: Mapped[int] = mapped_column(BigInteger)
    until_kind: Mapped[str] = mapped_column(String)  # "time" | "reset" | "manual"
    until_ts: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cleared_ts: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cleared_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    clear_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class RiskLogRow(Base):
    """Breaches, lockouts, unlocks, expiries, resets, enforcement steps, alerts; ``account_id``
    None is a global line (e.g. a rules change)."""

    __tablename__ = "risk_log"
    __table_args__ = (Index(None, "account_id", "id"), Index(None, "kind", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[str | None] = mapped_column(String, nullable=True)
    ts: Mapped[int] = mapped_column(BigInteger)  # event time
    kind: Mapped[str] = mapped_column(String)
    rule: Mapped[str] = mapped_column(String)
    action: Mapped[str] = mapped_column(String)
    symbol: Mapped[str] = mapped_column(String)
    qty: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    status: Mapped[str] = mapped_column(String)
    attempts: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class RiskAuditRow(Base):
    """Who changed what by hand (unlocks, rule changes), at wall-clock time."""

    __tablename__ = "risk_audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String)  # the API key's role/name, never the key
    action: Mapped[str] = mapped_column(String)  # "unlock" | "rules_change"
    account_id: Mapped[str | None] = mapped_column(String, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)

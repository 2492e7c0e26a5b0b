"""The schema, as SQLAlchemy 2 declarative models. Migrations (``store/migrations``) create it;
a test checks that the two agree.

Portable choices, so one schema runs on SQLite and PostgreSQL alike:

- money is TEXT through ``DecimalText``: SQLite has no exact decimal type (a NUMERIC column has
  numeric *affinity* and stores ``0.000000012345678901234567`` as an 8-byte float, keeping ~16
  significant digits), and PostgreSQL's NUMERIC would be exact but would then behave
  differently from SQLite. Text keeps every digit on both;
- ns timestamps are BIGINT (ns since 1970 overflow 32 bits within seconds);
- surrogate ids are BIGINT on PostgreSQL (an event log of 10,000 bots passes 2**31 rows) but
  INTEGER on SQLite, where only ``INTEGER PRIMARY KEY`` is the auto-incrementing rowid;
- strings have no length: SQLite ignores lengths, and on PostgreSQL a too-long id would make
  the write of an acknowledged fact fail;
- constraints have deterministic names (naming convention) so later migrations can address
  them on both backends (SQLite alters tables by copying them, which needs the names).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, INTEGER (the rowid alias, which auto-increments) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class DecimalText(TypeDecorator[Decimal]):
    """An exact ``Decimal`` stored as plain text (see the module docstring for why).

    Writes ``format(value, "f")``: no exponent, so the column reads well in a SQL shell, and the
    value (including trailing zeros after the point) comes back identical. Floats are refused
    rather than silently rounded: money must already be exact when it reaches the store.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(f"money must be Decimal, got {type(value).__name__}: {value!r}")
        number = Decimal(value)
        if not number.is_finite():
            raise ValueError(f"money must be finite, got {number}")
        exponent = number.as_tuple().exponent
        assert isinstance(exponent, int)
        if (number and not -40 <= number.adjusted() <= 40) or not -60 <= exponent <= 60:
            # Its plain text would be absurdly long (1e-999999999 is a billion characters):
            # refused before it can exhaust memory; inputs are bounded far below this.
            raise ValueError(f"money out of range: a number of the order of 1e{number.adjusted()}")
        return format(number, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` on both backends.

    PostgreSQL stores TIMESTAMPTZ and returns it in the session's time zone; SQLite stores
    naive text. Either way the value is normalised to UTC and comes back aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
        moment = value.astimezone(UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _bot_fk() -> ForeignKey:
    # Trading facts belong to their bot: deleting the bot deletes them (SQLite needs
    # PRAGMA foreign_keys=ON for this; the store sets it on every connection).
    return ForeignKey("bots.bot_id", ondelete="CASCADE")


class BotRow(Base):
    __tablename__ = "bots"

    bot_id: Mapped[str] = mapped_column(String, primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String)
    runtime: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index(None, "bot_id", "created_ts", "client_order_id"),  # paging in creation order
        Index(None, "bot_id", "status"),  # open orders on restart
    )

    bot_id: Mapped[str] = mapped_column(String, _bot_fk(), primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String, primary_key=True)
    venue_order_id: Mapped[str] = mapped_column(String)
    symbol: Mapped[str] = mapped_column(String)
    side: Mapped[str] = mapped_column(String)
    type: Mapped[str] = mapped_column(String)
    qty: Mapped[Decimal] = mapped_column(DecimalText)
    limit_price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    stop_price: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    tif: Mapped[str] = mapped_column(String)
    reduce_only: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String)
    filled_qty: Mapped[Decimal] = mapped_column(DecimalText)
    avg_fill_price: Mapped[Decimal] = mapped_column(DecimalText)
    fees: Mapped[Decimal] = mapped_column(DecimalText)
    reason: Mapped[str] = mapped_column(Text)
    tag: Mapped[str] = mapped_column(Text)
    created_ts: Mapped[int] = mapped_column(BigInteger)
    updated_ts: Mapped[int] = mapped_column(BigInteger)


class FillRow(Base):
    __tablename__ = "fills"
    __table_args__ = (
        UniqueConstraint("bot_id", "trade_id"),  # a re-reported execution is ignored
        Index(None, "bot_id", "ts", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bot_id: Mapped[str] = mapped_column(String, _bot_fk())
    trade_id: Mapped[str] = mapped_column(String)
    client_order_id: Mapped[str] = mapped_column(String)
    venue_order_id: Mapped[str] = mapped_column(String)
    symbol: Mapped[str] = mapped_column(String)
    side: Mapped[str] = mapped_column(String)
    qty: Mapped[Decimal] = mapped_column(DecimalText)
    price: Mapped[Decimal] = mapped_column(DecimalText)
    fee: Mapped[Decimal] = mapped_column(DecimalText)
    liquidity: Mapped[str] = mapped_column(String)
    ts: Mapped[int] = mapped_column(BigInteger)


class PositionRow(Base):
    __tablename__ = "positions"

    bot_id: Mapped[str] = mapped_column(String, _bot_fk(), primary_key=True)
    symbol: Mapped[str] = mapped_column(String, primary_key=True)
    qty: Mapped[Decimal] = mapped_column(DecimalText)
    avg_price: Mapped[Decimal] = mapped_column(DecimalText)
    realized_pnl: Mapped[Decimal] = mapped_column(DecimalText)
    fees: Mapped[Decimal] = mapped_column(DecimalText)


class AccountRow(Base):
    __tablename__ = "accounts"

    bot_id: Mapped[str] = mapped_column(String, _bot_fk(), primary_key=True)
    initial_cash: Mapped[Decimal] = mapped_column(DecimalText)
    cash: Mapped[Decimal] = mapped_column(DecimalText)
    realized_pnl: Mapped[Decimal] = mapped_column(DecimalText)
    fees_paid: Mapped[Decimal] = mapped_column(DecimalText)
    updated_ts: Mapped[int] = mapped_column(BigInteger)


class EquityRow(Base):
    __tablename__ = "equity_snapshots"
    __table_args__ = (Index(None, "bot_id", "ts"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bot_id: Mapped[str] = mapped_column(String, _bot_fk())
    ts: Mapped[int] = mapped_column(BigInteger)
    equity: Mapped[Decimal] = mapped_column(DecimalText)
    cash: Mapped[Decimal] = mapped_column(DecimalText)
    realized_pnl: Mapped[Decimal] = mapped_column(DecimalText)
    unrealized_pnl: Mapped[Decimal] = mapped_column(DecimalText)
    fees: Mapped[Decimal] = mapped_column(DecimalText)


class EventRow(Base):
    """A bot's lines go with the bot, like its trading facts: a log that outlived its bot was
    shown as the history of the next bot given that id. Daemon lines (reloads) have no bot."""

    __tablename__ = "event_log"
    __table_args__ = (Index(None, "bot_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bot_id: Mapped[str | None] = mapped_column(String, _bot_fk(), nullable=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    level: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String)
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


TRADING_TABLES = ("orders", "fills", "positions", "accounts", "equity_snapshots")
RISK_TABLES = ("risk_account_state", "risk_lockouts", "risk_log", "risk_audit")
RESEARCH_TABLES = ("research_runs",)
ALL_TABLES = ("bots", *TRADING_TABLES, "event_log", *RISK_TABLES, *RESEARCH_TABLES)

# The risk engine's tables live in their own module; importing it here puts them in
# Base.metadata whoever imports the models first.
from algotrade.store import models_research, models_risk  # noqa: E402, F401

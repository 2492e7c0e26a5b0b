"""Initial schema: bots, their trading facts, and the event log.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written by hand from ``algotrade.store.models`` (plain SQLAlchemy types, not the model's
TypeDecorators, so this revision never changes when application code does): money is TEXT,
ns timestamps BIGINT, surrogate ids BIGINT (INTEGER on SQLite, the auto-incrementing rowid).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _money(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _bot_id(table: str) -> sa.Column[str]:
    return sa.Column(
        "bot_id",
        sa.String(),
        sa.ForeignKey("bots.bot_id", name=op.f(f"fk_{table}_bot_id_bots"), ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "bots",
        sa.Column("bot_id", sa.String(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("runtime", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("bot_id", name=op.f("pk_bots")),
    )
    op.create_table(
        "orders",
        _bot_id("orders"),
        sa.Column("client_order_id", sa.String(), nullable=False),
        sa.Column("venue_order_id", sa.String(), nullable=False),
        sa.Column("symbol", sa.String(), nullable=False),
        sa.Column("side", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        _money("qty"),
        _money("limit_price", nullable=True),
        _money("stop_price", nullable=True),
        sa.Column("tif", sa.String(), nullable=False),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        _money("filled_qty"),
        _money("avg_fill_price"),
        _money("fees"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.Column("updated_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("bot_id", "client_order_id", name=op.f("pk_orders")),
    )
    op.create_index(
        op.f("ix_orders_bot_id_created_ts_client_order_id"),
        "orders",
        ["bot_id", "created_ts", "client_order_id"],
    )
    op.create_index(op.f("ix_orders_bot_id_status"), "orders", ["bot_id", "status"])
    op.create_table(
        "fills",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        _bot_id("fills"),
        sa.Column("trade_id", sa.String(), nullable=False),
        sa.Column("client_order_id", sa.String(), nullable=False),
        sa.Column("venue_order_id", sa.String(), nullable=False),
        sa.Column("symbol", sa.String(), nullable=False),
        sa.Column("side", sa.String(), nullable=False),
        _money("qty"),
        _money("price"),
        _money("fee"),
        sa.Column("liquidity", sa.String(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
        sa.UniqueConstraint("bot_id", "trade_id", name=op.f("uq_fills_bot_id_trade_id")),
    )
    op.create_index(op.f("ix_fills_bot_id_ts_id"), "fills", ["bot_id", "ts", "id"])
    op.create_table(
        "positions",
        _bot_id("positions"),
        sa.Column("symbol", sa.String(), nullable=False),
        _money("qty"),
        _money("avg_price"),
        _money("realized_pnl"),
        _money("fees"),
        sa.PrimaryKeyConstraint("bot_id", "symbol", name=op.f("pk_positions")),
    )
    op.create_table(
        "accounts",
        _bot_id("accounts"),
        _money("initial_cash"),
        _money("cash"),
        _money("realized_pnl"),
        _money("fees_paid"),
        sa.Column("updated_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("bot_id", name=op.f("pk_accounts")),
    )
    op.create_table(
        "equity_snapshots",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        _bot_id("equity_snapshots"),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        _money("equity"),
        _money("cash"),
        _money("realized_pnl"),
        _money("unrealized_pnl"),
        _money("fees"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equity_snapshots")),
    )
    op.create_index(op.f("ix_equity_snapshots_bot_id_ts"), "equity_snapshots", ["bot_id", "ts"])
    # No foreign key: the event log keeps the history of deleted bots.
    op.create_table(
        "event_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("bot_id", sa.String(), nullable=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_log")),
    )
    op.create_index(op.f("ix_event_log_bot_id_id"), "event_log", ["bot_id", "id"])


def downgrade() -> None:
    op.drop_table("event_log")
    op.drop_table("equity_snapshots")
    op.drop_table("accounts")
    op.drop_table("positions")
    op.drop_table("fills")
    op.drop_table("orders")
    op.drop_table("bots")

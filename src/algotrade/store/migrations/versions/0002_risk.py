"""Account risk engine: per-account state, lockouts, the risk log and the admin audit trail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-20

Written by hand from ``algotrade.store.models_risk`` with plain SQLAlchemy types, like 0001:
money (``risk_log.qty``) is TEXT, ns timestamps BIGINT, surrogate ids BIGINT (INTEGER on
SQLite). No foreign keys: risk accounts are venue accounts, not bots.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "risk_account_state",
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("trading_day", sa.String(), nullable=False),
        sa.Column("last_reset_ts", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_risk_account_state")),
    )
    op.create_table(
        "risk_lockouts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("start_ts", sa.BigInteger(), nullable=False),
        sa.Column("until_kind", sa.String(), nullable=False),
        sa.Column("until_ts", sa.BigInteger(), nullable=True),
        sa.Column("cleared_ts", sa.BigInteger(), nullable=True),
        sa.Column("cleared_by", sa.Text(), nullable=True),
        sa.Column("clear_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_lockouts")),
        sa.UniqueConstraint(
            "account_id",
            "rule",
            "start_ts",
            name=op.f("uq_risk_lockouts_account_id_rule_start_ts"),
        ),
    )
    op.create_index(
        op.f("ix_risk_lockouts_account_id_cleared_ts"),
        "risk_lockouts",
        ["account_id", "cleared_ts"],
    )
    op.create_table(
        "risk_log",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(), nullable=True),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("symbol", sa.String(), nullable=False),
        sa.Column("qty", sa.Text(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_log")),
    )
    op.create_index(op.f("ix_risk_log_account_id_id"), "risk_log", ["account_id", "id"])
    op.create_index(op.f("ix_risk_log_kind_id"), "risk_log", ["kind", "id"])
    op.create_table(
        "risk_audit",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_audit")),
    )


def downgrade() -> None:
    op.drop_table("risk_audit")
    op.drop_table("risk_log")
    op.drop_table("risk_lockouts")
    op.drop_table("risk_account_state")

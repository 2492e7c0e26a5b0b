"""Research runs: the summary row of each sweep or optimization (results stay in Parquet).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Written by hand from ``algotrade.store.models_research`` with plain SQLAlchemy types, like
0001 and 0002.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "research_runs",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("strategy", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total_batches", sa.Integer(), nullable=False),
        sa.Column("done_batches", sa.Integer(), nullable=False),
        sa.Column("best_metric", sa.String(), nullable=True),
        sa.Column("best_value", sa.Float(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_research_runs")),
    )
    op.create_index(op.f("ix_research_runs_created_at"), "research_runs", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_research_runs_created_at"), table_name="research_runs")
    op.drop_table("research_runs")

"""The event log belongs to its bot: deleting a bot deletes its lines (foreign key, cascade).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

Until 0003 a bot's event log outlived it and was then shown as the history of any new bot
given the same id. Lines of bots deleted before this revision are deleted here (the foreign
key could not hold otherwise); daemon lines (no bot id) stay. SQLite cannot add a foreign key
to a table, so batch mode copies ``event_log`` once.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FK = "fk_event_log_bot_id_bots"


def upgrade() -> None:
    op.execute(
        "DELETE FROM event_log WHERE bot_id IS NOT NULL AND bot_id NOT IN (SELECT bot_id FROM bots)"
    )
    with op.batch_alter_table("event_log") as batch:
        batch.create_foreign_key(op.f(_FK), "bots", ["bot_id"], ["bot_id"], ondelete="CASCADE")


def downgrade() -> None:
    with op.batch_alter_table("event_log") as batch:
        batch.drop_constraint(op.f(_FK), type_="foreignkey")

"""outbox: a partial index of the unsettled rows, oldest first, for the claim

It replaces the (status, next_attempt_at) index, which the claim no longer reads: one index
fewer to keep up on every event written.

Revision ID: 20261123_08
Revises: 20261123_07
Create Date: 2026-11-23 07:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261123_08"
down_revision: str | None = "20261123_07"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSETTLED = "status IN ('pending', 'delivering')"


def upgrade() -> None:
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_events_unsettled_created_at",
            ["created_at"],
            unique=False,
            postgresql_where=sa.text(UNSETTLED),
            sqlite_where=sa.text(UNSETTLED),
        )
        batch_op.drop_index("ix_outbox_events_status_next_attempt_at")


def downgrade() -> None:
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_events_unsettled_created_at")

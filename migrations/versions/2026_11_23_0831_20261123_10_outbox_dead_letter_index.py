"""outbox: a partial index of the dead letters instead of one over every row's status

Each event written paid for an (account_id, status, created_at) index that only operator
commands read; the dead letters they retry keep a small partial index of their own.

Revision ID: 20261123_10
Revises: 20261123_09
Create Date: 2026-11-23 08:31:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261123_10"
down_revision: str | None = "20261123_09"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEAD = "status = 'dead'"


def upgrade() -> None:
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_events_dead_account_id_created_at",
            ["account_id", "created_at"],
            unique=False,
            postgresql_where=sa.text(DEAD),
            sqlite_where=sa.text(DEAD),
        )
        batch_op.drop_index("ix_outbox_events_account_id_status_created_at")


def downgrade() -> None:
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_events_account_id_status_created_at",
            ["account_id", "status", "created_at"],
            unique=False,
        )
        batch_op.drop_index("ix_outbox_events_dead_account_id_created_at")

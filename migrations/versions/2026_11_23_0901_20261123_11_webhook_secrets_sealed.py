"""webhooks: room for a sealed secret

Revision ID: 20261123_11
Revises: 20261123_10
Create Date: 2026-11-23 09:01:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261123_11"
down_revision: str | None = "20261123_10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        for column in ("secret", "previous_secret"):
            batch_op.alter_column(
                column, existing_type=sa.String(length=128), type_=sa.String(length=400)
            )


def downgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        for column in ("secret", "previous_secret"):
            batch_op.alter_column(
                column, existing_type=sa.String(length=400), type_=sa.String(length=128)
            )

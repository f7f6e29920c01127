"""customers: the page's whole order (created_at, number) in one index

A page of customers is ordered by created_at, then number. The index on (account_id,
created_at) left the tie-break to a sort of every customer sharing a created_at with the
page's: an import gives thousands the same one, and each page then read and sorted them all.
With number in the index a page is read in order and stops at its limit.

Revision ID: 20261205_80
Revises: 20261205_70
Create Date: 2026-12-05 16:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261205_80"
down_revision: str | None = "20261205_70"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customers_account_id_created_at_number",
            ["account_id", "created_at", "number"],
            unique=False,
        )
        batch_op.drop_index("ix_customers_account_id_created_at")


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customers_account_id_created_at", ["account_id", "created_at"], unique=False
        )
        batch_op.drop_index("ix_customers_account_id_created_at_number")

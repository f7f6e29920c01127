"""accounts: a stable integer id (number) and updated_at; webhooks: a body format

The seed vendor publishes ``Account { id: Int! updatedAt }``. Existing accounts are numbered
by creation (oldest is 1) and their updated_at starts at created_at. A webhook's ``format``
chooses Patron's body (the default, as before) or the seed vendor's envelope.

Revision ID: 20261205_50
Revises: 20261205_40
Create Date: 2026-12-05 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261205_50"
down_revision: str | None = "20261205_40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT account_id FROM accounts ORDER BY created_at, account_id")
    ).all()
    for number, (account_id,) in enumerate(rows, start=1):
        connection.execute(
            sa.text(
                "UPDATE accounts SET number = :number, updated_at = created_at "
                "WHERE account_id = :account_id"
            ),
            {"number": number, "account_id": account_id},
        )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.alter_column("number", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column(
            "updated_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.create_unique_constraint("uq_accounts_number", ["number"])
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("format", sa.String(length=20), nullable=False, server_default="PATRON")
        )


def downgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_column("format")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_accounts_number", type_="unique")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("number")

"""credit_entries: the points entries of a wallet in an index of their own

The points a consumer has earned (LoyaltyDish's pointsEarned, a page of 50 at a time) are
summed over the wallet's LOCAL entries. Found through the (account, wallet, seq) key, every
store-credit entry of the wallet was read and dropped on the way: hundreds on a wallet that
redemption codes or a till draw on. A partial index holds the LOCAL entries only, so the
store-credit writes, the most frequent, do not pay for it.

Revision ID: 20261205_90
Revises: 20261205_80
Create Date: 2026-12-05 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261205_90"
down_revision: str | None = "20261205_80"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_credit_entries_account_id_wallet_uuid_local",
        "credit_entries",
        ["account_id", "wallet_uuid"],
        unique=False,
        postgresql_where=sa.text("credit_type = 'LOCAL'"),
        sqlite_where=sa.text("credit_type = 'LOCAL'"),
    )


def downgrade() -> None:
    op.drop_index("ix_credit_entries_account_id_wallet_uuid_local", table_name="credit_entries")

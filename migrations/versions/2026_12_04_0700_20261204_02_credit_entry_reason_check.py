"""credit_entries: a CHECK on reason, as there is one on action; wallets: the open_lots CHECK

The table has declared ``open_lots >= 0`` since the lots came (20261123_02), but that
revision added the column without its CHECK.

Revision ID: 20261204_02
Revises: 20261204_01
Create Date: 2026-12-04 07:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261204_02"
down_revision: str | None = "20261204_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The members of patron.wallets.models.Reason when this revision was written.
REASONS = (
    "MANUAL",
    "CONVERSION",
    "REDEMPTION",
    "REDEMPTION_REFUND",
    "ORDER",
    "ORDER_REFUND",
    "EXPIRY",
    "IMPORT",
)


def upgrade() -> None:
    allowed = ", ".join(f"'{reason}'" for reason in REASONS)
    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.create_check_constraint(op.f("ck_credit_entries_reason"), f"reason IN ({allowed})")
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.create_check_constraint(op.f("ck_wallets_open_lots"), "open_lots >= 0")


def downgrade() -> None:
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_wallets_open_lots"), type_="check")
    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_credit_entries_reason"), type_="check")

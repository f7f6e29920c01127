"""credit_day_totals: each day's ledger totals, which the console's overview reads

Per account, UTC day, credit type, action and reason (and a bucket that spreads concurrent
writers over a few rows), the sum of the entries' amounts and their number. The ledger writes
it with each entry from now on; the entries already there are counted here, into bucket 0.

Revision ID: 20261205_70
Revises: 20261205_60
Create Date: 2026-12-05 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261205_70"
down_revision: str | None = "20261205_60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The UTC day of an entry's created_at (SQLite keeps UTC timestamps as text).
DAY = {
    "postgresql": "CAST(created_at AT TIME ZONE 'UTC' AS DATE)",
    "sqlite": "date(created_at)",
}


def upgrade() -> None:
    op.create_table(
        "credit_day_totals",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("credit_type", sa.String(length=10), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("entries > 0", name=op.f("ck_credit_day_totals_entries")),
        sa.CheckConstraint("total > 0", name=op.f("ck_credit_day_totals_total")),
        sa.PrimaryKeyConstraint(
            "account_id",
            "day",
            "credit_type",
            "action",
            "reason",
            "bucket",
            name=op.f("pk_credit_day_totals"),
        ),
    )
    day = DAY[op.get_bind().dialect.name]
    op.execute(
        "INSERT INTO credit_day_totals "  # noqa: S608 - the day's expression is a constant
        "(account_id, day, credit_type, action, reason, bucket, total, entries) "
        f"SELECT account_id, {day}, credit_type, action, reason, 0, SUM(amount), COUNT(*) "
        f"FROM credit_entries GROUP BY account_id, {day}, credit_type, action, reason"
    )


def downgrade() -> None:
    op.drop_table("credit_day_totals")

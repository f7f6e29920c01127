"""staff_users, staff_sessions, staff_login_failures: the admin console's people and logins;
credit_entries: an index by (account_id, created_at) for the console's overview

Revision ID: 20261205_20
Revises: 20261205_10
Create Date: 2026-12-05 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261205_20"
down_revision: str | None = "20261205_10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_normalized", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("password_temporary", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('viewer', 'agent', 'admin')", name=op.f("ck_staff_users_role")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_staff_users_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", "staff_id", name=op.f("pk_staff_users")),
    )
    op.create_index(
        "ix_staff_users_email_normalized", "staff_users", ["email_normalized"], unique=True
    )
    op.create_table(
        "staff_sessions",
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id", "staff_id"],
            ["staff_users.account_id", "staff_users.staff_id"],
            name=op.f("fk_staff_sessions_account_id_staff_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_hash", name=op.f("pk_staff_sessions")),
    )
    op.create_index(
        "ix_staff_sessions_account_id_staff_id",
        "staff_sessions",
        ["account_id", "staff_id"],
        unique=False,
    )
    op.create_table(
        "staff_login_failures",
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("failures >= 0", name=op.f("ck_staff_login_failures_failures")),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_staff_login_failures")),
    )
    op.create_index(
        "ix_credit_entries_account_id_created_at",
        "credit_entries",
        ["account_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_credit_entries_account_id_created_at", table_name="credit_entries")
    op.drop_table("staff_login_failures")
    op.drop_index("ix_staff_sessions_account_id_staff_id", table_name="staff_sessions")
    op.drop_table("staff_sessions")
    op.drop_index("ix_staff_users_email_normalized", table_name="staff_users")
    op.drop_table("staff_users")

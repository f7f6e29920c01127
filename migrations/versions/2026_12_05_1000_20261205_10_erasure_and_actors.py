"""erasure and the audit trail: who wrote each entry and event; erased customers and wallets

``customers.erased_at`` and ``wallets.erased_at`` mark a person erased (their personal
fields blank, their wallet kept for the books); ``credit_entries`` and ``audit_events``
record their actor and its name; audit events are found by their subject.

Revision ID: 20261205_10
Revises: 20261204_02
Create Date: 2026-12-05 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261205_10"
down_revision: str | None = "20261204_02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("actor_name", sa.String(length=200), nullable=True))
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column(
            "actor",
            existing_type=sa.String(length=60),
            type_=sa.String(length=80),
            existing_nullable=True,
        )
        batch_op.add_column(sa.Column("actor_name", sa.String(length=200), nullable=True))
        batch_op.create_index(
            "ix_audit_events_account_id_subject_uuid", ["account_id", "subject_uuid"], unique=False
        )
    # What earlier versions wrote for a consumer who signed up without a token.
    op.execute(
        "UPDATE audit_events SET actor = 'consumer:' || subject_uuid "
        "WHERE actor = 'signup' AND subject_type = 'contact'"
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_account_id_subject_uuid")
        batch_op.drop_column("actor_name")
        batch_op.alter_column(
            "actor",
            existing_type=sa.String(length=80),
            type_=sa.String(length=60),
            existing_nullable=True,
        )
    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.drop_column("actor_name")
        batch_op.drop_column("actor")
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("erased_at")

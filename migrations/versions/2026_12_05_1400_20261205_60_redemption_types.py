"""redemptions: the seed vendor's redemption types, delivery method and recipient fields

A code is a credit code (as every code was before: its type follows from credit_type) or a
discount, free-product or shipping code that holds no credit. The free types carry no value,
so the amount CHECK allows 0 for them alone. Existing rows get the credit type of their
credit_type and delivery CREDIT.

Revision ID: 20261205_60
Revises: 20261205_50
Create Date: 2026-12-05 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261205_60"
down_revision: str | None = "20261205_50"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = "amount > 0 OR (amount = 0 AND redemption_type IN ('FREE_PRODUCT', 'FREE_SHIPPING'))"


def upgrade() -> None:
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("redemption_type", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("delivery_method", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("recipient_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("recipient_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("recipient_phone", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("recipient_external_id", sa.String(length=200), nullable=True)
        )
    op.execute(
        "UPDATE redemptions SET delivery_method = 'CREDIT', redemption_type = CASE credit_type "
        "WHEN 'LOCAL' THEN 'CREDIT_LOCAL_CURRENCY' ELSE 'CREDIT_GLOBAL_CURRENCY' END"
    )
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_redemptions_amount"), type_="check")
        batch_op.create_check_constraint(op.f("ck_redemptions_amount"), AMOUNT)


def downgrade() -> None:
    op.execute("DELETE FROM redemptions WHERE amount = 0")
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_redemptions_amount"), type_="check")
        batch_op.create_check_constraint(op.f("ck_redemptions_amount"), "amount > 0")
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_column("recipient_external_id")
        batch_op.drop_column("recipient_phone")
        batch_op.drop_column("recipient_email")
        batch_op.drop_column("recipient_name")
        batch_op.drop_column("delivery_method")
        batch_op.drop_column("redemption_type")

"""create invoices, referring to accounts' customers

Revision ID: i1000001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "i1000001"
down_revision = None
branch_labels = ("billing",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("total", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_invoices_customer"),
    )


def downgrade() -> None:
    op.drop_table("invoices")

"""create customers

Revision ID: c1000001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "c1000001"
down_revision = None
branch_labels = ("accounts",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(length=100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("customers")

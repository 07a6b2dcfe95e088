"""create items

Revision ID: s1000001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "s1000001"
down_revision = None
branch_labels = ("shops",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
    )


def downgrade() -> None:
    op.drop_table("items")

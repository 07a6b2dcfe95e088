"""add_price

Revision ID: c0a000000002
Revises: c0a000000001
"""
from alembic import op
import sqlalchemy as sa

revision = "c0a000000002"
down_revision = "c0a000000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("products", sa.Column("price", sa.Numeric(10, 2)))


def downgrade() -> None:
    with op.batch_alter_table("products") as batch_op:
        batch_op.drop_column("price")

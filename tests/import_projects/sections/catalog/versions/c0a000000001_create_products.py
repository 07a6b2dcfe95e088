"""create_products

Revision ID: c0a000000001
Revises: 
"""
from alembic import op
import sqlalchemy as sa

revision = "c0a000000001"
down_revision = None
branch_labels = ("catalog",)
depends_on = None


def upgrade() -> None:
    op.create_table("products", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(80), nullable=False))


def downgrade() -> None:
    op.drop_table("products")

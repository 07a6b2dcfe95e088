"""create_checks

Revision ID: e0a000000001
Revises: 
"""
from alembic import op
import sqlalchemy as sa

revision = "e0a000000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("checks", sa.Column("id", sa.Integer, primary_key=True), sa.Column("target", sa.String(200), nullable=False))


def downgrade() -> None:
    op.drop_table("checks")

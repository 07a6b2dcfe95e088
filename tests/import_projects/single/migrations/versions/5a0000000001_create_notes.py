"""create_notes

Revision ID: 5a0000000001
Revises: 
"""
from alembic import op
import sqlalchemy as sa

revision = "5a0000000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True), sa.Column("body", sa.Text, nullable=False))


def downgrade() -> None:
    op.drop_table("notes")

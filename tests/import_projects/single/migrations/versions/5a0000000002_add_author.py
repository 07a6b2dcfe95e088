"""add_author

Revision ID: 5a0000000002
Revises: 5a0000000001
"""
from alembic import op
import sqlalchemy as sa

revision = "5a0000000002"
down_revision = "5a0000000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notes", sa.Column("author", sa.String(60)))


def downgrade() -> None:
    with op.batch_alter_table("notes") as batch_op:
        batch_op.drop_column("author")

"""add_author

Revision ID: 8c0000000002
Revises: 8c0000000001
"""
from alembic import op
import sqlalchemy as sa

revision = "8c0000000002"
down_revision = "8c0000000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notes", sa.Column("author", sa.String(60)))
    op.create_index(op.f("idx_notes_author"), "notes", ["author"])


def downgrade() -> None:
    op.drop_index(op.f("idx_notes_author"), table_name="notes")
    with op.batch_alter_table("notes") as batch_op:
        batch_op.drop_column("author")

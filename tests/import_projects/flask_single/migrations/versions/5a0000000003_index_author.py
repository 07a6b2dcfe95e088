"""index_author

Revision ID: 5a0000000003
Revises: 5a0000000002
"""
from alembic import op
import sqlalchemy as sa

revision = "5a0000000003"
down_revision = "5a0000000002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_notes_author", "notes", ["author"])


def downgrade() -> None:
    op.drop_index("ix_notes_author", table_name="notes")

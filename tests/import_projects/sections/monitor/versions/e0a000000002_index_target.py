"""index_target

Revision ID: e0a000000002
Revises: e0a000000001
"""
from alembic import op
import sqlalchemy as sa

revision = "e0a000000002"
down_revision = "e0a000000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_checks_target", "checks", ["target"])


def downgrade() -> None:
    op.drop_index("ix_checks_target", table_name="checks")

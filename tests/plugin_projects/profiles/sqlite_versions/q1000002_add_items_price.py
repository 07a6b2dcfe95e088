"""add items.price (the SQLite history)

Revision ID: q1000002
Revises: q1000001
"""

from alembic import op

revision = "q1000002"
down_revision = "q1000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE items ADD COLUMN price NUMERIC(10, 2)")


def downgrade() -> None:
    op.execute("ALTER TABLE items DROP COLUMN price")

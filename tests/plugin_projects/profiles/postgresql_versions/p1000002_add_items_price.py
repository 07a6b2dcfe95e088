"""add items.price (the PostgreSQL history)

Revision ID: p1000002
Revises: p1000001
"""

from alembic import op

revision = "p1000002"
down_revision = "p1000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE items ADD COLUMN IF NOT EXISTS price NUMERIC(10, 2)")


def downgrade() -> None:
    op.execute("ALTER TABLE items DROP COLUMN IF EXISTS price")

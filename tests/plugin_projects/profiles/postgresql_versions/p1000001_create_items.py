"""create items (the PostgreSQL history)

Revision ID: p1000001
Revises:
"""

from alembic import op

revision = "p1000001"
down_revision = None
branch_labels = ("app",)
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE items (id SERIAL PRIMARY KEY, name VARCHAR(100) NOT NULL)")


def downgrade() -> None:
    op.execute("DROP TABLE items")

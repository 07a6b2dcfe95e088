"""create items (the SQLite history)

Revision ID: q1000001
Revises:
"""

from alembic import op

revision = "q1000001"
down_revision = None
branch_labels = ("app",)
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(100) NOT NULL)")


def downgrade() -> None:
    op.execute("DROP TABLE items")

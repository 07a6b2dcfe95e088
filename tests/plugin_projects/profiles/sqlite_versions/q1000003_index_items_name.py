"""index items.name (the SQLite history)

Revision ID: q1000003
Revises: q1000002
"""

from alembic import op

revision = "q1000003"
down_revision = "q1000002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # multidb: allow=pg-index-not-concurrent a fixture: items is created empty two revisions before
    op.execute("CREATE INDEX IF NOT EXISTS ix_items_name ON items (name)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_items_name")

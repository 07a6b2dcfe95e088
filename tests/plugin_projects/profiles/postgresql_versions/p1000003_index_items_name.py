"""index items.name (the PostgreSQL history)

Revision ID: p1000003
Revises: p1000002
"""

from alembic import op

revision = "p1000003"
down_revision = "p1000002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # multidb: allow=pg-index-not-concurrent a fixture: items is created empty two revisions before
    op.execute("CREATE INDEX ix_items_name ON items USING btree (name)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_items_name")

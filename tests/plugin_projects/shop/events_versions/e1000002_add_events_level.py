"""add events level

Revision ID: e1000002
Revises: e1000001
"""

import sqlalchemy as sa
from alembic import op

revision = "e1000002"
down_revision = "e1000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a data migration: the new column is backfilled from each row's kind
    with op.batch_alter_table("events") as batch_op:
        batch_op.add_column(sa.Column("level", sa.String(length=10), nullable=True))
    op.execute("UPDATE events SET level = CASE WHEN kind = 'crash' THEN 'error' ELSE 'info' END")


def downgrade() -> None:
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_column("level")

"""add notes pinned

Revision ID: n1000002
Revises: n1000001
"""

import sqlalchemy as sa
from alembic import op

revision = "n1000002"
down_revision = "n1000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notes", sa.Column("pinned", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notes") as batch_op:
        batch_op.drop_column("pinned")

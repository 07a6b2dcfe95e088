"""add users email

Revision ID: a1000002
Revises: a1000001
"""

import sqlalchemy as sa
from alembic import op

revision = "a1000002"
down_revision = "a1000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=100), nullable=True))
        # multidb: allow=pg-index-not-concurrent users is a small table in this example
        batch_op.create_index(batch_op.f("ix_users_email"), ["email"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_email"))
        batch_op.drop_column("email")

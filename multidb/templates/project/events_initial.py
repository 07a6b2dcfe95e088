"""create events

Revision ID: @REV@
Revises:
Create Date: @DATE@

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "@REV@"
down_revision = None
branch_labels = ("events",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )


def downgrade() -> None:
    op.drop_table("events")

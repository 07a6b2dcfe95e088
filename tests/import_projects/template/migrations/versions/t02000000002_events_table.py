"""events_table

Revision ID: t02000000002
Revises: t01000000001
Create Date: 2026-01-02 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "t02000000002"
down_revision = "t01000000001"
branch_labels = None
depends_on = None


def upgrade(engine_name: str) -> None:
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name: str) -> None:
    globals()[f"downgrade_{engine_name}"]()


def upgrade_users() -> None:
    pass


def downgrade_users() -> None:
    pass


def upgrade_events() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(20)),
        sa.Column("created_at", sa.DateTime),
    )


def downgrade_events() -> None:
    op.drop_table("events")

"""users_table

Revision ID: t01000000001
Revises: None
Create Date: 2026-01-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "t01000000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(engine_name: str) -> None:
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name: str) -> None:
    globals()[f"downgrade_{engine_name}"]()


def upgrade_users() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
    )


def downgrade_users() -> None:
    op.drop_table("users")


def upgrade_events() -> None:
    pass


def downgrade_events() -> None:
    pass

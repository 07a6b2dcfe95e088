"""both_change

Revision ID: t04000000004
Revises: t03000000003
Create Date: 2026-01-04 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "t04000000004"
down_revision = "t03000000003"
branch_labels = None
depends_on = None


def upgrade(engine_name: str) -> None:
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name: str) -> None:
    globals()[f"downgrade_{engine_name}"]()


def upgrade_users() -> None:
    op.create_index("ix_users_name", "users", ["name"])


def downgrade_users() -> None:
    op.drop_index("ix_users_name", table_name="users")


def upgrade_events() -> None:
    op.add_column("events", sa.Column("source", sa.String(30)))


def downgrade_events() -> None:
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_column("source")

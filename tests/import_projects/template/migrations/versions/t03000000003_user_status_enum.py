"""user_status_enum

Revision ID: t03000000003
Revises: t02000000002
Create Date: 2026-01-03 10:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql  # unused by the code: the split leaves it out

revision = "t03000000003"
down_revision = "t02000000002"
branch_labels = None
depends_on = None

status = sa.Enum("active", "blocked", name="user_status")


def upgrade(engine_name: str) -> None:
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name: str) -> None:
    globals()[f"downgrade_{engine_name}"]()


def upgrade_users() -> None:
    status.create(op.get_bind(), checkfirst=True)
    op.add_column("users", sa.Column("status", status, nullable=True))


def downgrade_users() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("status")
    status.drop(op.get_bind(), checkfirst=True)


def upgrade_events() -> None:
    pass


def downgrade_events() -> None:
    """Nothing for events (a docstring only counts as pass)."""

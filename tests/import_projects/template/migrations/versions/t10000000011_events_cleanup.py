"""events_cleanup

Revision ID: t10000000011
Revises: t09000000010
Create Date: 2026-01-00 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "t10000000011"
down_revision = "t09000000010"
branch_labels = None
depends_on = None


def upgrade(engine_name: str) -> None:
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name: str) -> None:
    globals()[f"downgrade_{engine_name}"]()


def upgrade_users() -> None:
    pass


def downgrade_users() -> None:
    """Nothing for users."""
    pass


def upgrade_events() -> None:
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_column("source")


def downgrade_events() -> None:
    op.add_column("events", sa.Column("source", sa.String(30)))

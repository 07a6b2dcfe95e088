"""events_payload

Revision ID: t08000000009
Revises: t07000000007
Create Date: 2026-01-08 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "t08000000009"
down_revision = "t07000000007"
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
    op.add_column("events", sa.Column("payload", sa.Text))


def downgrade_events() -> None:
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_column("payload")

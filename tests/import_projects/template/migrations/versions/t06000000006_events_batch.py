"""events_batch

Revision ID: t06000000006
Revises: t05000000005
Create Date: 2026-01-06 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "t06000000006"
down_revision = "t05000000005"
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
    with op.batch_alter_table("events") as batch_op:
        batch_op.alter_column("kind", existing_type=sa.String(20), nullable=False)
        batch_op.create_index("ix_events_kind", ["kind"])


def downgrade_events() -> None:
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_index("ix_events_kind")
        batch_op.alter_column("kind", existing_type=sa.String(20), nullable=True)

"""users_email

Revision ID: t08000000008
Revises: t07000000007
Create Date: 2026-01-08 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "t08000000008"
down_revision = "t07000000007"
branch_labels = None
depends_on = None


def upgrade(engine_name: str) -> None:
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name: str) -> None:
    globals()[f"downgrade_{engine_name}"]()


def upgrade_users() -> None:
    op.add_column("users", sa.Column("email", sa.String(120)))


def downgrade_users() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("email")


def upgrade_events() -> None:
    pass


def downgrade_events() -> None:
    pass

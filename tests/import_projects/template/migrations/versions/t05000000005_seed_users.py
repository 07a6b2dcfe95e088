"""seed_users

Revision ID: t05000000005
Revises: t04000000004
Create Date: 2026-01-05 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "t05000000005"
down_revision = "t04000000004"
branch_labels = None
depends_on = None

users_table = sa.table("users", sa.column("id", sa.Integer), sa.column("name", sa.String))
SEED = ["admin", "guest"]


def upgrade(engine_name: str) -> None:
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name: str) -> None:
    globals()[f"downgrade_{engine_name}"]()


def upgrade_users() -> None:
    # a data migration: the rows every installation starts with
    op.bulk_insert(users_table, [{"name": name} for name in SEED])


def downgrade_users() -> None:
    op.execute(users_table.delete().where(users_table.c.name.in_(SEED)))


def upgrade_events() -> None:
    pass


def downgrade_events() -> None:
    pass

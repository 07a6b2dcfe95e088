"""merge_branches

Revision ID: t09000000010
Revises: t08000000008, t08000000009
Create Date: 2026-01-09 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "t09000000010"
down_revision = ("t08000000008", "t08000000009")
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
    pass


def downgrade_events() -> None:
    pass

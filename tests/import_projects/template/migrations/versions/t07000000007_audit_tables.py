"""audit_tables

Revision ID: t07000000007
Revises: t06000000006
Create Date: 2026-01-07 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "t07000000007"
down_revision = "t06000000006"
branch_labels = None
depends_on = None


def audit_columns():
    """The columns every audit table has (a module-level helper both engines use)."""
    return [sa.Column("id", sa.Integer, primary_key=True), sa.Column("at", sa.DateTime, nullable=False)]


def unused_helper():
    return "left out of the split"


def upgrade(engine_name: str) -> None:
    globals()[f"upgrade_{engine_name}"]()


def downgrade(engine_name: str) -> None:
    globals()[f"downgrade_{engine_name}"]()


def upgrade_users() -> None:
    op.create_table("user_audit", *audit_columns())


def downgrade_users() -> None:
    op.drop_table("user_audit")


def upgrade_events() -> None:
    op.create_table("event_audit", *audit_columns())


def downgrade_events() -> None:
    op.drop_table("event_audit")

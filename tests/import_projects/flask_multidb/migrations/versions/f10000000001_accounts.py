"""accounts

Revision ID: f10000000001
Revises: 
"""
from alembic import op
import sqlalchemy as sa

revision = "f10000000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.create_table("accounts", sa.Column("id", sa.Integer, primary_key=True))


def downgrade_():
    op.drop_table("accounts")


def upgrade_stats():
    pass


def downgrade_stats():
    pass

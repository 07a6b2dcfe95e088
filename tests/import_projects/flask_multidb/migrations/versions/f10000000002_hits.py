"""hits

Revision ID: f10000000002
Revises: f10000000001
"""
from alembic import op
import sqlalchemy as sa

revision = "f10000000002"
down_revision = "f10000000001"
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    pass


def downgrade_():
    pass


def upgrade_stats():
    op.create_table("hits", sa.Column("id", sa.Integer, primary_key=True), sa.Column("path", sa.String(200)))


def downgrade_stats():
    op.drop_table("hits")

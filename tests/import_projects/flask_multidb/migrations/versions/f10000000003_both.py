"""both

Revision ID: f10000000003
Revises: f10000000002
"""
from alembic import op
import sqlalchemy as sa

revision = "f10000000003"
down_revision = "f10000000002"
branch_labels = None
depends_on = None


def upgrade(engine_name):
    globals()["upgrade_%s" % engine_name]()


def downgrade(engine_name):
    globals()["downgrade_%s" % engine_name]()


def upgrade_():
    op.add_column("accounts", sa.Column("email", sa.String(120)))


def downgrade_():
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_column("email")


def upgrade_stats():
    op.create_index("ix_hits_path", "hits", ["path"])


def downgrade_stats():
    op.drop_index("ix_hits_path", table_name="hits")

"""create transactions, tags, holding_tags

Revision ID: c1a0f0a1b002
Revises: c1a0f0a1b001
Create Date: 2026-11-22 02:21:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c1a0f0a1b002"
down_revision = "c1a0f0a1b001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holding_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["holding_id"],
            ["holdings.id"],
            name=op.f("fk_transactions_holding_id_holdings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_tags_name")),
    )
    op.create_table(
        "holding_tags",
        sa.Column("holding_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["holding_id"],
            ["holdings.id"],
            name=op.f("fk_holding_tags_holding_id_holdings"),
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["tags.id"],
            name=op.f("fk_holding_tags_tag_id_tags"),
        ),
        sa.PrimaryKeyConstraint("holding_id", "tag_id", name=op.f("pk_holding_tags")),
    )


def downgrade() -> None:
    op.drop_table("holding_tags")
    op.drop_table("tags")
    op.drop_table("transactions")

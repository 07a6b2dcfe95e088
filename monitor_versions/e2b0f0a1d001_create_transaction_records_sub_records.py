"""create transaction_records, sub_records

Revision ID: e2b0f0a1d001
Revises:
Create Date: 2026-11-22 02:24:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e2b0f0a1d001"
down_revision = None
branch_labels = ("monitor",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transaction_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transaction_ref", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transaction_records")),
    )
    op.create_table(
        "sub_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["transaction_records.id"],
            name=op.f("fk_sub_records_record_id_transaction_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sub_records")),
    )


def downgrade() -> None:
    op.drop_table("sub_records")
    op.drop_table("transaction_records")

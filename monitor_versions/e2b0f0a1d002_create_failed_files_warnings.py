"""create failed_files, warnings

Revision ID: e2b0f0a1d002
Revises: e2b0f0a1d001
Create Date: 2026-11-22 02:25:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e2b0f0a1d002"
down_revision = "e2b0f0a1d001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "failed_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["transaction_records.id"],
            name=op.f("fk_failed_files_record_id_transaction_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failed_files")),
    )
    # warnings.code is added by revision e2b0f0a1d003.
    op.create_table(
        "warnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.now(), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["transaction_records.id"],
            name=op.f("fk_warnings_record_id_transaction_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warnings")),
    )


def downgrade() -> None:
    op.drop_table("warnings")
    op.drop_table("failed_files")

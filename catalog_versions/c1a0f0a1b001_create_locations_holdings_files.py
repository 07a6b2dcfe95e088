"""create locations, holdings, files

Revision ID: c1a0f0a1b001
Revises:
Create Date: 2026-11-22 02:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c1a0f0a1b001"
down_revision = None
branch_labels = ("catalog",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
        sa.UniqueConstraint("name", name=op.f("uq_locations_name")),
    )
    op.create_table(
        "holdings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.now(), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_holdings_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holdings")),
    )
    # files.checksum_algorithm and the index on files.holding_id are added by
    # revision c1a0f0a1b003.
    op.create_table(
        "files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holding_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column(
            "size_bytes", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("checksum", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["holding_id"],
            ["holdings.id"],
            name=op.f("fk_files_holding_id_holdings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
    )


def downgrade() -> None:
    op.drop_table("files")
    op.drop_table("holdings")
    op.drop_table("locations")

"""add files.checksum_algorithm and index on files.holding_id

Revision ID: c1a0f0a1b003
Revises: c1a0f0a1b002
Create Date: 2026-11-22 02:22:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c1a0f0a1b003"
down_revision = "c1a0f0a1b002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode so that the same revision works on SQLite (which cannot
    # ALTER most things in place and needs a table copy) as well as on
    # PostgreSQL / MariaDB, where batch mode emits plain ALTER statements.
    with op.batch_alter_table("files") as batch_op:
        batch_op.add_column(
            sa.Column("checksum_algorithm", sa.String(length=20), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_files_holding_id"), ["holding_id"], unique=False
        )


def downgrade() -> None:
    # MySQL/MariaDB: creating ix_files_holding_id made InnoDB discard the
    # index it had implicitly created for fk_files_holding_id_holdings, so the
    # index now backs the foreign key and cannot be dropped while the FK
    # exists.  Drop the FK around the index drop and recreate it afterwards
    # (InnoDB then creates its implicit index again).
    is_mysql = op.get_context().dialect.name in ("mysql", "mariadb")
    if is_mysql:
        op.drop_constraint(
            op.f("fk_files_holding_id_holdings"), "files", type_="foreignkey"
        )
    with op.batch_alter_table("files") as batch_op:
        batch_op.drop_index(batch_op.f("ix_files_holding_id"))
        batch_op.drop_column("checksum_algorithm")
    if is_mysql:
        op.create_foreign_key(
            op.f("fk_files_holding_id_holdings"),
            "files",
            "holdings",
            ["holding_id"],
            ["id"],
        )

"""contract: drop warnings.level, warnings.severity NOT NULL

Revision ID: e2b0f0a1d006
Revises: e2b0f0a1d005
Create Date: 2026-11-22 07:38:32.162799

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic and multidb
revision: str = "e2b0f0a1d006"
down_revision: str | Sequence[str] | None = "e2b0f0a1d005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Step 3 of 3 of the rename warnings.level -> warnings.severity. It removes what the previous release's code
# still uses, so it is a contract step: `multidb upgrade --all --phase expand` holds it back, and it
# runs (plain `multidb upgrade --all`) once no code that reads or writes level is running any more.
phase = "contract"

# A frozen copy of the two columns this step reads and writes (never the live models).
warnings = sa.table("warnings", sa.column("level", sa.String), sa.column("severity", sa.String))


def warnings_table(*, contracted: bool) -> sa.Table:
    """warnings before this step (both columns, nullable) or after it (severity only, NOT NULL),
    for SQLite's table rebuild under --sql (see e2b0f0a1d004)."""
    if contracted:
        columns = [sa.Column("severity", sa.String(length=10), nullable=False)]
    else:
        columns = [
            sa.Column("level", sa.String(length=10), nullable=True),
            sa.Column("severity", sa.String(length=10), nullable=True),
        ]
    return sa.Table(
        "warnings",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=True),
        sa.Column("code", sa.String(length=50), nullable=True),
        *columns,
        sa.ForeignKeyConstraint(
            ["record_id"], ["transaction_records.id"], name="fk_warnings_record_id_transaction_records"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_warnings"),
    )


def upgrade() -> None:
    # Rows the previous release inserted after the data step ran carry only level: copy them now,
    # in the same transaction that drops the column, so that no value is lost.
    op.execute(warnings.update().where(warnings.c.severity.is_(None)).values(severity=warnings.c.level))
    with op.batch_alter_table("warnings", copy_from=warnings_table(contracted=False)) as batch_op:
        batch_op.alter_column("severity", existing_type=sa.String(length=10), nullable=False)
        batch_op.drop_column("level")


def downgrade() -> None:
    with op.batch_alter_table("warnings", copy_from=warnings_table(contracted=True)) as batch_op:
        batch_op.add_column(sa.Column("level", sa.String(length=10), nullable=True))
        batch_op.alter_column("severity", existing_type=sa.String(length=10), nullable=True)
    op.execute(warnings.update().values(level=warnings.c.severity))

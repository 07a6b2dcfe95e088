"""expand: add warnings.severity

Revision ID: e2b0f0a1d004
Revises: e2b0f0a1d003
Create Date: 2026-11-22 07:38:02.795891

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic and multidb
revision: str = "e2b0f0a1d004"
down_revision: str | Sequence[str] | None = "e2b0f0a1d003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# An expand step: it only adds or relaxes, so it changes nothing for `upgrade --phase expand`; `multidb graph`
# marks it (docs/graph.md).
phase = "expand"

# Step 1 of 3 of the rename warnings.level -> warnings.severity, released as expand, migrate, contract
# (docs/data-migrations.md). After this step both columns exist and both are nullable, so the
# code of the previous release (writes only level) and of the next one (writes only severity) both
# work. Step 2 (e2b0f0a1d005) copies the values; step 3 (e2b0f0a1d006, a contract step) drops level.


# SQLite cannot change a column's NULL-ability in place, so batch mode rebuilds the table there.
# Online it reads the table's definition from the database; `multidb upgrade --sql` cannot, so
# copy_from spells the table out, as it stands before each direction of this step. On PostgreSQL
# and MariaDB the batch is plain ALTER TABLE and copy_from is not used.
def warnings_table(*, renamed: bool) -> sa.Table:
    """warnings before this step (renamed=False) or after it (renamed=True)."""
    columns = [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.String(length=10), nullable=renamed),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=True),
        sa.Column("code", sa.String(length=50), nullable=True),
    ]
    if renamed:
        columns.append(sa.Column("severity", sa.String(length=10), nullable=True))
    return sa.Table(
        "warnings",
        sa.MetaData(),
        *columns,
        sa.ForeignKeyConstraint(
            ["record_id"], ["transaction_records.id"], name="fk_warnings_record_id_transaction_records"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_warnings"),
    )


def upgrade() -> None:
    with op.batch_alter_table("warnings", copy_from=warnings_table(renamed=False)) as batch_op:
        batch_op.add_column(sa.Column("severity", sa.String(length=10), nullable=True))
        batch_op.alter_column("level", existing_type=sa.String(length=10), nullable=True)


def downgrade() -> None:
    # the data step's downgrade has given every row a level again
    with op.batch_alter_table("warnings", copy_from=warnings_table(renamed=True)) as batch_op:
        batch_op.alter_column("level", existing_type=sa.String(length=10), nullable=False)
        batch_op.drop_column("severity")

"""expand: add locations.medium

Revision ID: c1a0f0a1b005
Revises: c1a0f0a1b004
Create Date: 2026-11-22 07:38:02.251716

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic and multidb
revision: str = "c1a0f0a1b005"
down_revision: str | Sequence[str] | None = "c1a0f0a1b004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# An expand step: it only adds or relaxes, so it changes nothing for `upgrade --phase expand`; `multidb graph`
# marks it (docs/graph.md).
phase = "expand"

# Step 1 of 3 of the rename locations.kind -> locations.medium, released as expand, migrate, contract
# (docs/data-migrations.md). After this step both columns exist and both are nullable, so the
# code of the previous release (writes only kind) and of the next one (writes only medium) both
# work. Step 2 (c1a0f0a1b006) copies the values; step 3 (c1a0f0a1b007, a contract step) drops kind.


# SQLite cannot change a column's NULL-ability in place, so batch mode rebuilds the table there.
# Online it reads the table's definition from the database; `multidb upgrade --sql` cannot, so
# copy_from spells the table out, as it stands before each direction of this step. On PostgreSQL
# and MariaDB the batch is plain ALTER TABLE and copy_from is not used.
def locations_table(*, renamed: bool) -> sa.Table:
    """locations before this step (renamed=False) or after it (renamed=True)."""
    columns = [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=renamed),
    ]
    if renamed:
        columns.append(sa.Column("medium", sa.String(length=20), nullable=True))
    return sa.Table(
        "locations",
        sa.MetaData(),
        *columns,
        sa.PrimaryKeyConstraint("id", name="pk_locations"),
        sa.UniqueConstraint("name", name="uq_locations_name"),
    )


def upgrade() -> None:
    with op.batch_alter_table("locations", copy_from=locations_table(renamed=False)) as batch_op:
        batch_op.add_column(sa.Column("medium", sa.String(length=20), nullable=True))
        batch_op.alter_column("kind", existing_type=sa.String(length=20), nullable=True)


def downgrade() -> None:
    # the data step's downgrade has given every row a kind again
    with op.batch_alter_table("locations", copy_from=locations_table(renamed=True)) as batch_op:
        batch_op.alter_column("kind", existing_type=sa.String(length=20), nullable=False)
        batch_op.drop_column("medium")

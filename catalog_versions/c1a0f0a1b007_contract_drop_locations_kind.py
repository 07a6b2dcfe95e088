"""contract: drop locations.kind, locations.medium NOT NULL

Revision ID: c1a0f0a1b007
Revises: c1a0f0a1b006
Create Date: 2026-11-22 07:38:31.605472

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic and multidb
revision: str = "c1a0f0a1b007"
down_revision: str | Sequence[str] | None = "c1a0f0a1b006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Step 3 of 3 of the rename locations.kind -> locations.medium. It removes what the previous release's code
# still uses, so it is a contract step: `multidb upgrade --all --phase expand` holds it back, and it
# runs (plain `multidb upgrade --all`) once no code that reads or writes kind is running any more.
phase = "contract"

# A frozen copy of the two columns this step reads and writes (never the live models).
locations = sa.table("locations", sa.column("kind", sa.String), sa.column("medium", sa.String))


def locations_table(*, contracted: bool) -> sa.Table:
    """locations before this step (both columns, nullable) or after it (medium only, NOT NULL),
    for SQLite's table rebuild under --sql (see c1a0f0a1b005)."""
    if contracted:
        columns = [sa.Column("medium", sa.String(length=20), nullable=False)]
    else:
        columns = [
            sa.Column("kind", sa.String(length=20), nullable=True),
            sa.Column("medium", sa.String(length=20), nullable=True),
        ]
    return sa.Table(
        "locations",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        *columns,
        sa.PrimaryKeyConstraint("id", name="pk_locations"),
        sa.UniqueConstraint("name", name="uq_locations_name"),
    )


def upgrade() -> None:
    # Rows the previous release inserted after the data step ran carry only kind: copy them now,
    # in the same transaction that drops the column, so that no value is lost.
    op.execute(locations.update().where(locations.c.medium.is_(None)).values(medium=locations.c.kind))
    with op.batch_alter_table("locations", copy_from=locations_table(contracted=False)) as batch_op:
        batch_op.alter_column("medium", existing_type=sa.String(length=20), nullable=False)
        batch_op.drop_column("kind")


def downgrade() -> None:
    with op.batch_alter_table("locations", copy_from=locations_table(contracted=True)) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), nullable=True))
        batch_op.alter_column("medium", existing_type=sa.String(length=20), nullable=True)
    op.execute(locations.update().values(kind=locations.c.medium))

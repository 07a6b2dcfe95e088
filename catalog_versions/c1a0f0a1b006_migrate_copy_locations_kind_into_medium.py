"""migrate: copy locations.kind into medium

Revision ID: c1a0f0a1b006
Revises: c1a0f0a1b005
Create Date: 2026-11-22 07:38:17.207220

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from multidb import data

# Frozen copies of the tables this data step uses, as the models stood
# when the revision was written. Use these, never the live models:
# the models will change, and this revision must keep working.
metadata = sa.MetaData()

locations = sa.Table(
    'locations',
    metadata,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=True),
    sa.Column('medium', sa.String(length=20), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
)

# revision identifiers, used by Alembic and multidb
revision: str = 'c1a0f0a1b006'
down_revision: str | Sequence[str] | None = 'c1a0f0a1b005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    data.require_columns(locations, bind=op.get_bind())
    # Step 2 of the rename locations.kind -> locations.medium (expand, migrate, contract).
    # Only rows not migrated yet: running it again, or after new code wrote both, changes nothing.
    data.update_in_batches(
        locations,
        {"medium": locations.c.kind},
        where=locations.c.medium.is_(None) & locations.c.kind.is_not(None),
    )


def downgrade() -> None:
    # Rows the new code wrote carry only medium; give them a kind again before the
    # expand step's downgrade makes kind NOT NULL.
    data.update_in_batches(
        locations,
        {"kind": locations.c.medium},
        where=locations.c.kind.is_(None),
    )

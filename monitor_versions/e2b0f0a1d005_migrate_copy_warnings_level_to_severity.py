"""migrate: copy warnings.level to severity

Revision ID: e2b0f0a1d005
Revises: e2b0f0a1d004
Create Date: 2026-11-22 07:38:17.751607

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

warnings = sa.Table(
    'warnings',
    metadata,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.Column('level', sa.String(length=10), nullable=True),
    sa.Column('severity', sa.String(length=10), nullable=True),
    sa.Column('code', sa.String(length=50), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
)

# revision identifiers, used by Alembic and multidb
revision: str = 'e2b0f0a1d005'
down_revision: str | Sequence[str] | None = 'e2b0f0a1d004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    data.require_columns(warnings, bind=op.get_bind())
    # Step 2 of the rename warnings.level -> warnings.severity (expand, migrate, contract).
    # Only rows not migrated yet: running it again, or after new code wrote both, changes nothing.
    data.update_in_batches(
        warnings,
        {"severity": warnings.c.level},
        where=warnings.c.severity.is_(None) & warnings.c.level.is_not(None),
    )


def downgrade() -> None:
    # Rows the new code wrote carry only severity; give them a level again before the
    # expand step's downgrade makes level NOT NULL.
    data.update_in_batches(
        warnings,
        {"level": warnings.c.severity},
        where=warnings.c.level.is_(None),
    )

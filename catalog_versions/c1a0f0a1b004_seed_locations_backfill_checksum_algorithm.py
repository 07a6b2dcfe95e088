"""seed reference locations, backfill files.checksum_algorithm

Revision ID: c1a0f0a1b004
Revises: c1a0f0a1b003
Create Date: 2026-11-22 02:23:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c1a0f0a1b004"
down_revision = "c1a0f0a1b003"
branch_labels = None
depends_on = None


# ---------------------------------------------------------------------------
# Why the tables are copied here instead of importing example_app.catalog:
#
# A revision file is a frozen snapshot of one step in the schema's history.
# The live models in example_app/catalog.py describe the schema as it is
# *today*; they will keep changing (columns renamed, added or dropped) after
# this revision was written.  If this data migration imported them, then
# running it later against a database that is at revision c1a0f0a1b003 would
# use the future shape of the tables and break (or silently write wrong
# data).  So the revision declares lightweight copies of just the tables and
# columns it touches, exactly as they exist at this point in the history.
#
# The statements are set-based (INSERT ... VALUES, UPDATE ... WHERE) and never
# SELECT or reflect, so the revision also works in offline ``--sql`` mode.
# ---------------------------------------------------------------------------
locations = sa.table(
    "locations",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("kind", sa.String),
)

files = sa.table(
    "files",
    sa.column("id", sa.Integer),
    sa.column("checksum", sa.String),
    sa.column("checksum_algorithm", sa.String),
)

REFERENCE_LOCATIONS = [
    {"name": "primary-disk", "kind": "disk"},
    {"name": "archive-tape", "kind": "tape"},
]


def upgrade() -> None:
    op.bulk_insert(locations, REFERENCE_LOCATIONS)

    op.execute(
        files.update()
        .where(files.c.checksum.is_not(None))
        .where(files.c.checksum_algorithm.is_(None))
        .values(checksum_algorithm="sha256")
    )


def downgrade() -> None:
    # Undo the backfill.  Rows the application itself marked 'sha256' after
    # the upgrade are indistinguishable from backfilled ones; they are reset
    # too, which is harmless because the previous revision drops the column.
    op.execute(
        files.update()
        .where(files.c.checksum.is_not(None))
        .where(files.c.checksum_algorithm == "sha256")
        .values(checksum_algorithm=None)
    )

    # Remove exactly the two reference rows inserted above (this fails, as it
    # should, if holdings still point at them).
    op.execute(
        locations.delete().where(
            locations.c.name.in_([row["name"] for row in REFERENCE_LOCATIONS])
        )
    )

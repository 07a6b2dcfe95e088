"""Facts about the repository's example project (config/, catalog_versions/, monitor_versions/).

Tests import these instead of spelling out revision ids, so that adding a revision to the example
changes one file.
"""

from __future__ import annotations

CATALOG_REVS = [
    "c1a0f0a1b001",  # locations, holdings, files
    "c1a0f0a1b002",  # transactions, tags, holding_tags
    "c1a0f0a1b003",  # files.checksum_algorithm (batch), index on files.holding_id
    "c1a0f0a1b004",  # seeds two locations, backfills checksum_algorithm (data in the revision)
    "c1a0f0a1b005",  # expand: locations.medium added, locations.kind nullable
    "c1a0f0a1b006",  # migrate: a --data revision copying kind into medium
    "c1a0f0a1b007",  # contract (phase = "contract"): kind dropped, medium NOT NULL
]
MONITOR_REVS = [
    "e2b0f0a1d001",  # transaction_records, sub_records
    "e2b0f0a1d002",  # failed_files, warnings
    "e2b0f0a1d003",  # warnings.code
    "e2b0f0a1d004",  # expand: warnings.severity added, warnings.level nullable
    "e2b0f0a1d005",  # migrate: a --data revision copying level into severity
    "e2b0f0a1d006",  # contract (phase = "contract"): level dropped, severity NOT NULL
]
CATALOG_HEAD = CATALOG_REVS[-1]
MONITOR_HEAD = MONITOR_REVS[-1]
CATALOG_EXPANDED = CATALOG_REVS[-2]  # where `upgrade --phase expand` stops
MONITOR_EXPANDED = MONITOR_REVS[-2]

# ids for a revision a test adds on top of each head (no example revision uses them)
CATALOG_NEXT = "c1a0f0a1b0f1"
MONITOR_NEXT = "e2b0f0a1d0f1"

CATALOG_TABLES = {"locations", "holdings", "files", "transactions", "tags", "holding_tags"}
MONITOR_TABLES = {"transaction_records", "sub_records", "failed_files", "warnings"}
SEEDED_LOCATIONS = {("primary-disk", "disk"), ("archive-tape", "tape")}  # (name, medium) at head


def upgraded(revisions: list[str]) -> str:
    """What the result table says for a database upgraded through ``revisions``."""
    return f"upgraded ({len(revisions)} revisions)"


# a catalog revision on top of the head that creates a table, writes a row, then raises
FAILING_FILE = f"{CATALOG_NEXT}_half_done.py"
FAILING_ERROR = "boom halfway through"


def next_catalog_revision(doc: str, upgrade: str, downgrade: str, imports: str = "from alembic import op") -> str:
    """A catalog revision file on top of the head (id CATALOG_NEXT); ``upgrade``/``downgrade``: the bodies."""
    return f'''"""{doc}

Revision ID: {CATALOG_NEXT}
Revises: {CATALOG_HEAD}
"""
import sqlalchemy as sa
{imports}

revision = "{CATALOG_NEXT}"
down_revision = "{CATALOG_HEAD}"
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


FAILING_REVISION = next_catalog_revision(
    "create a table, then fail",
    f"""    op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute("INSERT INTO half_done (id) VALUES (1)")
    raise RuntimeError("{FAILING_ERROR}")""",
    '    op.drop_table("half_done")',
)

"""A plain ``op.*`` change that SQLite cannot make (ALTER COLUMN, DROP of a constrained column, any
constraint change) fails with a one-line error that says what to do: batch mode.

Through the CLI, on the example project's SQLite catalog, with a revision on top of its head.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from assertions import one_error_line

from example_project import CATALOG_HEAD, CATALOG_NEXT

REVISION = '''"""a change SQLite cannot make in place

Revision ID: {rev}
Revises: {down}
"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    {body}


def downgrade() -> None:
    pass
'''

HINT = 'SQLite cannot make this change in place: use batch mode, with op.batch_alter_table("{table}") as batch_op:'

CASES = {
    "alter-column": ('op.alter_column("locations", "name", nullable=True)', 'near "ALTER": syntax error', "locations"),
    "drop-unique-column": ('op.drop_column("locations", "name")', "after drop column", "locations"),
    "check-constraint": (
        'op.create_check_constraint("positive", "holdings", "id > 0")',
        "No support for ALTER of constraints in SQLite dialect",
        "holdings",
    ),
    "drop-constraint": (
        'op.drop_constraint("uq_locations_name", "locations", type_="unique")',
        "No support for ALTER of constraints in SQLite dialect",
        "locations",
    ),
    "foreign-key": (
        'op.create_foreign_key(None, "transactions", "locations", ["holding_id"], ["id"])',
        "No support for ALTER of constraints in SQLite dialect",
        "transactions",
    ),
}


def add_revision(project, body: str) -> None:
    text = REVISION.format(rev=CATALOG_NEXT, down=CATALOG_HEAD, body=body)
    (project / "catalog_versions" / f"{CATALOG_NEXT}_in_place.py").write_text(text)


def head(project) -> set[str]:
    with closing(sqlite3.connect(project / "var" / "catalog.db")) as conn:
        return {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_change_sqlite_cannot_make_in_place_gets_the_batch_hint(cli, project, case):
    body, error, table = CASES[case]
    assert cli("upgrade", "catalog").exit_code == 0
    add_revision(project, body)
    result = cli("upgrade", "catalog")
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert error in line
    assert HINT.format(table=table) in line
    assert f"{CATALOG_NEXT}_in_place.py, line" in line
    assert "batch: " not in line or "batch: never" in line
    assert "Traceback" not in result.output
    assert head(project) == {CATALOG_HEAD}


def test_offline_constraint_change_gets_the_hint(cli, project):
    add_revision(project, CASES["check-constraint"][0])
    result = cli("upgrade", "catalog", "--sql")
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert HINT.format(table="holdings") in line
    assert not (project / "sql").exists()


def test_other_sqlite_errors_get_no_hint(cli, project):
    assert cli("upgrade", "catalog").exit_code == 0
    add_revision(project, 'op.execute("INSERT INTO no_such_table VALUES (1)")')
    result = cli("upgrade", "catalog")
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert "no such table: no_such_table" in line
    assert "batch" not in line


def test_the_same_operation_on_postgresql_gets_no_hint(cli, project, pg_database):
    import yaml

    path = project / "config" / "multidb.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["databases"]["catalog"]["url"] = pg_database()
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert cli("upgrade", "catalog").exit_code == 0
    add_revision(project, 'op.create_check_constraint("positive", "holdings", "id > 0")\n    raise RuntimeError("x")')
    result = cli("upgrade", "catalog")
    assert result.exit_code == 1
    assert "batch" not in one_error_line(result.stderr)

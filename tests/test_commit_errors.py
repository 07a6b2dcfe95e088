"""An error raised by the commit that ends a revision is reported like any revision failure (issue 11).

A deferred constraint is checked when its transaction commits, not when the revision's statement
runs: the revision's ``upgrade()`` returns, its version row is written, and the commit fails. On
PostgreSQL each revision commits on its own (``transaction: per_revision``), so that failure
belongs to the revision just run: the command exits 1 with one error line naming the database and
the revision, shows the result table, and the revisions before it stay applied. SQLite checks
deferred foreign keys at commit too (with ``PRAGMA foreign_keys`` on, which the revision sets), but
there a ``per_revision`` run is one transaction (a savepoint per revision, committed once): the
error comes from the run's commit, and says so, naming the run's last revision. With ``per_run``
the error names the run's commit too, and nothing of the run is applied.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from assertions import one_error_line
from test_transactions import CREATE, pg_rows, pg_tables, rev, sqlite_tables, sqlite_versions, upgrade, write_project

TABLES = """op.create_table("parent", sa.Column("id", sa.Integer(), primary_key=True))
    op.create_table(
        "child",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["parent.id"], deferrable=True, initially="DEFERRED"),
    )"""
# the statement runs; the deferred foreign key fails only when the revision's transaction commits
BAD_INSERT = 'op.execute("INSERT INTO child (id, parent_id) VALUES (1, 42)")'
# SQLite enforces foreign keys only with this pragma, which does nothing inside a transaction: the
# revision sets it in an autocommit block (which commits the run so far, as Alembic does)
SQLITE_FK = (
    """with op.get_context().autocommit_block():
        op.execute("PRAGMA foreign_keys = ON")
    """
    + BAD_INSERT
)


def _assert_reported(result, revision: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    line = one_error_line(result.stderr)
    assert "unexpected" not in line, line
    assert "main" in line and revision in line, line
    assert "foreign" in line.lower(), line
    table = result.stderr.splitlines()
    assert any(row.startswith("DATABASE") for row in table), result.stderr  # the result table is shown
    assert any(row.startswith("main ") and "failed" in row for row in table), result.stderr


@pytest.mark.postgresql
def test_postgresql_commit_error_in_the_middle_names_the_revision(tmp_path: Path, pg_database) -> None:
    url = pg_database()
    config = write_project(tmp_path, url, [TABLES, CREATE, BAD_INSERT, CREATE])
    result = upgrade(config)
    _assert_reported(result, rev(2))
    assert pg_rows(url, "SELECT version_num FROM alembic_version") == [(rev(1),)]  # 0 and 1 stay applied
    assert pg_tables(url) == {"parent", "child", "t1"}
    assert pg_rows(url, "SELECT count(*) FROM child") == [(0,)]


@pytest.mark.postgresql
def test_postgresql_commit_error_of_the_last_revision_names_it(tmp_path: Path, pg_database) -> None:
    url = pg_database()
    config = write_project(tmp_path, url, [TABLES, CREATE, BAD_INSERT])
    result = upgrade(config)
    _assert_reported(result, rev(2))
    assert pg_rows(url, "SELECT version_num FROM alembic_version") == [(rev(1),)]


@pytest.mark.postgresql
def test_postgresql_per_run_commit_error_applies_nothing(tmp_path: Path, pg_database) -> None:
    url = pg_database()
    config = write_project(tmp_path, url, [TABLES, CREATE, BAD_INSERT, CREATE], transaction="per_run")
    result = upgrade(config)
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert "unexpected" not in line and "main" in line and "foreign" in line.lower(), line
    assert "the run's commit" in line and rev(3) in line, line
    assert pg_tables(url) == set()


@pytest.mark.parametrize("last", [False, True], ids=["middle", "last"])
def test_sqlite_deferred_foreign_key_fails_the_runs_commit(tmp_path: Path, last: bool) -> None:
    db = tmp_path / "var" / "main.db"
    bodies = [TABLES, CREATE, SQLITE_FK] + ([] if last else [CREATE])
    config = write_project(tmp_path, f"sqlite:///{db}", bodies)
    result = upgrade(config)
    _assert_reported(result, rev(len(bodies) - 1))
    assert "the run's commit" in one_error_line(result.stderr)
    # the autocommit block committed the run up to revision 1; what came after it is rolled back
    assert sqlite_versions(db) == {rev(1)}
    assert sqlite_tables(db) == {"parent", "child", "t1"}
    with closing(sqlite3.connect(db)) as conn, conn:
        assert conn.execute("SELECT count(*) FROM child").fetchone() == (0,)


@pytest.mark.postgresql
def test_postgresql_atomic_commit_error_is_reported(tmp_path: Path, pg_database) -> None:
    """--atomic commits every database at the end: a commit that fails there is that database's failure."""
    url = pg_database()
    config = write_project(tmp_path, url, [TABLES, CREATE, BAD_INSERT, CREATE])
    result = upgrade(config, "--atomic")
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert "unexpected" not in line and "main" in line and "foreign" in line.lower() and "--atomic" in line, line
    assert any(row.startswith("main ") and "failed" in row for row in result.stderr.splitlines()), result.stderr
    assert pg_tables(url) == set()

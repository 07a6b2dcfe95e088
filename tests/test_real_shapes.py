"""Shapes of revisions seen in real third-party Alembic histories, reduced to small synthetic ones.

Each test here comes from running multidb on published histories (optuna, mlflow): what those revisions
do, written again by hand in a few lines, and what multidb did wrong with it.

* A revision that fails with a database error on SQLite, after another revision of the same run
  succeeded, is reported as that revision's failure (its file and line), not as a failed commit of the
  run, and the revisions before it stay applied (mlflow's downgrades to base on SQLite).
* A revision that opens an ORM ``Session`` on ``op.get_bind()`` and never closes it (optuna's data
  steps) runs on SQLite without SQLAlchemy warning about the savepoint multidb keeps per revision.
"""

from __future__ import annotations

import warnings

import pytest
import sqlalchemy as sa
from assertions import one_error_line
from test_transactions import CREATE, rev, sqlite_tables, sqlite_versions, upgrade, write_project

DB_ERROR = 'op.execute("INSERT INTO no_such_table (id) VALUES (1)")'
OPEN_SESSION = """from sqlalchemy import orm

    session = orm.Session(bind=op.get_bind())  # never committed nor closed
    session.execute(sa.text("INSERT INTO t0 (id) VALUES ({i})"))
    op.create_table("t{i}", sa.Column("id", sa.Integer(), primary_key=True))"""
OPEN_SESSION_THEN_FAIL = OPEN_SESSION + '\n    raise RuntimeError("boom")'


def test_sqlite_database_error_after_an_applied_revision_names_the_failing_revision(tmp_path):
    db = tmp_path / "main.db"
    config = write_project(tmp_path, f"sqlite:///{db}", [CREATE, CREATE, DB_ERROR])
    result = upgrade(config)
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert "no such table: no_such_table" in line, line
    assert f"{rev(2)}_step.py, line" in line, line  # the revision that failed, with its line
    assert "commit" not in line, line  # no commit failed: the run kept the revisions before it
    assert sqlite_versions(db) == {rev(1)}
    assert sqlite_tables(db) == {"t0", "t1"}


@pytest.mark.parametrize(
    ("bodies", "exit_code", "applied", "rows"),
    [
        ([CREATE, OPEN_SESSION, CREATE], 0, 3, [1]),  # a revision follows the one that left its session open
        ([CREATE, OPEN_SESSION], 0, 2, [1]),  # it is the run's last revision
        ([CREATE, OPEN_SESSION, OPEN_SESSION_THEN_FAIL], 1, 2, [1]),  # one fails with its session open
    ],
    ids=["middle", "last", "failing"],
)
def test_sqlite_revision_leaving_a_session_open_runs_without_warnings(tmp_path, bodies, exit_code, applied, rows):
    db = tmp_path / "main.db"
    config = write_project(tmp_path, f"sqlite:///{db}", bodies)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = upgrade(config)
    assert result.exit_code == exit_code, result.output
    assert [str(w.message) for w in seen if issubclass(w.category, sa.exc.SAWarning)] == []
    assert sqlite_versions(db) == {rev(applied - 1)}
    assert sqlite_tables(db) == {f"t{i}" for i in range(applied)}
    with sa.create_engine(f"sqlite:///{db}").connect() as conn:  # the session's rows were kept with their revision
        assert conn.execute(sa.text("SELECT id FROM t0 ORDER BY id")).scalars().all() == rows

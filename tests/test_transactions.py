"""What ``transaction: per_revision`` and ``per_run`` promise, on real SQLite files and a real PostgreSQL server.

* per_revision: each revision is committed on its own. After a failure in a revision, the ones
  before it are applied and committed (read back on a connection of its own), the failed one is not.
* per_run (and ``--atomic``): a failure leaves nothing of the run.
* SQLAlchemy and Alembic own the transactions; the database owns their semantics: multidb never
  changes ``synchronous_commit`` (every commit waits for the disk, as the server is configured).
  SQLite's run is one transaction with a savepoint per revision: one commit per run, which is what
  keeps a SQLite run from paying several ``fsync`` calls per revision (docs/benchmarks.md).

Commits are counted with SQLAlchemy event listeners, and what psycopg2 receives with a cursor class
(counts, never timings). Whether each revision committed on its own is read off the server: the
tables' catalog rows carry the id of the transaction that created them.
"""

from __future__ import annotations

import sqlite3
import textwrap
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import psycopg2.extensions
import pytest
import sqlalchemy as sa
from assertions import user_tables
from click.testing import CliRunner, Result
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

CREATE = 'op.create_table("t{i}", sa.Column("id", sa.Integer(), primary_key=True))'
FAIL = 'op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))\n    raise RuntimeError("boom")'
AUTOCOMMIT_THEN_FAIL = """op.create_table("before_block", sa.Column("id", sa.Integer(), primary_key=True))
    with op.get_context().autocommit_block():
        pass
    op.create_table("after_block", sa.Column("id", sa.Integer(), primary_key=True))
    raise RuntimeError("boom after the block")"""
ONLINE_STEP = """op.add_column("t0", sa.Column("n", sa.Integer(), nullable=True))
    op.execute("INSERT INTO t0 (id) VALUES (1), (2), (3), (4), (5)")
    data.update_in_batches(sa.Table("t0", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                                    sa.Column("n", sa.Integer)), {{"n": 7}}, online=True, batch_size=2)"""


def rev(i: int) -> str:
    return f"{i:04d}aaaaaaaa"


def write_project(root: Path, url: str, bodies: list[str], transaction: str = "per_revision") -> Path:
    """A project with one database ``main`` whose history is one revision per body (``{i}`` filled in)."""
    versions = root / "versions"
    versions.mkdir(parents=True)
    for i, body in enumerate(bodies):
        down = repr(rev(i - 1)) if i else "None"
        labels = "('main',)" if i == 0 else "None"
        (versions / f"{rev(i)}_step.py").write_text(
            textwrap.dedent(
                f"""\
                import sqlalchemy as sa
                from alembic import op
                from multidb import data

                revision = {rev(i)!r}
                down_revision = {down}
                branch_labels = {labels}
                depends_on = None


                def upgrade():
                    BODY


                def downgrade():
                    pass
                """
            ).replace("BODY", body.format(i=i))
        )
    config = root / "config"
    config.mkdir()
    (config / "multidb.yaml").write_text(
        "databases:\n"
        "  main:\n"
        f"    url: {url}\n"
        "    bases: [{label: main, path: ../versions}]\n"
        f"    transaction: {transaction}\n"
    )
    return config / "multidb.yaml"


def upgrade(config: Path, *args: str) -> Result:
    from multidb.cli import main

    return CliRunner().invoke(main, ["-c", str(config), "upgrade", "--all", *args], catch_exceptions=False)


class Events:
    """Every statement sent, and every commit and savepoint, on any engine of this process, in order."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.driver: list[str] = []  # psycopg2 connections: what their cursors sent, in order
        self.connections = 0  # connections opened (any engine)

    def _statement(self, _conn, _cursor, statement, *_args) -> None:
        self.seen.append(" ".join(statement.split()))

    def _commit(self, _conn) -> None:
        self.seen.append("<commit>")

    def _savepoint(self, _conn, _name) -> None:
        self.seen.append("<savepoint>")

    def _connected(self, dbapi_connection, _record) -> None:
        self.connections += 1
        # psycopg2: every statement any cursor sends
        if isinstance(dbapi_connection, psycopg2.extensions.connection):
            dbapi_connection.cursor_factory = self._cursor_class()

    def _cursor_class(self) -> type:
        sent = self.driver

        class Recording(psycopg2.extensions.cursor):
            def execute(self, query, vars=None):
                sent.append(" ".join(str(query).split()))
                return super().execute(query, vars)

        return Recording

    def __enter__(self) -> Events:
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self._statement)
        sa.event.listen(sa.engine.Engine, "commit", self._commit)
        sa.event.listen(sa.engine.Engine, "savepoint", self._savepoint)
        sa.event.listen(sa.pool.Pool, "connect", self._connected)
        return self

    def __exit__(self, *_exc: object) -> None:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", self._statement)
        sa.event.remove(sa.engine.Engine, "commit", self._commit)
        sa.event.remove(sa.engine.Engine, "savepoint", self._savepoint)
        sa.event.remove(sa.pool.Pool, "connect", self._connected)

    def count(self, what: str) -> int:
        return sum(1 for s in self.seen if s == what)


# --- SQLite -----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Path:
    return tmp_path / "var" / "main.db"


def sqlite_tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as conn, conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return user_tables(names)


def sqlite_versions(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as conn, conn:
        return {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")}


def test_sqlite_per_revision_commits_the_run_once(tmp_path, sqlite_db):
    config = write_project(tmp_path, f"sqlite:///{sqlite_db}", [CREATE] * 6)
    with Events() as events:
        result = upgrade(config)
    assert result.exit_code == 0, result.output
    assert sqlite_versions(sqlite_db) == {rev(5)}
    assert sqlite_tables(sqlite_db) == {f"t{i}" for i in range(6)}
    assert events.count("<commit>") == 1, events.seen  # what spares SQLite's fsync calls per revision


def test_sqlite_failing_fourth_revision_keeps_the_first_three(tmp_path, sqlite_db):
    config = write_project(tmp_path, f"sqlite:///{sqlite_db}", [CREATE, CREATE, CREATE, FAIL, CREATE])
    result = upgrade(config)
    assert result.exit_code == 1
    assert "boom" in result.stderr
    assert sqlite_versions(sqlite_db) == {rev(2)}
    assert sqlite_tables(sqlite_db) == {"t0", "t1", "t2"}  # half_done was rolled back with its savepoint


def test_sqlite_failing_first_revision_leaves_nothing(tmp_path, sqlite_db):
    config = write_project(tmp_path, f"sqlite:///{sqlite_db}", [FAIL, CREATE])
    result = upgrade(config)
    assert result.exit_code == 1
    assert sqlite_tables(sqlite_db) == set()
    with closing(sqlite3.connect(sqlite_db)) as conn, conn:  # the version table went with the failed revision
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'").fetchone() == (0,)


def test_sqlite_a_run_after_a_failure_continues_where_it_stopped(tmp_path, sqlite_db):
    config = write_project(tmp_path, f"sqlite:///{sqlite_db}", [CREATE, CREATE, FAIL])
    assert upgrade(config).exit_code == 1
    assert sqlite_versions(sqlite_db) == {rev(1)}
    (tmp_path / "versions" / f"{rev(2)}_step.py").write_text(
        (tmp_path / "versions" / f"{rev(2)}_step.py").read_text().replace('    raise RuntimeError("boom")\n', "")
    )
    from multidb.alembic_config import forget_scripts

    forget_scripts()  # the file changed in place: its folder's time did not
    result = upgrade(config, "--json")
    assert result.exit_code == 0, result.output
    assert sqlite_versions(sqlite_db) == {rev(2)}
    assert sqlite_tables(sqlite_db) == {"t0", "t1", "half_done"}


def test_sqlite_autocommit_block_commits_what_came_before_and_a_later_failure_keeps_it(tmp_path, sqlite_db):
    # as with a commit per revision: the block commits the run so far (the revision's start included);
    # what the revision does after the block is rolled back when it fails
    config = write_project(tmp_path, f"sqlite:///{sqlite_db}", [CREATE, CREATE, AUTOCOMMIT_THEN_FAIL, CREATE])
    result = upgrade(config)
    assert result.exit_code == 1
    assert "boom after the block" in result.stderr
    assert sqlite_versions(sqlite_db) == {rev(1)}
    assert sqlite_tables(sqlite_db) == {"t0", "t1", "before_block"}


def test_sqlite_online_data_step_between_revisions_and_a_failure_after_it(tmp_path, sqlite_db):
    config = write_project(tmp_path, f"sqlite:///{sqlite_db}", [CREATE, ONLINE_STEP, CREATE, FAIL])
    result = upgrade(config)
    assert result.exit_code == 1
    assert sqlite_versions(sqlite_db) == {rev(2)}
    assert sqlite_tables(sqlite_db) == {"t0", "t2", "multidb_data_progress"}
    with closing(sqlite3.connect(sqlite_db)) as conn, conn:
        assert conn.execute("SELECT n, count(*) FROM t0 GROUP BY n").fetchall() == [(7, 5)]
        assert conn.execute("SELECT count(*) FROM multidb_data_progress").fetchone() == (0,)


def test_sqlite_online_data_step_as_the_last_revision_succeeds(tmp_path, sqlite_db):
    config = write_project(tmp_path, f"sqlite:///{sqlite_db}", [CREATE, ONLINE_STEP])
    result = upgrade(config)
    assert result.exit_code == 0, result.output
    assert sqlite_versions(sqlite_db) == {rev(1)}
    with closing(sqlite3.connect(sqlite_db)) as conn, conn:
        assert conn.execute("SELECT n, count(*) FROM t0 GROUP BY n").fetchall() == [(7, 5)]


def test_sqlite_per_run_uses_no_savepoints_and_undoes_the_whole_run(tmp_path, sqlite_db):
    config = write_project(tmp_path, f"sqlite:///{sqlite_db}", [CREATE, CREATE, FAIL], transaction="per_run")
    with Events() as events:
        result = upgrade(config)
    assert result.exit_code == 1
    assert events.count("<savepoint>") == 0
    assert sqlite_tables(sqlite_db) == set()


def test_sqlite_atomic_uses_no_savepoints_and_undoes_everything(tmp_path, sqlite_db):
    config = write_project(tmp_path, f"sqlite:///{sqlite_db}", [CREATE, CREATE, FAIL])
    with Events() as events:
        result = upgrade(config, "--atomic")
    assert result.exit_code == 1
    assert events.count("<savepoint>") == 0
    assert sqlite_tables(sqlite_db) == set()


def test_sqlite_downgrade_per_revision_also_commits_once(tmp_path, sqlite_db):
    config = write_project(tmp_path, f"sqlite:///{sqlite_db}", [CREATE] * 4)
    assert upgrade(config).exit_code == 0
    from multidb.cli import main

    with Events() as events:
        result = CliRunner().invoke(main, ["-c", str(config), "downgrade", "main", "--to", rev(1)])
    assert result.exit_code == 0, result.output
    assert sqlite_versions(sqlite_db) == {rev(1)}
    assert events.count("<commit>") == 1


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture
def pg_url(pg_database: Callable[[], str]) -> Iterator[str]:
    yield pg_database()


def pg_rows(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(make_url(url).set(drivername="postgresql+psycopg2"), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def pg_tables(url: str) -> set[str]:
    rows = pg_rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return user_tables(r[0] for r in rows)


def creating_transactions(url: str) -> dict[str, str]:
    """The id of the transaction that created each table t0, t1, ... (its catalog row's xmin)."""
    rows = pg_rows(url, "SELECT relname, xmin::text FROM pg_class WHERE relkind = 'r' AND relname ~ '^t[0-9]+$'")
    return dict(rows)


def test_postgresql_per_revision_commits_each_revision_and_never_asynchronously(tmp_path, pg_url):
    config = write_project(tmp_path, pg_url, [CREATE] * 5)
    with Events() as events:
        result = upgrade(config)
    assert result.exit_code == 0, result.output
    assert pg_rows(pg_url, "SELECT version_num FROM alembic_version") == [(rev(4),)]
    assert pg_tables(pg_url) == {f"t{i}" for i in range(5)}
    assert len(set(creating_transactions(pg_url).values())) == 5  # each revision committed on its own
    assert not [s for s in events.driver if "synchronous_commit" in s]  # every commit waits for the disk


@pytest.mark.parametrize("noop", [False, True], ids=["from-empty", "no-op"])
def test_postgresql_run_uses_one_connection(tmp_path, pg_url, noop):
    """The checks' connection runs the migration too (and holds the lock): one connection per database."""
    config = write_project(tmp_path, pg_url, [CREATE] * 3)
    if noop:
        assert upgrade(config).exit_code == 0
    with Events() as events:
        assert upgrade(config).exit_code == 0
    assert events.connections == 1
    assert pg_rows(pg_url, "SELECT version_num FROM alembic_version") == [(rev(2),)]


def test_postgresql_per_run_is_one_transaction(tmp_path, pg_url):
    config = write_project(tmp_path, pg_url, [CREATE] * 3, transaction="per_run")
    assert upgrade(config).exit_code == 0
    assert len(set(creating_transactions(pg_url).values())) == 1  # the run's revisions committed together


def test_postgresql_autocommit_block_inside_per_revision(tmp_path, pg_url):
    """A revision with an autocommit block, between others: each still commits on its own, in order."""
    block = """op.create_table("t{i}", sa.Column("id", sa.Integer(), primary_key=True))
    with op.get_context().autocommit_block():
        op.execute("SELECT 1")
    op.create_table("after_block", sa.Column("id", sa.Integer(), primary_key=True))"""
    config = write_project(tmp_path, pg_url, [CREATE, block, CREATE])
    assert upgrade(config).exit_code == 0
    assert pg_rows(pg_url, "SELECT version_num FROM alembic_version") == [(rev(2),)]
    assert pg_tables(pg_url) == {"t0", "t1", "t2", "after_block"}
    assert len(set(creating_transactions(pg_url).values())) == 3


def test_postgresql_failing_revision_keeps_the_ones_before_it(tmp_path, pg_url):
    config = write_project(tmp_path, pg_url, [CREATE, CREATE, CREATE, FAIL, CREATE])
    result = upgrade(config)
    assert result.exit_code == 1
    assert "boom" in result.stderr
    # read on a connection of its own: the first three are committed, each on its own; the fourth is not there
    assert pg_rows(pg_url, "SELECT version_num FROM alembic_version") == [(rev(2),)]
    assert pg_tables(pg_url) == {"t0", "t1", "t2"}
    assert len(set(creating_transactions(pg_url).values())) == 3


def test_postgresql_per_run_failure_applies_nothing(tmp_path, pg_url):
    config = write_project(tmp_path, pg_url, [CREATE, CREATE, CREATE, FAIL, CREATE], transaction="per_run")
    result = upgrade(config)
    assert result.exit_code == 1
    assert "boom" in result.stderr
    assert pg_tables(pg_url) == set()
    assert pg_rows(pg_url, "SELECT count(*) FROM pg_tables WHERE tablename = 'alembic_version'") == [(0,)]


def test_postgresql_per_run_never_changes_synchronous_commit(tmp_path, pg_url):
    config = write_project(tmp_path, pg_url, [CREATE] * 3, transaction="per_run")
    with Events() as events:
        result = upgrade(config)
    assert result.exit_code == 0, result.output
    assert not [s for s in events.driver if "synchronous_commit" in s]


def test_postgresql_session_setting_stays_on_the_migration_connection(tmp_path, pg_url):
    # multidb changes no commit setting, for its session or any other
    config = write_project(tmp_path, pg_url, [CREATE] * 2)
    assert upgrade(config).exit_code == 0
    assert pg_rows(pg_url, "SHOW synchronous_commit") == [("on",)]


def test_sqlite_interrupted_run_keeps_the_revisions_before_the_interrupted_one(tmp_path, sqlite_db):
    # Ctrl-C inside a revision: it is rolled back, the ones before it are committed (as per revision)
    interrupt = FAIL.replace('RuntimeError("boom")', "KeyboardInterrupt")
    config = write_project(tmp_path, f"sqlite:///{sqlite_db}", [CREATE, CREATE, interrupt, CREATE])
    from multidb.cli import main

    result = CliRunner().invoke(main, ["-c", str(config), "upgrade", "--all"])
    assert result.exit_code != 0
    assert sqlite_versions(sqlite_db) == {rev(1)}
    assert sqlite_tables(sqlite_db) == {"t0", "t1"}

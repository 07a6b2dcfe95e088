"""Reliability under concurrency, crashes, failures and production guards, on real databases.

Nothing is mocked: runners are real ``python -m multidb`` processes (killed with real signals),
locks are held by real other processes or sessions, and every claim is checked against what is
really in the SQLite files, the PostgreSQL databases and the MariaDB database.

Many tests run twice, on SQLite (the ``local`` profile) and on PostgreSQL (the ``production``
profile with throwaway databases); see the ``target`` fixture.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from assertions import one_error_line, user_tables
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from example_project import (
    CATALOG_EXPANDED,
    CATALOG_HEAD,
    CATALOG_NEXT,
    CATALOG_TABLES,
    MONITOR_HEAD,
    MONITOR_NEXT,
    MONITOR_TABLES,
)

FOLDERS = {"catalog": "catalog_versions", "monitor": "monitor_versions"}
HOLD_LOCK = Path(__file__).parent / "reliability" / "hold_lock.py"
PROCESS_BOUND = 60  # seconds: a generous bound proving "no hang", never a pass/fail timing

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
BOTH = [SQLITE, pytest.param(POSTGRESQL, marks=pytest.mark.postgresql)]


# --- the databases under test --------------------------------------------------------------------


@dataclass
class Target:
    """The example project's two databases on one backend, with ways to run and inspect them."""

    kind: str
    project: Path
    urls: dict[str, str]  # database name -> SQLAlchemy URL for inspection
    env: dict[str, str]  # environment the production profile needs (empty for SQLite)
    profile: tuple[str, ...]  # the CLI's profile arguments
    invoke: Callable

    def cli(self, *args: str):
        """``multidb ARGS`` in-process, on this target's profile."""
        return self.invoke(*args, *self.profile, env=self.env)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "multidb", *args, *self.profile]

    def process_env(self) -> dict[str, str]:
        return {**os.environ, **self.env, "PYTHONDONTWRITEBYTECODE": "1"}

    def spawn(self, *args: str, **kwargs) -> subprocess.Popen:
        """``multidb ARGS`` as a real process in the project folder."""
        return subprocess.Popen(
            self.command(*args),
            cwd=self.project,
            env=self.process_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            **kwargs,
        )

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.command(*args),
            cwd=self.project,
            env=self.process_env(),
            capture_output=True,
            text=True,
            timeout=PROCESS_BOUND,
        )

    # -- inspection, straight from the database --

    def exists(self, name: str) -> bool:
        if self.kind != SQLITE:
            return True
        return Path(make_url(self.urls[name]).database).exists()

    def connect(self, name: str):
        return disposing(sa.create_engine(self.urls[name], poolclass=NullPool))

    def tables(self, name: str) -> set[str]:
        """User tables (multidb's bookkeeping left out); a missing SQLite file has none."""
        if not self.exists(name):
            return set()
        with self.connect(name) as engine:
            return user_tables(sa.inspect(engine).get_table_names())

    def versions(self, name: str) -> set[str]:
        """The rows of the version table; empty when it does not exist."""
        if not self.exists(name):
            return set()
        with self.connect(name) as engine:
            if not sa.inspect(engine).has_table("alembic_version"):
                return set()
            with engine.connect() as conn:
                return {r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}

    def rows(self, name: str, sql: str) -> list[tuple]:
        with self.connect(name) as engine, engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]

    def columns(self, name: str, table: str) -> set[str]:
        with self.connect(name) as engine:
            return {c["name"] for c in sa.inspect(engine).get_columns(table)}

    def indexes(self, name: str, table: str) -> set[str]:
        with self.connect(name) as engine:
            return {i["name"] for i in sa.inspect(engine).get_indexes(table)}

    def snapshot(self, name: str) -> dict:
        """Everything a run could change: versions, tables, columns, indexes and row counts."""
        if not self.exists(name):
            return {"exists": False}
        with self.connect(name) as engine, engine.connect() as conn:
            inspector = sa.inspect(conn)
            tables = sorted(t for t in inspector.get_table_names() if not t.startswith("sqlite_"))
            return {
                "tables": {
                    t: {
                        "columns": sorted(c["name"] for c in inspector.get_columns(t)),
                        "indexes": sorted(str(i["name"]) for i in inspector.get_indexes(t)),
                        "rows": conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar(),
                    }
                    for t in tables
                },
                "versions": sorted(self.versions(name)),
            }

    def status(self) -> dict[str, dict]:
        result = self.cli("status", "--json")
        assert result.exit_code == 0, result.output
        return {s["name"]: s for s in json.loads(result.stdout)}


@contextmanager
def disposing(engine: sa.Engine) -> Iterator[sa.Engine]:
    try:
        yield engine
    finally:
        engine.dispose()


def _psycopg2(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


@pytest.fixture(params=BOTH)
def target(request, project: Path, cli) -> Target:
    """The example project's catalog and monitor on SQLite files, or on throwaway PostgreSQL databases."""
    if request.param == SQLITE:
        urls = {name: f"sqlite:///{project / 'var' / f'{name}.db'}" for name in ("catalog", "monitor")}
        return Target(SQLITE, project, urls, {}, (), cli)
    make = request.getfixturevalue("pg_database")
    catalog, monitor = make(), make()
    env = {"CATALOG_DATABASE_URL": catalog, "MONITOR_DATABASE_URL": monitor}
    urls = {"catalog": _psycopg2(catalog), "monitor": _psycopg2(monitor)}
    return Target(POSTGRESQL, project, urls, env, ("-p", "production"), cli)


@pytest.fixture
def pg_target(project: Path, cli, pg_database) -> Target:
    catalog, monitor = pg_database(), pg_database()
    env = {"CATALOG_DATABASE_URL": catalog, "MONITOR_DATABASE_URL": monitor}
    urls = {"catalog": _psycopg2(catalog), "monitor": _psycopg2(monitor)}
    return Target(POSTGRESQL, project, urls, env, ("-p", "production"), cli)


def mariadb_tables(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version_ledger"}  # (tests/test_ledger.py)
    finally:
        engine.dispose()


# --- editing the project copy --------------------------------------------------------------------

REVISION = '''"""{message}

Revision ID: {rev}
Revises: {down}
"""
import os
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


def write_revision(project: Path, database: str, upgrade: str, downgrade: str = "pass", message: str = "test") -> Path:
    """Add (or replace) the revision after ``database``'s head; the file is swapped in atomically."""
    rev, down = (CATALOG_NEXT, CATALOG_HEAD) if database == "catalog" else (MONITOR_NEXT, MONITOR_HEAD)
    folder = project / FOLDERS[database]
    path = folder / f"{rev}_reliability.py"
    body = REVISION.format(
        message=message,
        rev=rev,
        down=down,
        upgrade=textwrap.indent(textwrap.dedent(upgrade).strip(), "    "),
        downgrade=textwrap.indent(textwrap.dedent(downgrade).strip(), "    "),
    )
    shutil.rmtree(folder / "__pycache__", ignore_errors=True)
    scratch = folder / f".{rev}.tmp"
    scratch.write_text(body)
    os.replace(scratch, path)  # a rename: the folder's mtime changes, so cached histories are re-read
    return path


def remove_revision(project: Path, database: str) -> None:
    rev = CATALOG_NEXT if database == "catalog" else MONITOR_NEXT
    (project / FOLDERS[database] / f"{rev}_reliability.py").unlink()
    shutil.rmtree(project / FOLDERS[database] / "__pycache__", ignore_errors=True)


def edit_config(project: Path, change: Callable[[dict], None]) -> None:
    path = project / "config" / "multidb.yaml"
    raw = yaml.safe_load(path.read_text())
    change(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def production_profile(raw: dict) -> dict:
    return raw["profiles"]["production"]


def wait_for(condition: Callable[[], bool], what: str, bound: float = PROCESS_BOUND) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what} after {bound} s"
        time.sleep(0.05)


@dataclass
class Holder:
    """Another process holding migration locks until released."""

    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=PROCESS_BOUND)


@pytest.fixture
def hold_lock(project: Path) -> Iterator[Callable[..., Holder]]:
    """Start a process that holds the named databases' migration locks (see reliability/hold_lock.py)."""
    started: list[subprocess.Popen] = []

    def start(target: Target, *names: str) -> Holder:
        profile = "production" if target.kind == POSTGRESQL else ""
        process = subprocess.Popen(
            [sys.executable, str(HOLD_LOCK), str(project / "config" / "multidb.yaml"), profile, *names],
            cwd=project,
            env=target.process_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        line = process.stdout.readline()  # blocks until the locks are held (or the process died)
        assert line.strip() == "held", process.stderr.read()
        return Holder(process)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=PROCESS_BOUND)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream:
                stream.close()


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=PROCESS_BOUND)
    return process.returncode, out, err


# --- concurrency ---------------------------------------------------------------------------------

RUN_LOG = """
op.create_table("run_log", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("pid", sa.Integer()))
op.execute(sa.text("INSERT INTO run_log (pid) VALUES (:pid)").bindparams(pid=os.getpid()))
time.sleep(0.5)  # hold the lock a while, so the other runners really wait for it
"""


def test_eight_concurrent_runners_migrate_each_revision_once(target: Target):
    for database in ("catalog", "monitor"):
        write_revision(target.project, database, RUN_LOG, 'op.drop_table("run_log")', "log the run")
    heads = {"catalog": CATALOG_NEXT, "monitor": MONITOR_NEXT}

    runners = [target.spawn("upgrade", "--all") for _ in range(8)]
    try:
        outcomes = [finish(p) for p in runners]
    finally:
        for runner in runners:  # only if one hung past the bound
            if runner.poll() is None:
                runner.kill()
                runner.communicate()

    for code, out, err in outcomes:
        assert code == 0, f"exit {code}\n{out}\n{err}"
        assert "error" not in err, err
    for database, head in heads.items():
        assert target.rows(database, "SELECT count(*) FROM run_log") == [(1,)], f"{database}: ran more than once"
        assert target.versions(database) == {head}
        upgraded = [line for _code, out, _err in outcomes for line in out.splitlines() if line.startswith(database)]
        assert len(upgraded) == 8, "every runner reports every database"
        assert sum("upgraded" in line for line in upgraded) == 1, upgraded
        assert sum("no change" in line for line in upgraded) == 7, upgraded
    assert target.tables("catalog") == CATALOG_TABLES | {"run_log"}
    assert target.tables("monitor") == MONITOR_TABLES | {"run_log"}
    found = target.status()
    assert {s["state"] for s in found.values()} == {"at head"}


# --- a runner killed in the middle of a revision -------------------------------------------------

SLOW = """
op.create_table("slow_table", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(50)))
Path({marker!r} + ".tmp").write_text(str(os.getpid()))
os.replace({marker!r} + ".tmp", {marker!r})  # appears whole: the test reads it as soon as it exists
time.sleep(30)
op.create_index("ix_slow_table_name", "slow_table", ["name"])
"""
NOT_SLOW = """
op.create_table("slow_table", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(50)))
op.create_index("ix_slow_table_name", "slow_table", ["name"])
"""


def advisory_locks(target: Target, database: str) -> int:
    return target.rows(
        database,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())",
    )[0][0]


def sqlite_lock_is_free(target: Target, database: str) -> bool:
    path = Path(make_url(target.urls[database]).database)
    fd = os.open(path.with_name(path.name + ".multidb-lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def lock_is_free(target: Target, database: str) -> bool:
    if target.kind == POSTGRESQL:
        return advisory_locks(target, database) == 0
    return sqlite_lock_is_free(target, database)


def test_runner_killed_during_a_slow_revision_leaves_previous_revision_and_free_lock(target: Target):
    marker = target.project / "inside-slow-revision"
    write_revision(target.project, "catalog", SLOW.format(marker=str(marker)), 'op.drop_table("slow_table")')

    runner = target.spawn("upgrade", "--all")
    try:
        wait_for(lambda: marker.exists() or runner.poll() is not None, "the runner to reach the slow revision")
        assert runner.poll() is None, runner.communicate()
        assert marker.read_text() == str(runner.pid)
        assert not lock_is_free(target, "catalog"), "the runner holds the migration lock while it migrates"
        runner.send_signal(signal.SIGKILL)
        runner.communicate(timeout=PROCESS_BOUND)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate(timeout=PROCESS_BOUND)
    assert runner.returncode == -signal.SIGKILL

    # the lock died with the process (SQLite flock) or with its session (PostgreSQL advisory lock)
    wait_for(lambda: lock_is_free(target, "catalog"), "the dead runner's lock to be released")

    found = target.status()
    assert found["monitor"]["state"] == "empty", "monitor comes after catalog and was never reached"
    assert "slow_table" not in target.tables("catalog"), "the half-done revision was rolled back"
    if target.kind == POSTGRESQL:  # a commit per revision: the revisions before the slow one stay
        assert found["catalog"]["current"] == [CATALOG_HEAD]
        assert found["catalog"]["state"] == "behind"
        assert found["catalog"]["pending"] == [CATALOG_NEXT]
        assert target.versions("catalog") == {CATALOG_HEAD}
        assert target.tables("catalog") == CATALOG_TABLES
    else:  # SQLite: one transaction per run, a savepoint per revision; a killed run is undone whole
        assert found["catalog"]["state"] == "empty"
        assert target.versions("catalog") == set()
        assert target.tables("catalog") == set()

    write_revision(target.project, "catalog", NOT_SLOW, 'op.drop_table("slow_table")')
    again = target.cli("upgrade", "--all", "--lock-timeout", "20")
    assert again.exit_code == 0, again.output
    assert target.versions("catalog") == {CATALOG_NEXT}
    assert target.versions("monitor") == {MONITOR_HEAD}
    assert "ix_slow_table_name" in target.indexes("catalog", "slow_table")
    assert {s["state"] for s in target.status().values()} == {"at head"}


# --- failures inside revisions -------------------------------------------------------------------

FAILING = """
op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
op.execute("INSERT INTO half_done (id) VALUES (1)")
raise RuntimeError("injected fault")
"""


def test_revision_that_raises_leaves_previous_revision(target: Target):
    path = write_revision(target.project, "catalog", FAILING, 'op.drop_table("half_done")')

    result = target.cli("upgrade", "--all")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    line = one_error_line(result.stderr)
    assert line.startswith("multidb: error: catalog: ")
    assert "injected fault" in line and path.name in line
    assert target.versions("catalog") == {CATALOG_HEAD}
    assert "half_done" not in target.tables("catalog")
    assert target.tables("catalog") == CATALOG_TABLES
    assert target.tables("monitor") == set(), "the run stops at the first failure"
    found = target.status()
    assert found["catalog"]["current"] == [CATALOG_HEAD] and found["catalog"]["pending"] == [CATALOG_NEXT]


def test_atomic_rolls_every_database_back_when_the_second_fails(target: Target):
    # start part-way: catalog at c1a0f0a1b003, monitor at e2b0f0a1d002
    assert target.cli("upgrade", "catalog", "--to", "c1a0f0a1b003").exit_code == 0
    assert target.cli("upgrade", "monitor", "--to", "e2b0f0a1d002").exit_code == 0
    write_revision(
        target.project,
        "catalog",
        'op.create_table("catalog_extra", sa.Column("id", sa.Integer(), primary_key=True))',
        'op.drop_table("catalog_extra")',
    )
    write_revision(target.project, "monitor", FAILING, 'op.drop_table("half_done")')
    before = {name: target.snapshot(name) for name in ("catalog", "monitor")}
    assert before["catalog"]["versions"] == ["c1a0f0a1b003"] and before["monitor"]["versions"] == ["e2b0f0a1d002"]

    result = target.cli("upgrade", "--all", "--atomic")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    line = one_error_line(result.stderr)
    assert line.startswith("multidb: error: monitor: ") and "injected fault" in line
    table = {row.split()[0]: row for row in result.stderr.splitlines() if row.split()[:1] in (["catalog"], ["monitor"])}
    assert "rolled back" in table["catalog"], result.stderr
    assert "failed" in table["monitor"], result.stderr

    after = {name: target.snapshot(name) for name in ("catalog", "monitor")}
    assert after == before, "every database is where it started"
    assert "catalog_extra" not in target.tables("catalog")
    assert target.rows("catalog", "SELECT count(*) FROM locations") == [(0,)], "c1a0f0a1b004's seed rolled back"
    assert "half_done" not in target.tables("monitor")
    assert "code" not in target.columns("monitor", "warnings"), "e2b0f0a1d003 rolled back"

    # without the fault, the same atomic run commits everything
    write_revision(target.project, "monitor", 'op.create_table("half_done", sa.Column("id", sa.Integer()))')
    again = target.cli("upgrade", "--all", "--atomic")
    assert again.exit_code == 0, again.output
    assert target.versions("catalog") == {CATALOG_NEXT}
    assert target.versions("monitor") == {MONITOR_NEXT}
    assert {"catalog_extra"} <= target.tables("catalog") and {"half_done"} <= target.tables("monitor")


@pytest.mark.postgresql
def test_atomic_refuses_a_mariadb_database_and_changes_nothing(project: Path, cli, pg_database, mariadb_database):
    mariadb_database = mariadb_database()  # one throwaway database
    catalog = pg_database()
    env = {"CATALOG_DATABASE_URL": catalog, "MONITOR_DATABASE_URL": mariadb_database}

    result = cli("upgrade", "--all", "--atomic", "-p", "production", env=env)
    assert result.exit_code == 2, result.output
    line = one_error_line(result.stderr)
    assert "monitor" in line and "--atomic" in line and "MariaDB" in line and "implicitly" in line
    target = Target(POSTGRESQL, project, {"catalog": _psycopg2(catalog)}, env, ("-p", "production"), cli)
    assert target.tables("catalog") == set() and target.versions("catalog") == set()
    assert mariadb_tables(mariadb_database) == set()

    # the refusal is about --atomic, not a broken URL: without it the MariaDB database migrates
    plain = cli("upgrade", "monitor", "-p", "production", env=env)
    assert plain.exit_code == 0, plain.output
    assert mariadb_tables(mariadb_database) == MONITOR_TABLES | {"alembic_version", "alembic_version_progress"}


# --- autocommit_block under the migration lock (PostgreSQL) --------------------------------------

CONCURRENT_INDEX = """
op.create_table("lock_seen", sa.Column("held", sa.Boolean()))
op.execute(
    "INSERT INTO lock_seen SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
with op.get_context().autocommit_block():
    op.create_index("ix_holdings_name", "holdings", ["name"], postgresql_concurrently=True)
"""
CONCURRENT_INDEX_DOWN = """
with op.get_context().autocommit_block():
    op.drop_index("ix_holdings_name", "holdings", postgresql_concurrently=True)
op.drop_table("lock_seen")
"""


@pytest.mark.postgresql
def test_autocommit_block_create_index_concurrently_under_the_migration_lock(pg_target: Target):
    target = pg_target
    assert target.cli("upgrade", "--all").exit_code == 0
    write_revision(target.project, "catalog", CONCURRENT_INDEX, CONCURRENT_INDEX_DOWN, "index concurrently")

    # a real process with a bound: CREATE INDEX CONCURRENTLY would wait forever if the session
    # holding the migration lock sat in a transaction
    result = target.run("upgrade", "--all")
    assert result.returncode == 0, result.stdout + result.stderr
    assert target.versions("catalog") == {CATALOG_NEXT}
    assert target.rows("catalog", "SELECT held FROM lock_seen") == [(True,)]  # the lock was held meanwhile
    valid = target.rows(
        "catalog",
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = 'ix_holdings_name'",
    )
    assert valid == [(True,)]
    assert advisory_locks(target, "catalog") == 0, "the lock is released after the run"

    down = target.cli("downgrade", "catalog", "--to", "-1")
    assert down.exit_code == 0, down.output
    assert "ix_holdings_name" not in target.indexes("catalog", "holdings")
    assert target.versions("catalog") == {CATALOG_HEAD}


SESSION_SEEN = """
op.create_table("session_seen", sa.Column("lock_timeout", sa.Text()), sa.Column("application", sa.Text()))
op.execute(
    "INSERT INTO session_seen SELECT current_setting('lock_timeout'), current_setting('application_name')"
)
"""


@pytest.mark.postgresql
def test_revisions_run_without_the_lock_waits_timeout_on_a_session_named_after_the_runner(pg_target: Target):
    """The migration lock is taken on the migrations' own session: its wait limit (--lock-timeout)
    must not become the revisions' lock_timeout, and pg_stat_activity shows who is migrating."""
    target = pg_target
    write_revision(target.project, "catalog", SESSION_SEEN, 'op.drop_table("session_seen")', "session")
    assert target.cli("upgrade", "catalog", "--lock-timeout", "7").exit_code == 0
    [(lock_timeout, application)] = target.rows("catalog", "SELECT lock_timeout, application FROM session_seen")
    assert lock_timeout == "0"  # the server's default: no lock_timeout is configured for catalog
    assert application.startswith("multidb ") and f"pid {os.getpid()}" in application


@pytest.mark.postgresql
def test_atomic_refuses_an_autocommit_block_revision_with_a_reason(pg_target: Target):
    """docs/commands.md: revisions that use autocommit_block() cannot run under --atomic."""
    target = pg_target
    assert target.cli("upgrade", "--all").exit_code == 0
    write_revision(target.project, "catalog", CONCURRENT_INDEX, CONCURRENT_INDEX_DOWN, "index concurrently")
    before = {name: target.snapshot(name) for name in ("catalog", "monitor")}

    result = target.run("upgrade", "--all", "--atomic")
    assert result.returncode == 2, result.stdout + result.stderr  # refused, like a MariaDB database
    assert {name: target.snapshot(name) for name in ("catalog", "monitor")} == before
    line = one_error_line(result.stderr)
    assert line.startswith("multidb: error: catalog: ")
    # the user learns why, not only that an assertion inside Alembic failed
    assert "autocommit" in line.lower() and "--atomic" in line, line


# --- waiting for another runner's lock -----------------------------------------------------------


@pytest.mark.parametrize("held", ["catalog", "monitor"])
def test_lock_timeout_names_the_holder_and_changes_nothing_it_cannot_lock(target: Target, hold_lock, held: str):
    # pending work on both databases, so "nothing changed" means something
    assert target.cli("upgrade", "catalog", "--to", "c1a0f0a1b003").exit_code == 0
    assert target.cli("upgrade", "monitor", "--to", "e2b0f0a1d002").exit_code == 0
    before = {name: target.snapshot(name) for name in ("catalog", "monitor")}

    holder = hold_lock(target, held)  # another process holds this database's migration lock
    started = time.monotonic()
    result = target.run("upgrade", "--all", "--lock-timeout", "1", "--json")
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    assert elapsed < PROCESS_BOUND
    assert "Traceback" not in result.stderr
    line = one_error_line(result.stderr)
    assert line.startswith(f"multidb: error: {held}: ")
    assert "migration lock" in line and "within 1 s" in line
    assert f"pid {holder.pid}" in line, line

    after = {name: target.snapshot(name) for name in ("catalog", "monitor")}
    assert after[held] == before[held], "the locked database was not touched"
    if held == "catalog":
        # catalog comes first (monitor depends on it): the run stops before anything changes
        assert after == before
    # whatever ran, the report says where every database really stands
    if result.stdout.strip():
        reported = {r["name"]: r for r in json.loads(result.stdout)}
        assert reported[held]["result"] == "failed"
        for name in ("catalog", "monitor"):
            assert set(reported[name]["after"]) == target.versions(name), reported[name]
    for name in ("catalog", "monitor"):
        assert lock_is_free(target, name) or name == held, "the runner let go of every lock it got"
    if held == "catalog":  # the other write commands wait for the lock too
        for command in (("downgrade", "catalog", "--to", "-1"), ("stamp", "catalog", "--to", CATALOG_HEAD)):
            refused = target.cli(*command, "--lock-timeout", "0.5")
            assert refused.exit_code == 1, refused.output
            assert "migration lock" in one_error_line(refused.stderr)
        assert {name: target.snapshot(name) for name in ("catalog", "monitor")} == before

    holder.release()
    again = target.cli("upgrade", "--all", "--lock-timeout", "10")
    assert again.exit_code == 0, again.output
    assert target.versions("catalog") == {CATALOG_HEAD} and target.versions("monitor") == {MONITOR_HEAD}


@pytest.mark.postgresql
def test_server_ending_the_lock_wait_is_one_line_naming_the_holder(pg_target: Target, hold_lock):
    """The server's own statement_timeout (a role setting, say) cancels the wait for the lock: that is
    one line naming the database and the holder, not an unexpected error, and nothing changes."""
    target = pg_target
    before = target.snapshot("catalog")
    holder = hold_lock(target, "catalog")
    impatient = target.env["CATALOG_DATABASE_URL"] + "?options=-c%20statement_timeout%3D300"
    result = subprocess.run(
        target.command("upgrade", "--all"),
        cwd=target.project,
        env={**target.process_env(), "CATALOG_DATABASE_URL": impatient},
        capture_output=True,
        text=True,
        timeout=PROCESS_BOUND,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    line = one_error_line(result.stderr)
    assert line.startswith("multidb: error: catalog: could not take the migration lock: "), line
    assert "statement timeout" in line and f"pid {holder.pid}" in line, line
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr
    assert target.snapshot("catalog") == before
    holder.release()


# --- production guards: lock_timeout with retries, statement_timeout (PostgreSQL) ----------------

GUARDED = """
with open({attempts!r}, "a") as log:
    log.write("attempt\\n")
op.create_table("session_settings", sa.Column("lock_timeout", sa.Text()), sa.Column("statement_timeout", sa.Text()))
op.execute(
    "INSERT INTO session_settings SELECT current_setting('lock_timeout'), current_setting('statement_timeout')"
)
op.add_column("locations", sa.Column("note", sa.String(40)))
"""
GUARDED_DOWN = """
op.drop_column("locations", "note")
op.drop_table("session_settings")
"""


@pytest.mark.postgresql
def test_lock_timeout_gives_up_behind_a_table_lock_after_retries(pg_target: Target):
    import psycopg2

    target = pg_target
    edit_config(
        target.project,
        lambda raw: production_profile(raw).update(
            defaults={"lock_timeout": "1s", "lock_retries": 1, "statement_timeout": "2min"}
        ),
    )
    assert target.cli("upgrade", "--all").exit_code == 0
    attempts = target.project / "attempts.log"
    write_revision(target.project, "catalog", GUARDED.format(attempts=str(attempts)), GUARDED_DOWN, "alter locations")

    blocker = psycopg2.connect(target.urls["catalog"].replace("postgresql+psycopg2", "postgresql"))
    try:
        with blocker.cursor() as cur:  # psycopg2 opens the transaction: BEGIN; LOCK TABLE ...
            cur.execute("LOCK TABLE locations IN ACCESS EXCLUSIVE MODE")
        result = target.run("upgrade", "catalog")
        assert result.returncode == 1, result.stdout + result.stderr
        line = one_error_line(result.stderr)
        assert line.startswith("multidb: error: catalog: ") and "lock timeout" in line, line
        assert "Traceback" not in result.stderr
        assert attempts.read_text().splitlines() == ["attempt", "attempt"], "one try and lock_retries=1 retry"
        assert target.versions("catalog") == {CATALOG_HEAD}
        assert "session_settings" not in target.tables("catalog")
    finally:
        blocker.rollback()
        blocker.close()
    assert "note" not in target.columns("catalog", "locations")  # (reflecting it waited for the blocker)

    result = target.cli("upgrade", "catalog")
    assert result.exit_code == 0, result.output
    assert target.versions("catalog") == {CATALOG_NEXT}
    assert "note" in target.columns("catalog", "locations")
    # the profile's session settings were in force while the revision ran
    assert target.rows("catalog", "SELECT lock_timeout, statement_timeout FROM session_settings") == [("1s", "2min")]


@pytest.mark.postgresql
def test_atomic_runs_also_get_the_session_settings(pg_target: Target):
    target = pg_target
    edit_config(
        target.project,
        lambda raw: production_profile(raw).update(defaults={"lock_timeout": "1500ms", "statement_timeout": "45s"}),
    )
    write_revision(target.project, "catalog", GUARDED.format(attempts=str(target.project / "a.log")), GUARDED_DOWN)
    result = target.cli("upgrade", "--all", "--atomic")
    assert result.exit_code == 0, result.output
    assert target.rows("catalog", "SELECT lock_timeout, statement_timeout FROM session_settings") == [("1500ms", "45s")]


# --- protected profiles --------------------------------------------------------------------------


@pytest.mark.postgresql
def test_protected_profile_needs_yes_for_downgrade_and_stamp(pg_target: Target):
    target = pg_target
    edit_config(target.project, lambda raw: production_profile(raw).update(protected=True))
    up = target.cli("upgrade", "--all")
    assert up.exit_code == 0, up.output  # upgrading is not guarded
    before = {name: target.snapshot(name) for name in ("catalog", "monitor")}

    refused = target.cli("downgrade", "catalog", "--to", "-1")
    assert refused.exit_code == 2, refused.output
    line = one_error_line(refused.stderr)
    assert "protected" in line and "--yes" in line and "downgrade" in line
    assert {name: target.snapshot(name) for name in ("catalog", "monitor")} == before

    down = target.cli("downgrade", "catalog", "--to", "-1", "--yes")
    assert down.exit_code == 0, down.output
    assert target.versions("catalog") == {CATALOG_EXPANDED}

    refused = target.cli("stamp", "catalog", "--to", CATALOG_HEAD)
    assert refused.exit_code == 2, refused.output
    line = one_error_line(refused.stderr)
    assert "protected" in line and "--yes" in line and "stamp" in line
    assert target.versions("catalog") == {CATALOG_EXPANDED}

    stamped = target.cli("stamp", "catalog", "--to", CATALOG_HEAD, "-y")
    assert stamped.exit_code == 0, stamped.output
    assert target.versions("catalog") == {CATALOG_HEAD}
    assert target.versions("monitor") == {MONITOR_HEAD}


# --- adopt ---------------------------------------------------------------------------------------

CREATE_ALL = """
import sys
import sqlalchemy as sa
sys.path.insert(0, sys.argv[1])
from example_app.catalog import metadata
engine = sa.create_engine(sys.argv[2])
metadata.create_all(engine)
with engine.begin() as conn:
    for statement in sys.argv[3:]:
        conn.exec_driver_sql(statement)
engine.dispose()
"""


def create_all(target: Target, *extra_sql: str) -> None:
    """The example app's catalog tables made by ``metadata.create_all()``, in a process of its own."""
    url = target.urls["catalog"]
    if target.kind == SQLITE:
        Path(make_url(url).database).parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", CREATE_ALL, str(target.project), url, *extra_sql],
        capture_output=True,
        text=True,
        timeout=PROCESS_BOUND,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert target.tables("catalog") == CATALOG_TABLES and target.versions("catalog") == set()


def scratch_leftovers(target: Target) -> set[str]:
    """Scratch databases (PostgreSQL) or scratch folders (SQLite) adopt may have left behind."""
    if target.kind == POSTGRESQL:
        found = target.rows("catalog", "SELECT datname FROM pg_database WHERE datname LIKE 'multidb\\_adopt\\_%'")
        return {r[0] for r in found}
    return {p.name for p in Path(tempfile.gettempdir()).glob("multidb-adopt-*")}


def assert_no_new_scratch(target: Target, before: set[str]) -> None:
    # another test session on this machine may be adopting right now: its scratch goes away
    # when it finishes, ours must be gone already, so wait (boundedly) for the difference to clear
    wait_for(lambda: not (scratch_leftovers(target) - before), "scratch databases to be dropped", 20)


def test_adopt_stamps_a_create_all_database_at_head(target: Target):
    create_all(target)
    before = scratch_leftovers(target)

    refused = target.cli("upgrade", "catalog")
    assert refused.exit_code == 2, refused.output
    line = one_error_line(refused.stderr)
    assert "no version table" in line and "multidb adopt catalog" in line
    assert target.versions("catalog") == set()

    adopted = target.cli("adopt", "catalog")
    assert adopted.exit_code == 0, adopted.output
    assert CATALOG_HEAD in adopted.stdout
    assert target.versions("catalog") == {CATALOG_HEAD}
    found = target.status()
    assert found["catalog"]["state"] == "at head" and found["catalog"]["current"] == [CATALOG_HEAD]
    assert_no_new_scratch(target, before)

    again = target.cli("upgrade", "catalog")
    assert again.exit_code == 0 and "no change" in again.stdout, again.output


def test_adopt_lists_an_unknown_column_and_stamps_nothing(target: Target):
    create_all(target, "ALTER TABLE holdings ADD COLUMN legacy_code VARCHAR(10)")
    before = scratch_leftovers(target)
    snapshot = target.snapshot("catalog")

    result = target.cli("adopt", "catalog")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    line = one_error_line(result.stderr)
    assert line.startswith("multidb: error: catalog: ") and "matches no revision" in line
    assert "holdings.legacy_code" in result.stderr
    assert target.versions("catalog") == set()
    assert target.snapshot("catalog") == snapshot, "adopt changed the database"
    assert_no_new_scratch(target, before)

"""Runs that never lose work: SIGINT, SIGTERM, SIGKILL, lock-timeout retries and lost connections.

Every runner is a real ``python -m multidb`` process sent real signals; every claim is checked
against what is really in the SQLite file, the PostgreSQL database or the MariaDB database.
A revision that the test waits for writes a marker file just before its long statement.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from assertions import one_error_line, user_tables
from sqlalchemy.pool import NullPool

BOUND = 60  # seconds: a generous "no hang" bound, never a pass/fail timing
DIALECTS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgresql),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]
LONG = {  # far longer than BOUND: a statement that is not stopped fails the test instead of passing slowly
    "postgresql": "SELECT pg_sleep(300)",
    "mariadb": "SELECT SLEEP(300)",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000000000) "
    "SELECT count(*) FROM c",
}
PAUSE = {  # a short statement that takes a while, for runs interrupted at random moments
    "postgresql": "SELECT pg_sleep(0.05)",
    "mariadb": "SELECT SLEEP(0.05)",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) SELECT count(*) FROM c",
}

CONFIG = """
databases:
  app:
    url: ${APP_URL}
    bases:
      - label: app
        path: ../versions
"""

REVISION = '''"""revision {n}

Revision ID: {rev}
Revises: {down}
"""
import os
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}


def downgrade() -> None:
    op.drop_table("t{n}")
'''


def rev(n: int) -> str:
    return f"a{n:011d}"


@dataclass
class App:
    """A one-database project on one dialect, and ways to run and inspect it."""

    dialect: str
    folder: Path
    url: str

    def env(self) -> dict[str, str]:
        return {**os.environ, "APP_URL": self.url, "PYTHONDONTWRITEBYTECODE": "1", "MULTIDB_QUIET": "1"}

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "multidb", *args]

    def spawn(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            self.command(*args),
            cwd=self.folder,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.command(*args), cwd=self.folder, env=self.env(), capture_output=True, text=True, timeout=BOUND
        )

    def write(self, count: int, bodies: dict[int, str] | None = None) -> None:
        """Revisions 1..count; each creates table t<n> and logs itself in ``applied``; ``bodies`` adds code."""
        folder = self.folder / "versions"
        folder.mkdir(exist_ok=True)
        for n in range(1, count + 1):
            extra = textwrap.dedent((bodies or {}).get(n, "")).strip()
            body = "\n".join(
                [
                    f'op.create_table("t{n}", sa.Column("id", sa.Integer(), primary_key=True))',
                    *([extra] if extra else []),
                    f"op.execute(\"INSERT INTO applied (revision) VALUES ('{rev(n)}')\")",
                ]
            )
            if n == 1:
                body = 'op.create_table("applied", sa.Column("revision", sa.String(20)))\n' + body
            down = rev(n - 1) if n > 1 else None
            text = REVISION.format(n=n, rev=rev(n), down=down, body=textwrap.indent(body, "    "))
            (folder / f"{rev(n)}_r{n}.py").write_text(text)

    def marker_code(self, name: str, statement: str) -> str:
        """Revision code: write the marker file, then run ``statement``."""
        marker = str(self.folder / name)
        return f"Path({marker!r}).write_text(str(os.getpid()))\nop.execute({statement!r})"

    def engine(self) -> sa.Engine:
        url = sa.engine.make_url(self.url)
        if self.dialect == "postgresql":
            url = url.set(drivername="postgresql+psycopg2")
        return sa.create_engine(url, poolclass=NullPool)

    def query(self, sql: str) -> list[tuple]:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                result = conn.execute(sa.text(sql))
                return [tuple(r) for r in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def versions(self) -> set[str]:
        return {r[0] for r in self.query("SELECT version_num FROM alembic_version")} if self.has_versions() else set()

    def has_versions(self) -> bool:
        engine = self.engine()
        try:
            return sa.inspect(engine).has_table("alembic_version")
        finally:
            engine.dispose()

    def tables(self) -> set[str]:
        engine = self.engine()
        try:
            return user_tables(sa.inspect(engine).get_table_names())
        finally:
            engine.dispose()

    def schema(self) -> dict:
        engine = self.engine()
        try:
            inspector = sa.inspect(engine)
            return {t: sorted(c["name"] for c in inspector.get_columns(t)) for t in inspector.get_table_names()}
        finally:
            engine.dispose()


@pytest.fixture(params=DIALECTS)
def app(request, tmp_path: Path) -> App:
    return make_app(request.param, tmp_path, request)


def make_app(dialect: str, tmp_path: Path, request) -> App:
    folder = tmp_path / "project"
    (folder / "config").mkdir(parents=True)
    (folder / "config" / "multidb.yaml").write_text(CONFIG)
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    elif dialect == "postgresql":
        url = request.getfixturevalue("pg_database")()
    else:
        url = request.getfixturevalue("mariadb_database")()
    return App(dialect, folder, url)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=BOUND)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"the runner did not stop: {out}\n{err}")
    return process.returncode, out, err


def start_and_reach(app: App, marker: str, *args: str) -> subprocess.Popen:
    runner = app.spawn("upgrade", "app", *args)
    path = app.folder / marker
    wait_for(lambda: path.exists() or runner.poll() is not None, "the runner to reach the long statement")
    assert runner.poll() is None, runner.communicate()
    time.sleep(0.3)  # let the long statement reach the server (the test holds either way)
    return runner


# --- item 5: SIGINT and SIGTERM during a long statement -------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_a_long_statement_keeps_the_finished_revisions(app: App, signum: int):
    app.write(3, {2: app.marker_code("in-r2", LONG[app.dialect])})
    runner = start_and_reach(app, "in-r2")
    runner.send_signal(signum)
    code, out, err = finish(runner)

    assert code == 128 + signum, f"exit {code}\n{out}\n{err}"
    line = one_error_line(err)
    assert "Traceback" not in err and "PendingRollbackError" not in err, err
    assert f"app: interrupted by {signal.Signals(signum).name} in revision {rev(2)}" in line, line
    assert app.versions() == {rev(1)}, "the revision finished before the signal stays applied"
    assert app.query("SELECT revision FROM applied") == [(rev(1),)]
    if app.dialect == "mariadb":  # DDL cannot be rolled back there: the line says what had run
        assert "CREATE TABLE t2" in line, line
        assert "the next run refuses revision" in line and "--forget-interrupted" in line, line
        assert "t2" in app.tables()
    else:
        assert "it was rolled back" in line, line
        assert app.tables() == {"applied", "t1"}
    assert f"{rev(1)}" in out + err  # the result table says where it stands

    if app.dialect == "mariadb":  # an operator removes what the interrupted revision left (the line named it)
        engine = app.engine()
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE t2")
        engine.dispose()
    app.write(3)  # the long statement is gone
    said = ("--forget-interrupted",) if app.dialect == "mariadb" else ()  # "I undid what it named"
    again = app.run("upgrade", "app", "--lock-timeout", "5", *said)  # the lock was released
    assert again.returncode == 0, again.stdout + again.stderr
    assert app.versions() == {rev(3)}
    assert sorted(app.query("SELECT revision FROM applied")) == [(rev(n),) for n in (1, 2, 3)]


SLEEPY = "import time\nPath({marker!r}).write_text('x')\ntime.sleep(300)"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_revision_python_code_stops_it_at_once(tmp_path: Path, request, signum: int):
    app = make_app("sqlite", tmp_path, request)
    app.write(3, {2: SLEEPY.format(marker=str(app.folder / "in-r2"))})
    runner = start_and_reach(app, "in-r2")
    runner.send_signal(signum)
    code, out, err = finish(runner)
    assert code == 128 + signum, f"exit {code}\n{out}\n{err}"
    line = one_error_line(err)
    assert f"in revision {rev(2)}" in line and "it was rolled back" in line, line
    assert app.versions() == {rev(1)}
    assert app.tables() == {"applied", "t1"}


# --- PostgreSQL: a waiter names a holder whose process is gone ------------------------------------


@pytest.mark.postgresql
def test_waiter_says_the_lock_holder_process_is_gone(tmp_path: Path, request):
    app = make_app("postgresql", tmp_path, request)
    app.write(2, {2: app.marker_code("in-r2", "SELECT pg_sleep(20)")})
    runner = start_and_reach(app, "in-r2")
    runner.kill()  # SIGKILL: the server session goes on with its statement, holding the lock
    finish(runner)
    result = app.run("upgrade", "app", "--lock-timeout", "1")
    assert result.returncode == 1, result.stdout + result.stderr
    line = one_error_line(result.stderr)
    assert f"pid {runner.pid}, whose process is gone" in line, line
    assert "pg_terminate_backend" in line, line


# --- item 6: lock_retries never re-run a half-applied MariaDB revision ----------------------------

HALF_THEN_LOCKED = """
Path({attempts!r}).open("a").write("attempt\\n")
op.add_column("t1", sa.Column("note", sa.String(20)))
op.add_column("blocked", sa.Column("note", sa.String(20)))
"""


@pytest.mark.mariadb
def test_lock_timeout_after_ddl_is_not_retried_on_mariadb(tmp_path: Path, request):
    app = make_app("mariadb", tmp_path, request)
    (app.folder / "config" / "multidb.yaml").write_text(CONFIG + "defaults:\n  lock_timeout: 1s\n  lock_retries: 2\n")
    app.write(1)
    assert app.run("upgrade", "app").returncode == 0
    engine = app.engine()
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE blocked (id INT PRIMARY KEY)")
    attempts = app.folder / "attempts.log"
    app.write(2, {2: HALF_THEN_LOCKED.format(attempts=str(attempts))})
    blocker = engine.connect()
    try:
        blocker.exec_driver_sql("SELECT * FROM blocked")  # an open transaction: a metadata lock on 'blocked'
        result = app.run("upgrade", "app")
    finally:
        blocker.rollback()
        blocker.close()
        engine.dispose()
    assert result.returncode == 1, result.stdout + result.stderr
    line = one_error_line(result.stderr)
    assert "Lock wait timeout" in line and "Duplicate column" not in line, line
    assert "statement 2: ALTER TABLE t1" in line, line  # what had run (by kind, never its literals)
    assert attempts.read_text().splitlines() == ["attempt"], "never retried"


# --- item 7: the result table after the server dropped the runner's connection --------------------


@pytest.mark.parametrize("dialect", [p for p in DIALECTS if p != "sqlite"])
def test_result_after_a_lost_connection_shows_the_committed_revisions(tmp_path: Path, request, dialect: str):
    app = make_app(dialect, tmp_path, request)
    app.write(3, {2: app.marker_code("in-r2", LONG[dialect])})
    runner = start_and_reach(app, "in-r2")
    if dialect == "postgresql":
        app.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE 'SELECT pg_sleep(300)%' AND datname = current_database()"
        )
    else:
        ids = app.query("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(300)%'")
        for (thread_id,) in ids:
            app.query(f"KILL {thread_id}")
    code, out, err = finish(runner)
    assert code == 1, out + err
    row = next(line for line in err.splitlines() if line.startswith("app "))
    assert row.split()[:3] == ["app", "(none)", rev(1)], err  # FROM empty, TO the committed revision
    assert app.versions() == {rev(1)}


# --- the operator's acceptance: kills and interrupts at random moments ----------------------------

REVISIONS = 8


def random_interruptions(app: App, kills: int, interrupts: int, seed: int) -> dict:
    """Upgrade, kill (SIGKILL) or interrupt (SIGINT) at a random moment, re-run; repeat. Returns counts."""
    rng = random.Random(seed)
    bodies = {n: f"op.execute({PAUSE[app.dialect]!r})\nop.execute({PAUSE[app.dialect]!r})" for n in range(1, 9)}
    app.write(REVISIONS, bodies)
    head = rev(REVISIONS)
    seen = {"kills": 0, "interrupts": 0, "mid_revision_leftovers": 0, "reached_head_before_signal": 0}
    signals = [signal.SIGKILL] * kills + [signal.SIGINT] * interrupts
    rng.shuffle(signals)
    for signum in signals:
        reset(app)
        runner = app.spawn("upgrade", "app")
        time.sleep(rng.uniform(0.3, 2.5))
        if runner.poll() is not None:
            seen["reached_head_before_signal"] += 1
        runner.send_signal(signum)
        code, out, err = finish(runner)
        seen["kills" if signum == signal.SIGKILL else "interrupts"] += 1
        if signum == signal.SIGINT and code == -signal.SIGINT:  # still starting: Python's own KeyboardInterrupt
            assert "multidb/commands" not in err, err  # ... before the command (and its handler) began
            seen["interrupted_at_start_up"] = seen.get("interrupted_at_start_up", 0) + 1
        elif signum == signal.SIGINT and code not in (0, 130):
            pytest.fail(f"SIGINT: exit {code}\n{out}\n{err}")
        if signum == signal.SIGINT and code == 130:
            assert len([line for line in err.splitlines() if line.startswith("multidb: error:")]) == 1, err
        again = app.run("upgrade", "app", "--lock-timeout", "30")
        if again.returncode != 0 and app.dialect == "mariadb":
            seen["mid_revision_leftovers"] += 1
        for _ in range(3):  # MariaDB: DDL of a killed revision stays; the next run names that revision
            if again.returncode == 0 or app.dialect != "mariadb":
                break
            line = one_error_line(again.stderr)
            assert "was left half-applied" in line and "versions/" in line, line
            tables = re.findall(r"CREATE TABLE (\w+)", line)  # an operator undoes what the line names
            engine = app.engine()
            with engine.begin() as conn:
                for table in tables:
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
            engine.dispose()
            again = app.run("upgrade", "app", "--lock-timeout", "30", "--forget-interrupted")
        assert again.returncode == 0, again.stdout + again.stderr
        assert app.versions() == {head}
        applied = sorted(r[0] for r in app.query("SELECT revision FROM applied"))
        assert applied == [rev(n) for n in range(1, REVISIONS + 1)], "every revision applied once"
        assert app.schema() == clean_schema(app)
    return seen


_clean: dict[str, dict] = {}


def clean_schema(app: App) -> dict:
    return _clean[app.dialect]


def reset(app: App) -> None:
    """Back to an empty database (after recording a clean run's schema once)."""
    if app.dialect not in _clean:
        result = app.run("upgrade", "app")
        assert result.returncode == 0, result.stdout + result.stderr
        _clean[app.dialect] = app.schema()
    engine = app.engine()
    try:
        with engine.begin() as conn:
            for table in sa.inspect(conn).get_table_names():
                conn.exec_driver_sql(f"DROP TABLE {table}")
    finally:
        engine.dispose()


def test_kills_and_interrupts_at_random_moments_lose_nothing(app: App):
    """3 SIGKILLs and 2 SIGINTs by default; tests/reliability/random_interruptions.py runs 20 and 10."""
    kills = int(os.environ.get("MULTIDB_TEST_RANDOM_KILLS", "3"))
    sigints = int(os.environ.get("MULTIDB_TEST_RANDOM_SIGINTS", "2"))
    seed = int(os.environ.get("MULTIDB_TEST_RANDOM_SEED", "11"))
    seen = random_interruptions(app, kills=kills, interrupts=sigints, seed=seed)
    print(f"\n{app.dialect}: {seen}")
    assert seen["kills"] == kills and seen["interrupts"] == sigints


@pytest.mark.postgresql
def test_result_shows_unknown_when_the_database_cannot_be_read_again(tmp_path: Path, request):
    app = make_app("postgresql", tmp_path, request)
    app.write(3, {2: app.marker_code("in-r2", LONG["postgresql"])})
    runner = start_and_reach(app, "in-r2")
    name = sa.engine.make_url(app.url).database
    admin = sa.create_engine(app.engine().url.set(database="postgres"), poolclass=NullPool)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')  # the server goes away, for this database
    admin.dispose()
    code, out, err = finish(runner)
    assert code == 1, out + err
    row = next(line for line in err.splitlines() if line.startswith("app "))
    assert row.split()[:3] == ["app", "(none)", "(unknown)"], err


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_an_atomic_run_rolls_everything_back(tmp_path: Path, request, dialect: str, signum: int):
    """The long statement is cancelled (it would outlast BOUND), then every database is rolled back."""
    app = make_app(dialect, tmp_path, request)
    app.write(3, {2: app.marker_code("in-r2", LONG[dialect])})
    runner = start_and_reach(app, "in-r2", "--atomic")
    runner.send_signal(signum)
    code, out, err = finish(runner)
    assert code == 128 + signum, f"exit {code}\n{out}\n{err}"
    line = one_error_line(err)
    name = signal.Signals(signum).name
    assert f"interrupted by {name}" in line and "every database was rolled back (--atomic)" in line, line
    assert app.versions() == set()
    assert app.tables() == set()


def waits_for_the_lock(app: App, process: subprocess.Popen) -> bool:
    if app.dialect == "sqlite":  # the lock file is open only while the lock is waited for or held
        with contextlib.suppress(OSError):
            fds = Path(f"/proc/{process.pid}/fd")
            return any(os.readlink(fd).endswith(".multidb-lock") for fd in fds.iterdir())
        return False
    if app.dialect == "postgresql":
        return app.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")[0][0] > 0
    return bool(app.query("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT GET_LOCK%'"))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_signal_while_waiting_for_the_lock_changes_nothing(tmp_path: Path, request, dialect: str):
    app = make_app(dialect, tmp_path, request)
    app.write(3, {2: app.marker_code("in-r2", LONG[dialect])})
    holder = start_and_reach(app, "in-r2")  # holds the migration lock, inside its long statement
    try:
        waiter = app.spawn("upgrade", "app", "--lock-timeout", "60")
        wait_for(lambda: waits_for_the_lock(app, waiter) or waiter.poll() is not None, "the waiter to wait")
        waiter.send_signal(signal.SIGINT)
        code, out, err = finish(waiter)
    finally:
        holder.send_signal(signal.SIGINT)
        finish(holder)
    assert code == 130, f"exit {code}\n{out}\n{err}"
    line = one_error_line(err)
    assert "interrupted by SIGINT while waiting for the migration lock; nothing was changed" in line, line
    assert app.versions() == {rev(1)}  # the holder's finished revision; its interrupted one rolled back


# --- --jobs N: each worker's running statement is cancelled too -----------------------------------

FLEET_CONFIG = """
databases:
  app:
    url: ${APP_URL}
    bases:
      - label: app
        path: ../versions
    fleet:
      by: database
      command: printf 'acme\\nglobex\\n'
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_to_a_jobs_run_cancels_the_long_statement_of_every_worker(tmp_path: Path, request, signum: int):
    """The signal goes to the command alone (as Kubernetes sends SIGTERM): it passes it on to its
    workers, and each cancels its target's statement (which would outlast BOUND)."""
    import sqlite3

    app = make_app("sqlite", tmp_path, request)
    (app.folder / "config" / "multidb.yaml").write_text(FLEET_CONFIG)
    app.url = f"sqlite:///{tmp_path}/{{tenant}}.db"
    reached = f"Path({str(app.folder)!r}, 'in-r2-' + str(os.getpid())).write_text('x')"
    app.write(3, {2: f"{reached}\nop.execute({LONG['sqlite']!r})"})
    runner = app.spawn("upgrade", "app", "--jobs", "2")
    both = lambda: len(list(app.folder.glob("in-r2-*"))) == 2  # noqa: E731
    wait_for(lambda: both() or runner.poll() is not None, "both workers to reach the long statement")
    assert runner.poll() is None, runner.communicate()
    time.sleep(0.3)
    runner.send_signal(signum)
    code, out, err = finish(runner)

    assert code == 128 + signum, f"exit {code}\n{out}\n{err}"
    line = one_error_line(err)
    assert f"interrupted by {signal.Signals(signum).name} in revision {rev(2)}" in line, line
    for tenant in ("acme", "globex"):
        with contextlib.closing(sqlite3.connect(tmp_path / f"{tenant}.db")) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(rev(1),)], tenant
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            assert "t2" not in tables, "the interrupted revision was rolled back"

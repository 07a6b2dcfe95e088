"""No password reaches anything multidb prints or leaves behind, whatever the command and however it ends.

A sentinel password (with characters a URL must percent-encode) sits in the databases' URLs, before
the '@' on PostgreSQL and MariaDB and as a ``?password=`` query value. Every command runs in a real
subprocess, succeeding and failing, and its stdout, stderr, ``--json``, ``--traceback``, offline SQL,
the files it leaves (project, HOME and cache folders), and its argv/process title are searched for the
password, raw and encoded. The pytest plugin's output (``-l``, junit XML) is searched the same way.

Also: on MariaDB/MySQL a failing revision's message names the statements that had run (DDL is not
transactional there) by position and kind, never with their literals (a ``CREATE USER ... IDENTIFIED BY``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from assertions import one_error_line, servers_required
from sqlalchemy.engine import make_url

from example_project import CATALOG_HEAD, CATALOG_NEXT, CATALOG_REVS, FAILING_ERROR, FAILING_FILE, FAILING_REVISION

# --- MariaDB: the statements a failing revision had run -----------------------------------------

USER_PASSWORD = "Sentinel-Pw-123"
CREATES_USER_THEN_FAILS = f'''"""create a table and a user, then fail

Revision ID: {CATALOG_NEXT}
Revises: {CATALOG_HEAD}
"""
import sqlalchemy as sa
from alembic import op

revision = "{CATALOG_NEXT}"
down_revision = "{CATALOG_HEAD}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("made_first", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute("INSERT INTO made_first (id) VALUES (4242)")
    op.execute("CREATE USER '{{user}}'@'%' IDENTIFIED BY '{USER_PASSWORD}'")
    raise RuntimeError("failing on purpose")


def downgrade() -> None:
    op.drop_table("made_first")
'''


def _use_production(project, catalog: str, monitor: str) -> dict[str, str]:
    return {"CATALOG_DATABASE_URL": catalog, "MONITOR_DATABASE_URL": monitor}


@pytest.fixture
def mariadb_user():
    """A MariaDB user name a test may create; dropped afterwards."""
    import sqlalchemy as sa
    from conftest import MARIADB_ADMIN_URL
    from sqlalchemy.pool import NullPool

    name = f"u_{uuid.uuid4().hex[:10]}"
    yield name
    admin = sa.create_engine(MARIADB_ADMIN_URL, poolclass=NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP USER IF EXISTS '{name}'@'%%'")
    admin.dispose()


@pytest.mark.mariadb
@pytest.mark.parametrize("extra", [(), ("--json",), ("--traceback",)], ids=["text", "json", "traceback"])
def test_mariadb_failure_names_the_statements_that_ran_without_their_literals(
    cli, project, mariadb_database, mariadb_user, extra
):
    revision = CREATES_USER_THEN_FAILS.replace("{user}", mariadb_user)
    (project / "catalog_versions" / f"{CATALOG_NEXT}_creates_user.py").write_text(revision)
    env = _use_production(project, mariadb_database(), mariadb_database())
    as_json = "--json" in extra

    result = cli("upgrade", "catalog", "-p", "production", *extra, env=env)

    assert result.exit_code == 1, result.output
    assert USER_PASSWORD not in result.output
    assert mariadb_user not in result.output  # a quoted user name is a string literal
    assert "4242" not in result.output
    if as_json:
        [found] = json.loads(result.stdout)
        message = found["error"]
    else:
        assert ("Traceback (most recent call last)" in result.stderr) == ("--traceback" in extra)
        message = one_error_line(result.stderr)
    assert "partly migrated" in message, message
    assert "failing on purpose" in message
    assert "statement 1: CREATE TABLE made_first | statement 2: INSERT INTO made_first | " in message, message
    assert "statement 3: CREATE USER (literals hidden)" in message, message


def test_statement_descriptions_keep_identifiers_and_hide_literals():
    from multidb.journal import describe

    cases = {
        "CREATE TABLE tags (id INTEGER NOT NULL, name VARCHAR(20) DEFAULT 'x')": "CREATE TABLE tags",
        "CREATE TABLE `my db`.`t 1` (id INT)": "CREATE TABLE `my db`.`t 1`",
        "create unique index ix_a on t (a)": "CREATE UNIQUE INDEX ix_a",
        "CREATE TABLE IF NOT EXISTS t2 (a INT)": "CREATE TABLE IF NOT EXISTS t2",
        "ALTER TABLE files ADD COLUMN checksum VARCHAR(10) DEFAULT 'sha256'": "ALTER TABLE files",
        "DROP TABLE IF EXISTS old": "DROP TABLE IF EXISTS old",
        "INSERT INTO locations (name) VALUES ('secret')": "INSERT INTO locations",
        "UPDATE locations SET medium = kind WHERE id = 3": "UPDATE locations",
        "DELETE FROM locations WHERE name = 'x'": "DELETE FROM locations",
        "CREATE USER 'u'@'%' IDENTIFIED BY 'pw'": "CREATE USER (literals hidden)",
        "ALTER USER 'u'@'%' IDENTIFIED BY 'pw'": "ALTER USER (literals hidden)",
        "GRANT ALL ON db.* TO 'u'@'%'": "GRANT (literals hidden)",
        "SET PASSWORD FOR 'u'@'%' = PASSWORD('pw')": "SET (literals hidden)",
        "/* 'pw' */ CREATE TABLE t3 (a INT)": "CREATE TABLE t3",
        'CREATE TABLE "quoted" (a INT)': "CREATE TABLE (literals hidden)",  # a string in MySQL's default mode
        "'pw'": "statement (literals hidden)",
        "CALL refresh('pw', 42)": "CALL refresh",
    }
    for statement, expected in cases.items():
        assert describe(statement) == expected, statement


# --- every command, every channel ------------------------------------------------------------------

PASSWORD = "S3nt/in%el-7q"  # '/' and '%' must be percent-encoded in a URL
ENCODED = quote(PASSWORD, safe="")  # S3nt%2Fin%25el-7q
FORMS = (PASSWORD, ENCODED, ENCODED.lower(), quote_plus(PASSWORD), "S3nt")  # "S3nt": any piece of it at all
REPO = Path(__file__).resolve().parents[1]
EXAMPLE_PARTS = ("config", "catalog_versions", "monitor_versions", "example_app")
HOLD_LOCK = Path(__file__).parent / "reliability" / "hold_lock.py"
REFUSED_PORT = 1
BOUND = 120  # seconds: a bound proving "no hang", never a pass/fail timing
# Commands that do not depend on one another (they only read, or the server refuses them) run side by
# side in this many processes: each is still its own process, checked on every channel.
WORKERS = max(2, os.cpu_count() or 1)


def leaks(text: str | bytes) -> list[str]:
    """The forms of the password found in ``text``."""
    data = text.encode() if isinstance(text, str) else text
    return [form for form in FORMS if form.encode() in data]


@dataclass
class Run:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str


@dataclass
class Record:
    """What one backend's session of commands printed and left behind."""

    runs: list[Run] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)  # the project, HOME and the cache folder
    cmdlines: list[bytes] = field(default_factory=list)  # /proc/<pid>/cmdline and comm of a waiting runner
    sessions: list[str] = field(default_factory=list)  # what the server shows of the waiting runner's session

    def files(self) -> dict[Path, bytes]:
        return {p: p.read_bytes() for folder in self.folders for p in folder.rglob("*") if p.is_file()}


class Backend:
    """Throwaway databases and a login whose password is the sentinel, on one server."""

    name: str
    scratch_prefix: str | None = None  # adopt's throwaway databases (None: the default prefix)

    def urls(self, port: int | None = None) -> dict[str, str]:
        raise NotImplementedError

    def drop_version_table(self, database: str) -> None:
        raise NotImplementedError

    def waiting(self) -> list[str]:
        """The waiting runner's session as the server lists it, once it waits for a lock; else empty."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class PostgreSQL(Backend):
    def __init__(self, in_query: bool):
        import psycopg2
        from conftest import PG_ADMIN_URL

        self.name = "postgresql-query" if in_query else "postgresql"
        self.in_query = in_query
        self.admin_url = make_url(PG_ADMIN_URL)
        try:
            self.admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
        except psycopg2.OperationalError as e:
            if servers_required():
                pytest.fail(f"PostgreSQL is required in CI but unreachable: {e}")
            pytest.skip(f"no PostgreSQL server: {e}")
        self.admin.autocommit = True
        token = uuid.uuid4().hex[:10]
        self.role = f"multidb_secret_{token}"
        self.databases = {name: f"multidb_test_{token}_{name}" for name in ("catalog", "monitor")}
        with self.admin.cursor() as cur:
            cur.execute(f"CREATE ROLE {self.role} LOGIN CREATEDB PASSWORD %s", (PASSWORD,))
            for database in self.databases.values():
                cur.execute(f'CREATE DATABASE "{database}" OWNER {self.role}')

    def urls(self, port: int | None = None) -> dict[str, str]:
        found = {}
        for name, database in self.databases.items():
            # written by hand: how SQLAlchemy encodes a password differs between releases (2.0.0 leaves '/')
            host = self.admin_url.host or "127.0.0.1"
            where = f"{host}:{port or self.admin_url.port or 5432}/{database}"
            if self.in_query:
                text = f"{self.admin_url.drivername}://{self.role}@{where}?password={ENCODED}"
            else:
                text = f"{self.admin_url.drivername}://{self.role}:{ENCODED}@{where}"
            found[name] = text
        assert all(ENCODED in u for u in found.values())
        return found

    def drop_version_table(self, database: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self.admin_url.set(database=self.databases[database]).render_as_string(False))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("DROP TABLE alembic_version")
        conn.close()

    def waiting(self) -> list[str]:
        with self.admin.cursor() as cur:
            cur.execute(
                "SELECT a.application_name, coalesce(a.query, '') FROM pg_locks l JOIN pg_stat_activity a "
                "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND NOT l.granted AND a.usename = %s",
                (self.role,),  # this backend's runner only: the other PostgreSQL backend runs at the same time
            )
            return [" ".join(row) for row in cur.fetchall()]

    def close(self) -> None:
        with self.admin.cursor() as cur:
            cur.execute(
                "SELECT datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = %s",
                (self.role,),
            )
            for (database,) in cur.fetchall():
                cur.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            cur.execute(f"DROP ROLE IF EXISTS {self.role}")
        self.admin.close()


class MariaDB(Backend):
    def __init__(self):
        import sqlalchemy as sa
        from conftest import MARIADB_ADMIN_URL
        from sqlalchemy.pool import NullPool

        self.name = "mariadb"
        self.admin_url = make_url(MARIADB_ADMIN_URL)
        self.admin = sa.create_engine(MARIADB_ADMIN_URL, poolclass=NullPool, connect_args={"connect_timeout": 3})
        try:
            self.admin.connect().close()
        except sa.exc.OperationalError as e:
            if servers_required():
                pytest.fail(f"MariaDB is required in CI but unreachable: {e}")
            pytest.skip(f"no MariaDB server: {e}")
        token = uuid.uuid4().hex[:10]
        self.user = f"msecret_{token}"
        self.databases = {name: f"multidb_test_{token}_{name}" for name in ("catalog", "monitor")}
        with self.admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE USER '{self.user}'@'%%' IDENTIFIED BY %s", (PASSWORD,))
            for database in self.databases.values():
                conn.exec_driver_sql(f"CREATE DATABASE `{database}`")
                conn.exec_driver_sql(f"GRANT ALL ON `{database}`.* TO '{self.user}'@'%%'")
            # adopt's throwaway databases, named after this test's token: the other suite (CI runs the oldest
            # and newest versions side by side) has throwaway databases of its own on this server
            self.scratch_prefix = f"msecret_{token}_adopt_"
            conn.exec_driver_sql(f"GRANT ALL ON `msecret\\_{token}\\_adopt\\_%%`.* TO '{self.user}'@'%%'")

    def urls(self, port: int | None = None) -> dict[str, str]:
        found = {}
        for name, database in self.databases.items():
            url = self.admin_url.set(username=self.user, password=PASSWORD, database=database)
            found[name] = url.set(port=port or self.admin_url.port or 3306).render_as_string(hide_password=False)
        return found

    def drop_version_table(self, database: str) -> None:
        with self.admin.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE `{self.databases[database]}`.alembic_version")

    def waiting(self) -> list[str]:
        with self.admin.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT coalesce(info, ''), coalesce(state, '') FROM information_schema.processlist "
                "WHERE user = %s AND info LIKE %s",
                (self.user, "%GET_LOCK%"),
            ).fetchall()
        return [" ".join(row) for row in rows]

    def close(self) -> None:
        with self.admin.begin() as conn:
            names = [r[0] for r in conn.exec_driver_sql("SHOW DATABASES").fetchall()]
            token = self.user.removeprefix("msecret_")
            for database in names:
                if token in database:
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{database}`")
            conn.exec_driver_sql(f"DROP USER IF EXISTS '{self.user}'@'%%'")
        self.admin.dispose()


def _clean_environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIDB_") and not k.endswith("_DATABASE_URL")}
    env.update(extra)
    return env


class Session:
    """The example project in a folder of its own, and the multidb command run in a real process."""

    def __init__(self, root: Path, backend: Backend):
        self.root = root
        self.project = root / "project"
        for part in EXAMPLE_PARTS:
            shutil.copytree(REPO / part, self.project / part, ignore=shutil.ignore_patterns("__pycache__"))
        self.home, self.cache = root / "home", root / "cache"
        self.home.mkdir()
        self.cache.mkdir()
        self.backend = backend
        self.record = Record(folders=[self.project, self.home, self.cache])

    def env(self, port: int | None = None) -> dict[str, str]:
        urls = self.backend.urls(port)
        return _clean_environ(
            HOME=str(self.home),
            XDG_CACHE_HOME=str(self.cache),
            CATALOG_DATABASE_URL=urls["catalog"],
            MONITOR_DATABASE_URL=urls["monitor"],
        )

    def command(self, *args: str) -> list[str]:
        if args and args[0] == "adopt" and self.backend.scratch_prefix:
            args = (*args, "--scratch-prefix", self.backend.scratch_prefix)
        return [sys.executable, "-m", "multidb", *args, "-p", "production"]

    def run(self, code: int, *args: str, port: int | None = None) -> Run:
        done = subprocess.run(
            self.command(*args), cwd=self.project, env=self.env(port), capture_output=True, text=True, timeout=BOUND
        )
        run = Run(args, done.returncode, done.stdout, done.stderr)
        self.record.runs.append(run)
        assert done.returncode == code, (args, done.stdout, done.stderr)
        if "--json" in args and done.stdout.strip():
            json.loads(done.stdout)
        return run

    def together(self, *commands: tuple, port: int | None = None) -> None:
        """Run each ``(expected exit code, *args)`` at the same time; none may depend on another's effect."""
        with ThreadPoolExecutor(WORKERS) as pool:
            done = [pool.submit(self.run, code, *args, port=port) for code, *args in commands]
        for future in done:
            future.result()

    def wait_on_a_held_lock(self) -> None:
        """Run 'upgrade --all' while another process holds catalog's lock; read its argv while it waits."""
        holder = subprocess.Popen(
            [sys.executable, str(HOLD_LOCK), str(self.project / "config" / "multidb.yaml"), "production", "catalog"],
            cwd=self.project,
            env=self.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        waiter = None
        try:
            assert holder.stdout.readline().strip() == "held", holder.stderr.read()
            waiter = subprocess.Popen(
                self.command("upgrade", "--all", "--lock-timeout", str(BOUND)),
                cwd=self.project,
                env=self.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            deadline = time.monotonic() + BOUND
            while not (sessions := self.backend.waiting()):
                assert waiter.poll() is None, waiter.communicate()
                assert time.monotonic() < deadline, "the runner never waited for the lock"
                time.sleep(0.05)
            self.record.sessions.extend(sessions)
            for name in ("cmdline", "comm"):
                self.record.cmdlines.append(Path(f"/proc/{waiter.pid}/{name}").read_bytes())
            holder.stdin.close()
            out, err = waiter.communicate(timeout=BOUND)
            self.record.runs.append(Run(("upgrade", "--all", "(waited for the lock)"), waiter.returncode, out, err))
            assert waiter.returncode == 0, (out, err)
        finally:
            for process in (holder, waiter):
                if process is None:
                    continue
                if process.poll() is None:
                    process.kill()
                process.wait(timeout=BOUND)
                for stream in (process.stdin, process.stdout, process.stderr):
                    if stream and not stream.closed:
                        stream.close()


def _drive_every_command(session: Session) -> None:
    run = session.run
    versions = session.project / "catalog_versions"
    # Where the password sits in the URL (user part or ?password=) matters where a URL is parsed, masked
    # or shown: list, status, errors, tracebacks, offline SQL, the refused server, the waiting runner. A
    # write that succeeds shows no URL and hands the password to psycopg2 as the same keyword either way,
    # so the round trips below that only move the database back and forth run on 'postgresql' alone.
    round_trips = session.backend.name != "postgresql-query"
    # reading an empty database, and offline SQL (nothing here writes to a database)
    session.together(
        (0, "list"),
        (0, "list", "--json"),
        (0, "status"),
        (0, "status", "--json"),
        (0, "current"),
        (0, "heads"),
        (0, "history", "catalog"),
        (0, "history", "catalog", "--json"),
        (0, "history", "catalog", "-i", "-v"),
        (0, "sql", "catalog", "head"),
        (1, "check"),
        (1, "check", "--json"),
        (0, "upgrade", "--all", "--sql", "--output-dir", "sql-up"),
        (0, "downgrade", "catalog", "--sql", "--to", "heads:base", "--output-dir", "sql-down"),
    )
    # changing it
    run(0, "ensure-version", "catalog", "--json")
    run(0, "upgrade", "--all")
    session.together((0, "status", "--json"), (0, "current", "--json"), (0, "check"), (0, "check", "--json"))
    if round_trips:  # each ends where it began: catalog at head
        run(0, "downgrade", "catalog", "--to", "-1")
        run(0, "upgrade", "catalog", "--json")
        run(0, "downgrade", "catalog", "--to", "-1", "--json")
        run(0, "stamp", "catalog", "--to", "heads")
        run(0, "stamp", "catalog", "--to", CATALOG_REVS[-2], "--json")  # where its schema really is
        run(0, "stamp", "catalog", "--to", CATALOG_REVS[-2], "--purge", "--tag", "t")
        run(0, "upgrade", "catalog")
    run(0, "upgrade", "--all", "--sql", "--from-current", "--output-dir", "sql-current")
    # a failing revision, with and without --traceback and --json
    failing = versions / FAILING_FILE
    failing.write_text(FAILING_REVISION)
    for extra in ((), ("--traceback",), ("--json",), ("--json", "--traceback")):
        result = run(1, "upgrade", "--all", *extra)
        assert FAILING_ERROR in result.stdout + result.stderr
        if session.backend.name == "mariadb":  # the half-done table stays: drop it for the next try
            run(0, "stamp", "catalog", "--to", CATALOG_HEAD)
            _drop_half_done(session)
    failing.unlink()
    # usage errors naming the database
    run(2, "upgrade", "catalog", "--to", "deadbeef")
    run(2, "stamp", "catalog", "--to", "nope", "--traceback")
    # a revision written by autogenerate (the models are at head: an empty one)
    run(0, "revision", "catalog", "-m", "nothing new", "--autogenerate")
    for path in versions.glob("*nothing_new*.py"):
        path.unlink()
    # adopt: refused on a versioned database, then a database made without version table
    run(2, "adopt", "catalog")
    session.backend.drop_version_table("catalog")
    run(1, "adopt", "catalog", "--to", CATALOG_REVS[0], "--traceback")
    run(0, "adopt", "catalog", "--json")
    # a runner waiting for another one's lock (with something to do: a runner with nothing to do takes no lock)
    run(0, "downgrade", "catalog", "--to", "-1")
    session.wait_on_a_held_lock()
    # the server refuses the connection (so none of these changes anything)
    refused = (
        ("status",),
        ("status", "--json"),
        ("current",),
        ("check",),
        ("check", "--json"),
        ("upgrade", "--all"),
        ("upgrade", "--all", "--traceback"),
        ("upgrade", "--all", "--json"),
        ("upgrade", "--all", "--json", "--traceback"),
        ("downgrade", "catalog", "--to", "-1"),
        ("stamp", "catalog", "--to", "heads", "--traceback"),
        ("adopt", "catalog"),
        ("adopt", "catalog", "--traceback"),
        ("revision", "catalog", "-m", "x", "--autogenerate"),
        ("revision", "catalog", "-m", "x", "--autogenerate", "--traceback"),
        ("history", "catalog", "-i"),
        ("ensure-version", "catalog", "--traceback"),
    )
    session.together(
        *[(1, *args) for args in refused],
        (0, "upgrade", "--all", "--sql", "--output-dir", "sql-refused"),
        port=REFUSED_PORT,
    )
    # down to base (what the databases are left with is not the point; they are dropped next)
    if round_trips:
        run(0, "downgrade", "monitor", "--to", "base")
        run(0, "downgrade", "catalog", "--to", "base", "--json")


def _drop_half_done(session: Session) -> None:
    backend = session.backend
    assert isinstance(backend, MariaDB)
    with backend.admin.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS `{backend.databases['catalog']}`.half_done")


BACKENDS = [
    pytest.param("postgresql", marks=pytest.mark.postgresql),
    pytest.param("postgresql-query", marks=pytest.mark.postgresql),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]


def _record_one(name: str, folder: Path) -> Record:
    backend = MariaDB() if name == "mariadb" else PostgreSQL(in_query=name == "postgresql-query")
    try:
        session = Session(folder, backend)
        _drive_every_command(session)
        return session.record
    finally:
        backend.close()


@pytest.fixture(scope="module")
def records(request, tmp_path_factory) -> dict[str, Record | BaseException]:
    """Every command run once on each backend the selected tests use, the backends at the same time
    (each on its own databases and login); a backend's skip or failure is kept for its own tests."""
    mine = [item for item in request.session.items if item.path == request.path]
    wanted = sorted({item.callspec.params["record"] for item in mine if "record" in item.fixturenames})
    folders = {name: tmp_path_factory.mktemp(f"secrets-{name}") for name in wanted}
    with ThreadPoolExecutor(max(1, len(wanted))) as pool:
        futures = {name: pool.submit(_record_one, name, folders[name]) for name in wanted}
    return {name: future.exception() or future.result() for name, future in futures.items()}


@pytest.fixture(scope="module", params=BACKENDS)
def record(request, records) -> Record:
    """The backend's record (module-scoped: each channel's test reads the same runs)."""
    found = records[request.param]
    if isinstance(found, BaseException):
        raise found
    return found


def test_terminal_output_json_and_tracebacks_never_show_the_password(record: Record):
    assert any("Traceback (most recent call last)" in run.stderr for run in record.runs)
    assert any("127.0.0.1:1/" in run.stderr and "***" in run.stderr for run in record.runs)  # URLs shown, masked
    for run in record.runs:
        for stream in (run.stdout, run.stderr):
            assert not leaks(stream), (run.args, stream)


def test_offline_sql_never_holds_the_password(record: Record):
    sql = {path: data for path, data in record.files().items() if path.suffix == ".sql"}
    assert len(sql) >= 5, sorted(sql)
    for path, data in sql.items():
        assert not leaks(data), path


def test_no_file_left_in_the_project_home_or_cache_holds_the_password(record: Record):
    files = record.files()
    assert files
    for path, data in files.items():
        assert not leaks(data), path


def test_a_waiting_runner_shows_no_password_in_its_argv_title_or_server_session(record: Record):
    assert record.cmdlines and record.sessions
    for seen in [*record.cmdlines, *record.sessions]:
        assert not leaks(seen), seen


# --- the pytest plugin ------------------------------------------------------------------------------

SHOP = Path(__file__).parent / "plugin_projects" / "shop"
# a revision that runs on SQLite only (INSERT OR IGNORE): it fails on PostgreSQL, inside a check
SQLITE_ONLY = '''"""e1000003"""

from alembic import op

revision = "e1000003"
down_revision = "e1000002"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("INSERT OR IGNORE INTO events (id, kind, level) VALUES (1, 'boot', 'info')")


def downgrade():
    op.execute("DELETE FROM events WHERE id = 1")
'''


OWN_TEST = """
def test_a_throwaway_database(multidb_project, multidb_server_urls, multidb_throwaway):
    project = multidb_throwaway("events", "postgresql")
    assert project is None
"""


@dataclass
class PluginRecord:
    outputs: list[tuple[str, str]]  # (what ran, stdout + stderr)
    folder: Path


@pytest.fixture(scope="module")
def plugin_record(tmp_path_factory) -> PluginRecord:
    """The plugin run in pytest subprocesses on the shop project: passing, failing, and without a server."""
    from conftest import PG_ADMIN_URL

    _pg_or_skip(PG_ADMIN_URL)
    root = tmp_path_factory.mktemp("secrets-plugin")
    shop, home, cache = root / "shop", root / "home", root / "cache"
    shutil.copytree(SHOP, shop, ignore=shutil.ignore_patterns("__pycache__"))
    home.mkdir()
    cache.mkdir()
    admin = make_url(PG_ADMIN_URL)
    env = _clean_environ(
        HOME=str(home),
        XDG_CACHE_HOME=str(cache),
        MULTIDB_TEST_POSTGRESQL_URL=admin.set(password=PASSWORD).render_as_string(hide_password=False),
        # the production profile's URL is read for its dialect (offline SQL); its password is a query value
        EVENTS_DATABASE_URL=f"postgresql://events@db.internal/events?password={ENCODED}",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("CI", None)
    outputs = []

    def pytest_run(label: str, *args: str, code: int, **extra: str) -> None:
        junit = root / f"junit-{label}.xml"
        command = [sys.executable, "-m", "pytest", "--multidb-config", "config/multidb.yaml", "-p", "no:cacheprovider"]
        command += ["-v", "-l", "-rA", "--tb=long", f"--junitxml={junit}", f"--basetemp={root / ('tmp-' + label)}"]
        done = subprocess.run(
            [*command, *args], cwd=shop, env={**env, **extra}, capture_output=True, text=True, timeout=4 * BOUND
        )
        outputs.append((label, done.stdout + done.stderr))
        assert done.returncode == code, (label, done.stdout[-3000:], done.stderr[-3000:])
        assert junit.exists()

    pytest_run("pass", "--multidb-dialects", "sqlite,postgresql", code=0)
    (shop / "events_versions" / "e1000003_seed_boot_event.py").write_text(SQLITE_ONLY)
    pytest_run("fail", "--multidb-dialects", "sqlite,postgresql", "-k", "events", code=1)
    refused = admin.set(password=PASSWORD, port=REFUSED_PORT).render_as_string(hide_password=False)
    args = ("--multidb-dialects", "sqlite,postgresql", "-k", "events and upgrade")
    # a test of the user's own that fails while it holds the plugin's fixtures: -l shows its locals
    (shop / "tests").mkdir()
    (shop / "tests" / "test_own.py").write_text(OWN_TEST)  # the runs with -k "events and upgrade" deselect it
    # these three change nothing in the shop folder (each has its own junit file and basetemp): side by side
    with ThreadPoolExecutor(WORKERS) as pool:
        runs = [
            pool.submit(pytest_run, "no-server", *args, code=0, MULTIDB_TEST_POSTGRESQL_URL=refused),
            pool.submit(pytest_run, "no-server-ci", *args, code=1, MULTIDB_TEST_POSTGRESQL_URL=refused, CI="true"),
            pool.submit(pytest_run, OWN, "tests/test_own.py", "--multidb-dialects", "sqlite,postgresql", code=1),
        ]
    for run in runs:
        run.result()
    shown = dict(outputs)
    assert "test_own.py::test_a_throwaway_database FAILED" in shown[OWN]
    assert "FAILED" in shown["fail"] and 'near "OR"' in shown["fail"]
    assert ":***@127.0.0.1:1/" in shown["no-server"] and ":***@127.0.0.1:1/" in shown["no-server-ci"]
    return PluginRecord(outputs, root)


def _pg_or_skip(url: str) -> None:
    import psycopg2

    try:
        psycopg2.connect(url, connect_timeout=3).close()
    except psycopg2.OperationalError as e:
        if servers_required():
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {e}")
        pytest.skip(f"no PostgreSQL server: {e}")


OWN = "own-test"  # the run of a failing test of the user's own (see OWN_TEST)


@pytest.mark.postgresql
def test_the_plugin_output_never_shows_the_password(plugin_record: PluginRecord):
    for label, output in plugin_record.outputs:
        if label != OWN:
            assert not leaks(output), (label, [line for line in output.splitlines() if leaks(line)])


@pytest.mark.postgresql
def test_the_plugin_junit_xml_and_files_never_hold_the_password(plugin_record: PluginRecord):
    files = _files(plugin_record.folder, lambda path: OWN not in str(path))
    assert any(p.suffix == ".xml" for p in files)
    for path, data in files.items():
        assert not leaks(data), (path, [line for line in data.decode(errors="replace").splitlines() if leaks(line)])


@pytest.mark.postgresql
def test_a_failing_test_of_the_users_own_shows_no_password_with_l_nor_in_junit(plugin_record: PluginRecord):
    [output] = [output for label, output in plugin_record.outputs if label == OWN]
    assert not leaks(output), [line for line in output.splitlines() if leaks(line)]
    for path, data in _files(plugin_record.folder, lambda path: OWN in str(path)).items():
        assert not leaks(data), path


def _files(folder: Path, wanted) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and wanted(p)}


# --- a statement that fails because of its own text ------------------------------------------------

FAILING_STATEMENT = CREATES_USER_THEN_FAILS.replace("IDENTIFIED BY", "IDENTIFIED BYY").replace(
    '    raise RuntimeError("failing on purpose")\n', ""
)


@pytest.mark.mariadb
@pytest.mark.parametrize("extra", [(), ("--traceback",)], ids=["text", "traceback"])
def test_mariadb_failing_statement_does_not_echo_its_literals(cli, project, mariadb_database, mariadb_user, extra):
    revision = FAILING_STATEMENT.replace("{user}", mariadb_user)
    (project / "catalog_versions" / f"{CATALOG_NEXT}_creates_user.py").write_text(revision)
    env = _use_production(project, mariadb_database(), mariadb_database())

    result = cli("upgrade", "catalog", "-p", "production", *extra, env=env)

    assert result.exit_code == 1, result.output
    assert "statement 3 failed: CREATE USER (literals hidden)" in result.stderr, result.stderr
    assert USER_PASSWORD not in result.output

"""Every kind of bad input a user can give, and what they get back: one line on stderr that starts
with ``multidb: error:`` and says what is wrong and where (database, key path or file), exit code 1
or 2, no traceback, and no database changed.

docs/bad-input.md lists the same inputs, one row per test below. Every test starts from databases
that have work pending (catalog at its 2nd revision, monitor at its 1st), so a command that wrongly
went ahead would show in the before/after comparison of the version tables, tables and row counts.
SQLite always; the same on PostgreSQL where the input applies (``pg_database``); MariaDB for a wrong
password. Network traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from click.testing import Result
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from example_project import CATALOG_NEXT, CATALOG_REVS, MONITOR_REVS

START = {"catalog": CATALOG_REVS[1], "monitor": MONITOR_REVS[0]}  # both have pending revisions
RESULT_HEADER = ["DATABASE", "FROM", "TO", "RESULT"]
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}

# Write commands that would change the databases of the starting state if they ran.
WRITES: list[tuple[str, ...]] = [
    ("upgrade", "--all"),
    ("downgrade", "catalog", "--to", "-1"),
    ("stamp", "monitor", "--to", "heads"),
]


# --- what a database holds ---------------------------------------------------------------------


def snapshot_url(url: str) -> dict[str, Any] | None:
    """Tables (with columns and row counts) and version rows; None for a SQLite file not there."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if not path.exists():
            return None
        return _snapshot_sqlite(path)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    engine = sa.create_engine(parsed, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            found: dict[str, Any] = {}
            for name in sorted(inspector.get_table_names()):
                columns = [c["name"] for c in inspector.get_columns(name)]
                count = conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar()
                found[name] = (columns, count)
            versions: list[str] = []
            if "alembic_version" in found:
                table = sa.table("alembic_version", sa.column("version_num"))
                versions = sorted(r[0] for r in conn.execute(sa.select(table.c.version_num)))
            return {"tables": found, "versions": versions}
    finally:
        engine.dispose()


def _snapshot_sqlite(path: Path) -> dict[str, Any]:
    # read-only URI: never creates the file, works on a file made immutable
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY 2")
        schema = [tuple(r) for r in rows]
        found = {
            name: conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
            for kind, name, _ in schema
            if kind == "table"
        }
        versions = sorted(r[0] for r in conn.execute("SELECT version_num FROM alembic_version")) if found else []
    return {"schema": schema, "tables": found, "versions": versions}


# --- a project whose databases have work pending -------------------------------------------------


@dataclass
class Setup:
    """The example project on one backend, seeded to ``START``; ``run`` adds profile and env."""

    backend: str
    project: Path
    cli: Callable[..., Result]
    urls: dict[str, str]  # the real URLs, to look inside the databases
    env: dict[str, str | None] = field(default_factory=dict)
    profile: tuple[str, ...] = ()

    @property
    def config(self) -> Path:
        return self.project / "config" / "multidb.yaml"

    @property
    def active_profile(self) -> str:
        return self.profile[1] if self.profile else "local"

    def run(self, *args: str, env: dict[str, str | None] | None = None, profile: bool = True) -> Result:
        # the profile goes first: after the arguments, "--to -p production" would eat it
        return self.cli(*(self.profile if profile else ()), *args, env={**self.env, **(env or {})})

    def run_process(self, *args: str, timeout: float) -> tuple[subprocess.CompletedProcess | None, float]:
        """``python -m multidb ARGS`` in a child process, so a hang cannot hang the test run."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIDB_")}
        env.update({k: v for k, v in self.env.items() if v is not None})
        started = time.monotonic()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "multidb", *self.profile, *args],
                cwd=self.project,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return None, time.monotonic() - started
        return done, time.monotonic() - started

    def snapshot(self) -> dict[str, Any]:
        return {name: snapshot_url(url) for name, url in self.urls.items()}

    def edit(self, change: Callable[[dict], None]) -> None:
        raw = yaml.safe_load(self.config.read_text())
        change(raw)
        self.config.write_text(yaml.safe_dump(raw, sort_keys=False))

    def url_key(self, name: str) -> str:
        """The key path an error about this database's URL names."""
        return f"databases.{name}.url" if self.backend == "sqlite" else f"profiles.production.databases.{name}.url"

    def set_url(self, name: str, url: str) -> None:
        """Give the database a different URL where its active URL comes from (file or environment)."""
        if self.backend == "sqlite":
            self.edit(lambda raw: raw["databases"][name].update(url=url))
        else:
            self.env[f"{name.upper()}_DATABASE_URL"] = url

    def seed(self) -> None:
        for name, rev in START.items():
            result = self.run("upgrade", name, "--to", rev)
            assert result.exit_code == 0, result.output
        state = self.snapshot()
        assert {name: state[name]["versions"] for name in START} == {n: [r] for n, r in START.items()}


def sqlite_setup(project: Path, cli) -> Setup:
    urls = {name: f"sqlite:///{project / 'var' / f'{name}.db'}" for name in START}
    setup = Setup("sqlite", project, cli, urls)
    setup.seed()
    return setup


def postgresql_setup(project: Path, cli, pg_database) -> Setup:
    urls = {name: pg_database() for name in START}
    env: dict[str, str | None] = {f"{name.upper()}_DATABASE_URL": url for name, url in urls.items()}
    setup = Setup("postgresql", project, cli, urls, env, ("-p", "production"))
    setup.seed()
    return setup


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
]


@pytest.fixture(params=BACKENDS)
def setup(request: pytest.FixtureRequest, project: Path, cli) -> Setup:
    if request.param == "sqlite":
        return sqlite_setup(project, cli)
    return postgresql_setup(project, cli, request.getfixturevalue("pg_database"))


@pytest.fixture
def sqlite_only(project: Path, cli) -> Setup:
    return sqlite_setup(project, cli)


# --- what the user must see --------------------------------------------------------------------


def assert_refused(result: Result, code: int, *fragments: str, table: bool | None = False) -> str:
    """Exit ``code``; stderr's first line is ``multidb: error: ...`` holding every fragment.

    ``table``: a run that had started prints its result table (documented in commands.md) before
    the error line: True requires it, None allows it, False forbids it.
    """
    output = result.output
    assert "Traceback" not in output, output
    lines = result.stderr.splitlines()
    assert lines, f"nothing on stderr (exit {result.exit_code}); stdout: {result.stdout!r}"
    if lines[0].split() == RESULT_HEADER and table is not False:
        lines = [line for line in lines if line.startswith("multidb: error:")] or lines[-1:]
    else:
        assert not table, f"expected the result table first:\n{result.stderr}"
    line = lines[0]
    assert line.startswith("multidb: error: "), f"first stderr line is not 'multidb: error: ...':\n{result.stderr}"
    assert result.stderr.count("multidb: error:") == 1, result.stderr
    assert "unexpected" not in line, line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in: {line}"
    assert result.exit_code == code, f"exit {result.exit_code}, expected {code}: {line}"
    return line


def refuse_all(setup: Setup, commands, code: int, *fragments: str, **kw: Any) -> list[str]:
    """Run each command, check each is refused the same way; the databases stay as they were."""
    before = setup.snapshot()
    lines = []
    for args in commands:
        result = setup.run(*args)
        lines.append(assert_refused(result, code, *fragments, **kw))
        assert setup.snapshot() == before, f"{args} changed a database"
    return lines


def files_under(folder: Path, pattern: str = "*.py") -> set[Path]:
    return {p for p in folder.rglob(pattern) if "__pycache__" not in p.parts}


# === config =====================================================================================


def test_malformed_yaml(setup):
    text = setup.config.read_text()
    setup.config.write_text(text + "\n  broken: [unclosed\n")
    lines = refuse_all(setup, [*WRITES, ("status",)], 2, str(setup.config), "malformed YAML", "line ")
    assert all("column" in line for line in lines)


def _in_active_profile(key: str, value: Any) -> Callable[[dict, str], None]:
    def change(raw: dict, profile: str) -> None:
        entry = raw["profiles"][profile] or {}
        raw["profiles"][profile] = entry
        entry.setdefault("databases", {}).setdefault("catalog", {})[key] = value

    return change


UNKNOWN_KEYS = {
    "top-level": (lambda raw, _p: raw.update(colour="blue"), "colour: unknown key 'colour'"),
    "database": (
        lambda raw, _p: raw["databases"]["catalog"].update(batchh="auto"),
        "databases.catalog.batchh: unknown key 'batchh' (did you mean 'batch'?)",
    ),
    "base": (
        lambda raw, _p: raw["databases"]["monitor"]["bases"][0].update(lable="x"),
        "databases.monitor.bases[0].lable: unknown key 'lable' (did you mean 'label'?)",
    ),
    "active-profile": (_in_active_profile("conect_timeout", 1), ".databases.catalog.conect_timeout: unknown key"),
    "other-profile": (
        lambda raw, p: raw["profiles"].update(staging={"databses": {}}),
        "profiles.staging.databses: unknown key 'databses' (did you mean 'databases'?)",
    ),
}


@pytest.mark.parametrize("where", list(UNKNOWN_KEYS))
def test_unknown_key(setup, where):
    change, fragment = UNKNOWN_KEYS[where]
    setup.edit(lambda raw: change(raw, setup.active_profile))
    refuse_all(setup, WRITES, 2, str(setup.config), fragment)


WRONG_TYPES = {
    "number": ("databases.catalog.connect_timeout", "soon", "expected a number of seconds greater than 0"),
    "list": ("databases.monitor.depends_on", "catalog", "expected a list of database names"),
    "bases": ("databases.catalog.bases", "../catalog_versions", "expected a list of {label, path} mappings"),
    "url": ("databases.catalog.url", 5432, "expected a database URL string"),
    "duration": ("databases.monitor.lock_timeout", "soonish", "expected a duration"),
    "flag": ("profiles.production.protected", "yes", "expected true or false"),
    "mapping": ("defaults", ["connect_timeout", 1], "expected a mapping, got a list"),
}


@pytest.mark.parametrize("case", list(WRONG_TYPES))
def test_wrong_type(setup, case):
    key_path, value, fragment = WRONG_TYPES[case]

    def change(raw: dict) -> None:
        *parents, last = key_path.split(".")
        node = raw
        for part in parents:
            node = node[part]
        node[last] = value

    setup.edit(change)
    refuse_all(setup, WRITES, 2, str(setup.config), f"{key_path}: {fragment}")


def test_missing_environment_variable(setup):
    if setup.backend == "sqlite":
        setup.edit(lambda raw: raw["databases"]["catalog"].update(url="sqlite:///../var/${BAD_INPUT_CATALOG}.db"))
        variable = "BAD_INPUT_CATALOG"
    else:
        variable = "CATALOG_DATABASE_URL"
    setup.env[variable] = None  # unset, whatever the surrounding environment holds
    refuse_all(
        setup, [*WRITES, ("status",), ("list",)], 2, str(setup.config), setup.url_key("catalog"), variable, "not set"
    )


@pytest.mark.parametrize(
    "args",
    [
        ("upgrade", "catalgo"),
        ("upgrade", "catalog", "nosuch"),  # catalog exists, but nothing runs
        ("downgrade", "catalgo", "--to", "-1"),
        ("stamp", "monitr", "--to", "heads"),
    ],
    ids=["upgrade", "one-of-two", "downgrade", "stamp"],
)
def test_unknown_database(setup, args):
    wrong = args[2] if args[1] == "catalog" else args[1]
    line = refuse_all(setup, [args], 2, f"unknown database '{wrong}'", "defines: catalog, monitor")[0]
    if wrong in ("catalgo", "monitr"):
        assert "did you mean" in line


@pytest.mark.parametrize("source", ["--profile", "MULTIDB_PROFILE"])
def test_unknown_profile(setup, source):
    before = setup.snapshot()
    for args in WRITES:
        if source == "--profile":
            result = setup.run(*args, "--profile", "prodcution", profile=False)
        else:
            result = setup.run(*args, env={"MULTIDB_PROFILE": "prodcution"}, profile=False)
        assert_refused(
            result, 2, str(setup.config), f"{source}: unknown profile 'prodcution'", "did you mean 'production'?"
        )
    assert setup.snapshot() == before


def test_missing_version_folder(setup):
    (setup.project / "monitor_versions").rename(setup.project / "monitor_versions_moved")
    commands = [("upgrade", "--all"), ("upgrade", "monitor"), ("stamp", "monitor", "--to", "heads")]
    refuse_all(
        setup,
        commands,
        2,
        str(setup.config),
        "databases.monitor.bases[0].path",
        f"folder {setup.project / 'monitor_versions'} does not exist",
    )


@pytest.mark.parametrize(
    "url",
    [
        "nosuchdialect://postgres@127.0.0.1:1/catalog",
        "postgresql+nosuchdriver://postgres@127.0.0.1:1/catalog",
        "sqlite+nosuchdriver:///catalog.db",
    ],
    ids=["dialect", "pg-driver", "sqlite-driver"],
)
def test_unknown_dialect_in_url(setup, url):
    setup.set_url("catalog", url)
    drivername = url.split(":", 1)[0]
    refuse_all(
        setup,
        [*WRITES, ("upgrade", "--all", "--sql", "--output-dir", "out")],
        2,
        str(setup.config),
        f"{setup.url_key('catalog')}: unknown database dialect or driver '{drivername}'",
    )
    assert not (setup.project / "out").exists()


@pytest.mark.parametrize(
    "url",
    ["not a url", "postgresql://postgres@127.0.0.1:notaport/catalog", "", "postgresql://postgres@[::1/catalog"],
    ids=["words", "port", "empty", "bracket"],
)
def test_invalid_url(setup, url):
    setup.set_url("catalog", url)
    line = refuse_all(setup, WRITES, 2, str(setup.config), f"{setup.url_key('catalog')}: not a valid database URL")[0]
    if url:
        assert url not in line  # a URL may hold a password: never echoed


def test_non_string_database_name(setup):
    """YAML reads ``2024:`` as a number: a broken entry under such a name is a config error too."""
    setup.edit(lambda raw: raw["databases"].update({2024: "not a mapping"}))
    refuse_all(setup, WRITES, 2, str(setup.config), "2024 is not a plain name")


# === revisions ==================================================================================


@pytest.mark.parametrize(
    "args",
    [
        ("upgrade", "catalog", "--to", "deadbeef"),
        ("upgrade", "--all", "--to", "deadbeef"),
        ("downgrade", "catalog", "--to", "deadbeef"),
        ("stamp", "catalog", "--to", "deadbeef"),
        ("upgrade", "catalog", "--to", MONITOR_REVS[2]),  # the other database's revision
    ],
    ids=["upgrade", "upgrade-all", "downgrade", "stamp", "other-database"],
)
def test_nonexistent_revision(setup, args):
    refuse_all(setup, [args], 2, f"catalog: unknown revision '{args[-1]}'")


@pytest.mark.parametrize("command", ["upgrade", "downgrade", "stamp"])
def test_ambiguous_revision_prefix(setup, command):
    refuse_all(
        setup,
        [(command, "catalog", "--to", "c1a0f0a1b00")],
        2,
        "catalog: ambiguous revision prefix",
        "Multiple revisions start with 'c1a0f0a1b00'",
    )


@pytest.mark.parametrize(
    "target",
    ["", "@", ",", "catalog@"],
    ids=["empty", "at", "comma", "label-at"],
)
@pytest.mark.parametrize("command", ["upgrade", "downgrade", "stamp"])
def test_empty_or_punctuation_target(setup, command, target):
    refuse_all(setup, [(command, "catalog", "--to", target)], 2, "catalog: ")


ARCHIVE_REVISION = '''"""start archive

Revision ID: a7c0000000a1
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "a7c0000000a1"
down_revision = None
branch_labels = ("archive",)
depends_on = None


def upgrade() -> None:
    op.create_table("archive_items", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("archive_items")
'''


@pytest.mark.parametrize(
    "args",
    [
        ("revision", "catalog", "-m", "needs a head"),
        ("upgrade", "catalog", "--to", "head"),
        ("stamp", "catalog", "--to", "head"),
    ],
    ids=["revision", "upgrade-head", "stamp-head"],
)
def test_several_heads_without_a_target(setup, args):
    setup.edit(
        lambda raw: raw["databases"]["catalog"]["bases"].append(
            {"label": "archive", "path": "../catalog_archive_versions"}
        )
    )
    archive = setup.project / "catalog_archive_versions"
    archive.mkdir()
    (archive / "a7c0000000a1_start_archive.py").write_text(ARCHIVE_REVISION)
    files = files_under(setup.project)
    line = refuse_all(setup, [args], 2, "catalog: ")[0]
    assert "multiple head" in line.lower(), line
    assert files_under(setup.project) == files, "a revision file was written"


def _code_is_older_than_the_database(setup: Setup) -> None:
    """The checkout lost the revisions after c1a0f0a1b001: the database (at ...002) is ahead of it."""
    for path in (setup.project / "catalog_versions").glob("*.py"):
        if not path.name.startswith(CATALOG_REVS[0]):
            path.unlink()


AHEAD = f"catalog: the database is at revision {CATALOG_REVS[1]}, which no version folder holds"


@pytest.mark.parametrize(
    "args",
    [
        ("upgrade", "--all"),
        ("upgrade", "catalog"),
        ("downgrade", "catalog", "--to", "-1"),
        ("downgrade", "catalog", "--to", "base"),
        ("stamp", "catalog", "--to", "heads"),
        ("check", "catalog"),
    ],
    ids=["upgrade-all", "upgrade", "downgrade", "downgrade-base", "stamp", "check"],
)
def test_database_ahead_of_the_code(setup, args):
    _code_is_older_than_the_database(setup)
    refuse_all(setup, [args], 1, AHEAD)
    status = setup.run("status", "catalog", "--json")
    assert status.exit_code == 0 and '"ahead of code"' in status.stdout, status.output


def test_database_ahead_of_the_code_autogenerate(setup):
    """``revision --autogenerate`` says the same as the other commands, not 'unknown revision'."""
    _code_is_older_than_the_database(setup)
    files = files_under(setup.project)
    refuse_all(setup, [("revision", "catalog", "-m", "x", "--autogenerate")], 1, AHEAD)
    assert files_under(setup.project) == files


def _add_catalog_revision(setup: Setup, body: str) -> Path:
    path = setup.project / "catalog_versions" / f"{CATALOG_NEXT}_bad.py"
    header = (
        '"""a new revision"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f'revision = "{CATALOG_NEXT}"\ndown_revision = "{CATALOG_REVS[-1]}"\nbranch_labels = None\ndepends_on = None\n'
    )
    path.write_text(header + body)
    return path


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


BROKEN_HISTORY_COMMANDS: list[tuple[str, ...]] = [
    ("upgrade", "--all"),
    ("downgrade", "catalog", "--to", "-1"),
    ("stamp", "catalog", "--to", "heads"),
    ("upgrade", "catalog", "--sql", "--output-dir", "out"),
    ("revision", "catalog", "-m", "on a broken history"),
]


def test_revision_file_with_syntax_error(setup):
    path = _add_catalog_revision(setup, '\n\ndef upgrade() -> None:\n    op.execute("SELECT 1"\n')
    line = _line_of(path, "op.execute(")
    files = files_under(setup.project)
    refuse_all(setup, BROKEN_HISTORY_COMMANDS, 1, f"catalog: cannot load revision file {path}, line {line}: ")
    assert files_under(setup.project) == files
    assert not (setup.project / "out").exists()


def test_revision_file_with_import_error(setup):
    path = _add_catalog_revision(setup, "import no_such_module_for_multidb_tests\n")
    line = _line_of(path, "import no_such_module")
    files = files_under(setup.project)
    refuse_all(
        setup,
        BROKEN_HISTORY_COMMANDS,
        1,
        f"catalog: cannot load revision file {path}, line {line}: ModuleNotFoundError",
        "no_such_module_for_multidb_tests",
    )
    assert files_under(setup.project) == files
    assert not (setup.project / "out").exists()


def test_two_revision_files_with_the_same_id(setup):
    folder = setup.project / "catalog_versions"
    original = next(folder.glob(f"{CATALOG_REVS[2]}_*.py"))
    shutil.copy(original, folder / f"{CATALOG_REVS[2]}_copy.py")
    files = files_under(setup.project)
    refuse_all(setup, BROKEN_HISTORY_COMMANDS, 1, "catalog: two revision files share an id", CATALOG_REVS[2])
    assert files_under(setup.project) == files
    assert not (setup.project / "out").exists()


@pytest.mark.parametrize(
    "args",
    [("upgrade", "catalog", "--to", f"{CATALOG_REVS[1]}:heads"), ("downgrade", "catalog", "--to", "heads:base")],
    ids=["upgrade", "downgrade"],
)
def test_range_without_sql(setup, args):
    refuse_all(setup, [args], 2, "FROM:TO", "--sql")


@pytest.mark.parametrize(
    "args",
    [("downgrade", "catalog"), ("downgrade", "catalog", "--to")],
    ids=["no-option", "no-value"],
)
def test_downgrade_without_to(setup, args):
    refuse_all(setup, [args], 2, "--to")


# === servers and files ==========================================================================


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that listens but never accepts: the handshake completes, nothing answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("backend", "scheme"),
    [
        pytest.param("sqlite", "postgresql", id="sqlite-postgresql"),
        pytest.param("sqlite", "mysql+pymysql", id="sqlite-mysql"),
        pytest.param("postgresql", "postgresql", id="postgresql-postgresql", marks=pytest.mark.postgresql),
    ],
)
def test_unreachable_host_times_out(request, project, cli, silent_port, backend, scheme):
    """monitor's server never answers: with connect_timeout 1 the run ends in seconds, nothing changed."""
    if backend == "sqlite":
        setup = sqlite_setup(project, cli)
    else:
        setup = postgresql_setup(project, cli, request.getfixturevalue("pg_database"))
    setup.edit(lambda raw: raw.update(defaults={"connect_timeout": 1}))
    silent = f"{scheme}://root@127.0.0.1:{silent_port}/monitor"
    setup.set_url("monitor", silent)
    before = setup.snapshot()

    done, elapsed = setup.run_process("upgrade", "--all", timeout=15)

    assert done is not None, f"still waiting after {elapsed:.0f} s: connect_timeout 1 was not honoured"
    assert elapsed < 10, f"took {elapsed:.0f} s with connect_timeout 1"
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.splitlines()
    assert lines and lines[0].startswith("multidb: error: monitor: cannot connect to "), done.stderr
    assert f"127.0.0.1:{silent_port}/monitor" in lines[0]
    assert done.returncode == 1, done.stderr
    assert setup.snapshot() == before, "catalog changed although monitor was unreachable"


def test_wrong_password(project, cli, mariadb_database):
    name = mariadb_database().rsplit("/", 1)[1]
    good = f"mysql+pymysql://root@127.0.0.1:3306/{name}"
    bad = f"mysql+pymysql://root:wrong@127.0.0.1:3306/{name}"
    monitor = f"sqlite:///{project / 'var' / 'monitor.db'}"
    env: dict[str, str | None] = {"CATALOG_DATABASE_URL": good, "MONITOR_DATABASE_URL": monitor}
    setup = Setup("mariadb", project, cli, {"catalog": good, "monitor": monitor}, env, ("-p", "production"))
    setup.seed()
    setup.env["CATALOG_DATABASE_URL"] = bad

    commands = [
        ("upgrade", "--all"),
        ("upgrade", "catalog"),
        ("downgrade", "catalog", "--to", "-1"),
        ("stamp", "catalog", "--to", "heads"),
    ]
    lines = refuse_all(
        setup,
        commands,
        1,
        f"catalog: cannot connect to mysql+pymysql://root:***@127.0.0.1:3306/{name}",
        "Access denied",
    )
    assert not any("wrong" in line for line in lines)


@pytest.fixture
def immutable() -> Iterator[Callable[[Path], None]]:
    """Make files and folders unwritable, for root too (chattr +i); undone afterwards."""
    done: list[Path] = []

    def make(path: Path) -> None:
        path.chmod(0o555 if path.is_dir() else 0o444)
        done.append(path)
        if os.geteuid() == 0:
            chattr = shutil.which("chattr")
            if chattr is None:
                pytest.skip("running as root, where chmod does not stop writes, and chattr is missing")
            proc = subprocess.run([chattr, "+i", str(path)], capture_output=True, text=True)
            if proc.returncode != 0:
                pytest.skip(f"running as root, where chmod does not stop writes, and chattr +i fails: {proc.stderr}")

    yield make
    for path in reversed(done):
        if os.geteuid() == 0 and shutil.which("chattr"):
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)
        path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.mark.parametrize("how", ["immutable-file-and-folder", "uri-mode-ro"])
@pytest.mark.parametrize(
    "args",
    [("upgrade", "catalog"), ("downgrade", "catalog", "--to", "-1"), ("stamp", "catalog", "--to", "heads")],
    ids=["upgrade", "downgrade", "stamp"],
)
def test_read_only_sqlite_file(sqlite_only, immutable, how, args):
    setup = sqlite_only
    db = setup.project / "var" / "catalog.db"
    if how == "uri-mode-ro":
        setup.set_url("catalog", f"sqlite:///file:{db}?mode=ro&uri=true")
    else:
        immutable(db)
        immutable(db.parent)
        with pytest.raises(OSError):
            db.open("ab").close()  # really read-only, for this user too
    refuse_all(setup, [args], 1, "catalog: ", "readonly database", table=None)


@pytest.mark.parametrize("where", ["existing-file", "under-a-file", "under-proc", "read-only-folder"])
def test_offline_output_folder_not_writable(setup, immutable, where):
    blocker = setup.project / "a-file"
    blocker.write_text("not a folder\n")
    folder = {
        "existing-file": "a-file",
        "under-a-file": "a-file/sql",
        "under-proc": "/proc/multidb-bad-input",
        "read-only-folder": "read-only",
    }[where]
    if where == "read-only-folder":
        (setup.project / "read-only").mkdir()
        immutable(setup.project / "read-only")
    commands = [
        ("upgrade", "--all", "--sql", "--output-dir", folder),
        ("upgrade", "catalog", "--sql", "--to", f"{CATALOG_REVS[1]}:heads", "--output-dir", folder),
    ]
    refuse_all(setup, commands, 2, folder)
    assert blocker.read_text() == "not a folder\n"
    assert not list(setup.project.rglob("*.sql"))
    assert not Path("/proc/multidb-bad-input").exists()

"""What the console script does to its own process (multidb.console): deferred dialect modules, and
the garbage collector off during start-up, back on for the work, frozen at the end.

Each test runs ``multidb`` in a process of its own, as the console script does, and looks at which
modules that process imported. Runs on PostgreSQL and MariaDB prove the deferred DDL module of the
dialect in use is loaded before any revision runs (a revision asserts Alembic's implementation).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# runs the console script's entry point, then prints which of the named modules were really loaded
PROBE = textwrap.dedent(
    """
    import atexit, json, sys, types
    from importlib.util import _LazyModule

    def loaded(name):
        module = sys.modules.get(name)
        return module is not None and type(module) is not _LazyModule

    names = json.loads(sys.argv.pop(1))
    atexit.register(lambda: print("LOADED " + json.dumps({n: loaded(n) for n in names}), file=sys.stderr))
    import gc
    atexit.register(lambda: print(f"GC {gc.isenabled()} {gc.get_freeze_count() > 0}", file=sys.stderr))
    sys.argv[0] = "multidb"
    from multidb.cli import run
    run()
    """
)

IMPL_CHECK = '''"""{message}"""
from alembic import op
import sqlalchemy as sa

revision = "{revision}"
down_revision = None
branch_labels = ("app",)
depends_on = None


def upgrade():
    import gc

    assert gc.isenabled()  # the collector is on again while revisions run
    impl = type(op.get_context().impl).__name__
    assert impl == "{impl}", impl  # the dialect's DDL module was loaded before the revision ran
    op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("things")
'''


def probe(cwd: Path, modules: list[str], *args: str) -> tuple[subprocess.CompletedProcess, dict[str, bool]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(modules), *args], cwd=cwd, capture_output=True, text=True
    )
    line = next((x for x in done.stderr.splitlines() if x.startswith("LOADED ")), None)
    assert line is not None, done.stderr
    return done, json.loads(line.removeprefix("LOADED "))


UNUSED_ON_SQLITE = [
    "sqlalchemy.dialects.postgresql.base",
    "sqlalchemy.dialects.mysql.base",
    "sqlalchemy.dialects.mssql.base",
    "sqlalchemy.dialects.oracle.base",
    "alembic.ddl.postgresql",
    "alembic.ddl.mssql",
    "alembic.autogenerate.api",
]


def test_sqlite_upgrade_loads_no_other_dialect(project: Path) -> None:
    done, loaded = probe(project, [*UNUSED_ON_SQLITE, "alembic.ddl.sqlite"], "upgrade", "--all")
    assert done.returncode == 0, done.stderr
    assert "upgraded" in done.stdout
    assert loaded.pop("alembic.ddl.sqlite") is True
    assert not any(loaded.values()), loaded


def test_status_loads_no_other_dialect(project: Path) -> None:
    done, loaded = probe(project, UNUSED_ON_SQLITE, "status", "--all")
    assert done.returncode == 0, done.stderr
    assert not any(loaded.values()), loaded


def test_check_still_works_when_deferred(project: Path) -> None:
    """check compares models and migrations on SQLite with the other dialects deferred."""
    subprocess.run([sys.executable, "-m", "multidb", "upgrade", "--all"], cwd=project, check=True, capture_output=True)
    done, loaded = probe(project, ["alembic.ddl.postgresql", "alembic.autogenerate.api"], "check", "--all")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("the models match the migrations") == 2, done.stdout
    assert loaded == {"alembic.ddl.postgresql": False, "alembic.autogenerate.api": True}


def _one_database_project(tmp_path: Path, url: str, impl: str) -> Path:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a1_first.py").write_text(IMPL_CHECK.format(message="first", revision="a1", impl=impl))
    (tmp_path / "multidb.yaml").write_text(
        f'databases:\n  app:\n    url: "{url}"\n    bases: [{{label: app, path: versions}}]\n'
    )
    return tmp_path


@pytest.mark.parametrize(
    ("server", "impl", "used", "unused"),
    [
        pytest.param(
            "pg_database", "PostgresqlImpl", "alembic.ddl.postgresql", "alembic.ddl.mssql", marks=pytest.mark.postgresql
        ),
        pytest.param(
            "mariadb_database", "MySQLImpl", "alembic.ddl.mysql", "alembic.ddl.postgresql", marks=pytest.mark.mariadb
        ),
    ],
)
def test_server_run_loads_its_dialect_first(tmp_path: Path, request, server, impl, used, unused) -> None:
    root = _one_database_project(tmp_path, request.getfixturevalue(server)(), impl)
    done, loaded = probe(root, [used, unused], "-c", "multidb.yaml", "upgrade", "app")
    assert done.returncode == 0, done.stderr
    assert loaded == {used: True, unused: False}


@pytest.mark.parametrize(
    ("url", "impl", "module"),
    [
        ("postgresql://app@db.invalid/app", "PostgresqlImpl", "alembic.ddl.postgresql"),
        ("mysql+pymysql://app@db.invalid/app", "MySQLImpl", "alembic.ddl.mysql"),
        ("mssql+pyodbc://app@db.invalid/app", "MSSQLImpl", "alembic.ddl.mssql"),
    ],
)
def test_offline_sql_loads_its_dialect_first(tmp_path: Path, url: str, impl: str, module: str) -> None:
    root = _one_database_project(tmp_path, url, impl)
    out = tmp_path / "sql"
    done, loaded = probe(root, [module], "-c", "multidb.yaml", "upgrade", "app", "--sql", "--output-dir", str(out))
    assert done.returncode == 0, done.stderr
    assert loaded[module] is True
    assert "CREATE TABLE things" in (out / "app.sql").read_text()


def test_revision_files_may_import_a_deferred_module(tmp_path: Path) -> None:
    """A SQLite revision that imports from a deferred module gets the real module."""
    root = _one_database_project(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", "SQLiteImpl")
    revision = root / "versions" / "a1_first.py"
    revision.write_text(
        revision.read_text().replace(
            "import sqlalchemy as sa\n",
            "import sqlalchemy as sa\nfrom alembic.ddl.postgresql import PostgresqlImpl\n"
            "assert PostgresqlImpl.__dialect__ == 'postgresql'\n",
        )
    )
    done, loaded = probe(root, ["alembic.ddl.postgresql"], "-c", "multidb.yaml", "upgrade", "app")
    assert done.returncode == 0, done.stderr
    assert loaded["alembic.ddl.postgresql"] is True


def test_library_use_defers_nothing() -> None:
    """Importing multidb (an application, the pytest plugin) leaves the import system alone."""
    code = (
        "import multidb, multidb.commands, multidb.testing, sys; "
        "print(any('Deferring' in type(f).__name__ for f in sys.meta_path))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_autogenerate_revision_when_deferred(project: Path) -> None:
    """revision --autogenerate (autogenerate deferred, loaded on use) writes a revision of the model change."""
    subprocess.run([sys.executable, "-m", "multidb", "upgrade", "--all"], cwd=project, check=True, capture_output=True)
    models = project / "example_app" / "catalog.py"
    extra = 'import sqlalchemy as _sa\n_sa.Table("extra_things", metadata, _sa.Column("id", _sa.Integer))\n'
    models.write_text(models.read_text() + "\n\n" + extra)
    done, loaded = probe(project, ["alembic.autogenerate.api"], "revision", "catalog", "-m", "extra", "--autogenerate")
    assert done.returncode == 0, done.stdout + done.stderr
    assert loaded["alembic.autogenerate.api"] is True
    written = [p for p in (project / "catalog_versions").glob("*extra*.py")]
    assert len(written) == 1 and 'op.create_table("extra_things"' in written[0].read_text().replace("'", '"')


def test_collector_is_frozen_at_the_end_of_a_command(project: Path) -> None:
    """A read-only command runs with the collector off and ends with everything frozen."""
    done, _ = probe(project, [], "status", "--all")
    assert done.returncode == 0, done.stderr
    assert "GC False True" in done.stderr


def test_a_failing_command_still_ends_frozen(tmp_path: Path) -> None:
    done, _ = probe(tmp_path, [], "-c", "missing.yaml", "status", "--all")
    assert done.returncode == 2
    assert "GC False True" in done.stderr


def test_library_use_leaves_the_collector_alone(project: Path) -> None:
    """Commands run in-process (as an application or the pytest plugin would) change nothing."""
    code = (
        "import gc, os\n"
        "from click.testing import CliRunner\n"
        "from multidb.cli import main\n"
        "result = CliRunner().invoke(main, ['upgrade', '--all'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(gc.isenabled(), gc.get_freeze_count())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "0"]

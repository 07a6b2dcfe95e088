"""The ``multidb`` command runs in an ordinary interpreter (issue 12): no process-wide tricks.

An earlier version turned the garbage collector off for the command's start-up (and never back on
for read-only commands: a 2,000-target ``status --all`` grew by a third) and deferred imports with a
finder on ``sys.meta_path`` that revision files, models and hooks saw too. Each test runs
``multidb`` in a process of its own, as the console script does, and looks at the collector and
``sys.meta_path`` inside a revision's ``upgrade()``, inside user code the command imports, and at exit.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# runs the console script's entry point, then prints the collector's state and multidb's finders at exit
PROBE = textwrap.dedent(
    """
    import atexit, gc, sys

    def state():
        finders = [type(f).__name__ for f in sys.meta_path if type(f).__module__.startswith("multidb")]
        print(f"GC {gc.isenabled()} {gc.get_freeze_count()} FINDERS {finders}", file=sys.stderr)

    atexit.register(state)
    sys.argv[0] = "multidb"
    from multidb.cli import run
    run()
    """
)
ORDINARY = "GC True 0 FINDERS []"

# what a revision (or any user code the command imports) checks about the interpreter it runs in
CHECK_ORDINARY = textwrap.dedent(
    """
    import gc as _gc, sys as _sys

    assert _gc.isenabled(), "the collector is off in user code"
    assert _gc.get_freeze_count() == 0, "objects are frozen out of the collector's sight"
    assert not [f for f in _sys.meta_path if type(f).__module__.startswith("multidb")], _sys.meta_path
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
    CHECK
    impl = type(op.get_context().impl).__name__
    assert impl == "{impl}", impl
    op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("things")
'''.replace("CHECK", textwrap.indent(CHECK_ORDINARY.strip(), "    ").lstrip())


def probe(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``multidb ARGS`` through the console script's entry point; asserts the interpreter is ordinary at exit."""
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True)
    assert ORDINARY in done.stderr.splitlines(), done.stderr
    return done


def _one_database_project(tmp_path: Path, url: str, impl: str) -> Path:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a1_first.py").write_text(IMPL_CHECK.format(message="first", revision="a1", impl=impl))
    (tmp_path / "multidb.yaml").write_text(
        f'databases:\n  app:\n    url: "{url}"\n    bases: [{{label: app, path: versions}}]\n'
    )
    return tmp_path


@pytest.mark.parametrize(
    ("server", "impl"),
    [
        pytest.param("sqlite", "SQLiteImpl"),
        pytest.param("pg_database", "PostgresqlImpl", marks=pytest.mark.postgresql),
        pytest.param("mariadb_database", "MySQLImpl", marks=pytest.mark.mariadb),
    ],
)
def test_a_revision_runs_in_an_ordinary_interpreter(tmp_path: Path, request, server: str, impl: str) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}" if server == "sqlite" else request.getfixturevalue(server)()
    root = _one_database_project(tmp_path, url, impl)
    done = probe(root, "-c", "multidb.yaml", "upgrade", "app")
    assert done.returncode == 0, done.stderr


def test_a_read_only_command_leaves_the_collector_on(project: Path) -> None:
    """status, like every command, ends with the collector on and nothing frozen (it was off for good)."""
    done = probe(project, "status", "--all")
    assert done.returncode == 0, done.stderr


def test_a_failing_command_leaves_the_interpreter_as_it_was(tmp_path: Path) -> None:
    done = probe(tmp_path, "-c", "missing.yaml", "status", "--all")
    assert done.returncode == 2


def test_the_models_module_is_imported_by_an_ordinary_interpreter(project: Path) -> None:
    """User code the command imports (here the models, for check) sees the collector on and no multidb finder."""
    subprocess.run([sys.executable, "-m", "multidb", "upgrade", "--all"], cwd=project, check=True, capture_output=True)
    models = project / "example_app" / "catalog.py"
    models.write_text(models.read_text() + "\n" + CHECK_ORDINARY)
    done = probe(project, "check", "--all")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("the models match the migrations") == 2, done.stdout


@pytest.mark.parametrize(
    ("url", "impl"),
    [
        ("postgresql://app@db.invalid/app", "PostgresqlImpl"),
        ("mysql+pymysql://app@db.invalid/app", "MySQLImpl"),
        ("mssql+pyodbc://app@db.invalid/app", "MSSQLImpl"),
    ],
)
def test_offline_sql_uses_its_dialect(tmp_path: Path, url: str, impl: str) -> None:
    root = _one_database_project(tmp_path, url, impl)
    out = tmp_path / "sql"
    done = probe(root, "-c", "multidb.yaml", "upgrade", "app", "--sql", "--output-dir", str(out))
    assert done.returncode == 0, done.stderr
    assert "CREATE TABLE things" in (out / "app.sql").read_text()


def test_library_use_leaves_the_interpreter_alone(project: Path) -> None:
    """Commands run in-process (as an application or the pytest plugin would) change nothing."""
    code = (
        "import gc, sys\n"
        "import multidb.testing.plugin\n"
        "from click.testing import CliRunner\n"
        "from multidb.cli import main\n"
        "result = CliRunner().invoke(main, ['upgrade', '--all'])\n"
        "assert result.exit_code == 0, result.output\n"
        "finders = [f for f in sys.meta_path if type(f).__module__.startswith('multidb')]\n"
        "print(gc.isenabled(), gc.get_freeze_count(), len(finders))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "0", "0"]


def test_what_user_code_leaves_open_is_still_finalized_at_exit(project: Path) -> None:
    """Nothing skips the interpreter's own end: a file the models module opened and never closed is still
    flushed, and an object's ``__del__`` and a ``weakref.finalize`` still run at exit. (A ``gc.freeze()`` as
    the console script's last exit handler, tried for speed, lost the file's buffered writes.)"""
    subprocess.run([sys.executable, "-m", "multidb", "upgrade", "--all"], cwd=project, check=True, capture_output=True)
    out = project / "left_open.txt"
    models = project / "example_app" / "catalog.py"
    models.write_text(
        models.read_text()
        + textwrap.dedent(
            f"""

            import os as _os
            import weakref as _weakref

            _LEFT_OPEN = open({str(out)!r} + ".buffered", "a")
            _LEFT_OPEN.write("buffered;")
            _FD = _os.open({str(out)!r}, _os.O_WRONLY | _os.O_APPEND | _os.O_CREAT)


            class _Goodbye:
                def __del__(self, write=_os.write, fd=_FD):
                    write(fd, b"del;")


            _GOODBYE = _Goodbye()
            _weakref.finalize(_Goodbye, _os.write, _FD, b"finalize;")
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "multidb", "check", "--all"], cwd=project, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (project / "left_open.txt.buffered").read_text() == "buffered;"
    assert sorted(out.read_text().split(";")) == ["", "del", "finalize"], out.read_text()

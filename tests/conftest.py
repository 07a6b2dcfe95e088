"""Shared fixtures: a fresh copy of the example project, the CLI in-process, throwaway servers.

Server tests skip on a laptop without PostgreSQL, but never in CI: with CI set (or
MULTIDB_REQUIRE_SERVERS=1) a missing server fails the test instead.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from assertions import forget_test_modules, servers_required, shared_module
from click.testing import CliRunner, Result

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PARTS = ("config", "catalog_versions", "monitor_versions", "example_app")
PG_ADMIN_URL = os.environ.get("MULTIDB_TEST_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True, scope="session")
def _cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Anything written under XDG_CACHE_HOME goes to a folder of the test session, not the user's."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if before is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture(autouse=True, scope="session")
def _compiled_package() -> None:
    """multidb's modules compiled once, next to their source, before any test starts a process.

    Many tests run ``python -m multidb`` (or pytest) in a subprocess, and several set
    PYTHONDONTWRITEBYTECODE, as CI's machine does for every process: from a fresh checkout each such
    process would compile every multidb module it imports again (pip compiles the dependencies when it
    installs them, but not an editable install's source). Same code, same checks; only less CPU.
    """
    import compileall

    import multidb

    compileall.compile_dir(str(Path(multidb.__file__).parent), quiet=1)


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees no MULTIDB_* variables, leaves sys.path as it found it and forgets its projects' modules."""
    for name in list(os.environ):
        if name.startswith("MULTIDB_") and not name.startswith(("MULTIDB_TEST_", "MULTIDB_REQUIRE_")):
            monkeypatch.delenv(name)
    for name in ("CATALOG_DATABASE_URL", "MONITOR_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    # a relative sys.path entry (Alembic's ``prepend_sys_path = .``) gets a finder bound to the cwd of the test
    # that used it first: the next test's "." would find the first test's modules
    for entry in [e for e in sys.path_importer_cache if not os.path.isabs(e)]:
        del sys.path_importer_cache[entry]
    forget_test_modules(modules)  # a project's own modules only: multidb's and installed ones stay


@pytest.fixture(autouse=True, scope="session")
def _pytester_keeps_shared_modules() -> Iterator[None]:
    """pytester's in-process runs forget the inner project's modules only, as ``_isolate`` does.

    After each in-process run (``runpytest``, ``inline_run``) and at the end of the test, pytester
    puts back the ``sys.modules`` it saw before, deleting every module the run imported first. When
    that was one of multidb's (or PyYAML's, or the process pool's), the objects that still refer to
    it are a second copy from then on: a later ``--jobs`` run failed to pickle
    ``multidb.commands.migrate._apply_job`` ("not the same object as ..."), and a broken YAML file
    exited 1 instead of 2 (the kept ``multidb.safe_yaml`` raised another yaml module's ScannerError).
    pytester has no option for what it keeps, so its snapshot class is swapped for one that keeps
    :func:`~assertions.shared_module` modules too (``_pytest.pytester`` is pytest's private module: if
    it changes, this fails loudly here rather than the runs going wrong quietly).
    """
    from _pytest import pytester

    class KeepShared(pytester.SysModulesSnapshot):
        def __init__(self, preserve: Callable[[str], bool] | None = None) -> None:
            before = set(sys.modules)

            def keep(name: str) -> bool:
                if preserve is not None and preserve(name):
                    return True
                return name not in before and shared_module(sys.modules[name])

            super().__init__(preserve=keep)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pytester, "SysModulesSnapshot", KeepShared)
        yield


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the repository's example project (config, versions, models) in a temp folder."""
    target = tmp_path / "project"
    for part in EXAMPLE_PARTS:
        shutil.copytree(ROOT / part, target / part, ignore=shutil.ignore_patterns("__pycache__"))
    return target


CliFn = Callable[..., Result]


@pytest.fixture
def cli(project: Path, monkeypatch: pytest.MonkeyPatch) -> CliFn:
    """Run ``multidb ARGS...`` in-process from the project folder; returns click's Result."""
    from multidb.cli import main

    monkeypatch.chdir(project)

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def _pg_admin():
    import psycopg2

    try:
        conn = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
    except psycopg2.OperationalError as e:
        if servers_required():
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {e}")
        pytest.skip(f"no PostgreSQL server: {e}")
    conn.autocommit = True
    return conn


@pytest.fixture
def pg_database() -> Iterator[Callable[[], str]]:
    """A factory of throwaway PostgreSQL databases (random names), all dropped afterwards."""
    from sqlalchemy.engine import make_url

    admin = _pg_admin()
    created: list[str] = []

    def make() -> str:
        name = f"multidb_test_{uuid.uuid4().hex[:12]}"
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.cursor() as cur:
        for name in created:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


MARIADB_ADMIN_URL = os.environ.get("MULTIDB_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")


@pytest.fixture
def mariadb_database() -> Iterator[Callable[[], str]]:
    """A factory of throwaway MariaDB database URLs (random names), all dropped afterwards."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    admin = sa.create_engine(MARIADB_ADMIN_URL, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        admin.connect().close()
    except sa.exc.OperationalError as e:
        if servers_required():
            pytest.fail(f"MariaDB is required in CI but unreachable: {e}")
        pytest.skip(f"no MariaDB server: {e}")
    created: list[str] = []

    def make() -> str:
        name = f"multidb_test_{uuid.uuid4().hex[:12]}"
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE `{name}`")
        created.append(name)
        return MARIADB_ADMIN_URL.rstrip("/") + "/" + name

    yield make
    with admin.begin() as conn:
        for name in created:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    admin.dispose()

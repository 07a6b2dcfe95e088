"""Modules the ``multidb`` command loads only when something uses them.

Importing Alembic's migration runtime imports ``alembic.ddl``, which imports the DDL module of
every dialect Alembic knows, and with them SQLAlchemy's PostgreSQL, MySQL, MSSQL and Oracle
dialects and every async driver module those packages list, and ``alembic.config`` imports
autogenerate: about 20 ms of a SQLite run that uses none of them, and several ms of a PostgreSQL
run. The console script (:func:`install`, called by ``multidb.cli.run``) defers those modules:
on import each one is created empty and runs on first attribute access
(:class:`importlib.util.LazyLoader`). Code that uses one, from SQLAlchemy's dialect registry to
a revision file's ``from alembic.ddl.postgresql import ...``, touches an attribute and gets the
real module, so nothing behaves differently; only the import happens later or not at all.

A deferred Alembic DDL module is what registers that dialect's implementation (Alembic finds it
by dialect name, in a table, without touching the module), so :func:`load_dialect` loads it
before a migration context is made for that dialect: engines and offline runs call it.

Only the console script installs this; a process that merely imports multidb (an application,
the pytest plugin) keeps its own import behaviour.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from typing import Any

# Alembic's DDL module for each SQLAlchemy dialect name it deferred (SQLite's is small and always loaded)
ALEMBIC_DDL: dict[str, str | None] = {
    "sqlite": None,
    "postgresql": "alembic.ddl.postgresql",
    "mysql": "alembic.ddl.mysql",
    "mariadb": "alembic.ddl.mysql",
    "mssql": "alembic.ddl.mssql",
    "oracle": "alembic.ddl.oracle",
}

# driver modules that SQLAlchemy's dialect packages import eagerly; the dialect registry touches
# the one a URL names (``module.dialect``), which loads it
_DRIVERS = {
    "postgresql": ("asyncpg", "pg8000", "psycopg2cffi"),
    "sqlite": ("aiosqlite", "pysqlcipher"),
    "mysql": ("aiomysql", "asyncmy", "cymysql", "mariadbconnector", "mysqlconnector"),
}

# imported by alembic.config (for its command functions, which multidb does not call); multidb's
# authoring commands and PostgreSQL's DDL module use it, and so load it
_ALEMBIC_AUTOGENERATE = "alembic.autogenerate"

DEFERRED = frozenset([*filter(None, ALEMBIC_DDL.values()), _ALEMBIC_AUTOGENERATE]) | frozenset(
    f"sqlalchemy.dialects.{dialect}.{driver}" for dialect, drivers in _DRIVERS.items() for driver in drivers
)


class _DeferringFinder:
    """A meta path finder (``importlib.abc.MetaPathFinder``'s protocol; that module is not imported, to keep
    ``--help`` light): finds the modules in :data:`DEFERRED` as usual, and hands them out with a lazy loader."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in DEFERRED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None  # not there (an older release) or an unusual loader: import it as usual
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


_FINDER = _DeferringFinder()


def install() -> None:
    """Defer the modules in :data:`DEFERRED` in this process (once; it must run before they are imported)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def installed() -> bool:
    return _FINDER in sys.meta_path


def load_dialect(dialect: str) -> None:
    """Make sure Alembic knows ``dialect`` (for a dialect not listed: every deferred Alembic DDL module)."""
    if not installed():
        return
    names = [ALEMBIC_DDL[dialect]] if dialect in ALEMBIC_DDL else list(ALEMBIC_DDL.values())
    for name in dict.fromkeys(filter(None, names)):
        getattr(importlib.import_module(name), "__name__")  # noqa: B009  (an attribute runs a deferred module)

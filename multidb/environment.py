"""The shared Alembic environment: what every project's ``env.py`` would otherwise repeat.

It configures an :class:`~alembic.runtime.environment.EnvironmentContext` for one database,
online (on a connection) or offline (into a SQL buffer), and runs its migrations. It never
touches global logging and never reads an ini file.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any, TextIO

from .config import Database, Project
from .errors import ConfigError, ConfigProblem

if TYPE_CHECKING:
    from alembic.runtime.environment import EnvironmentContext
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Connection


def ensure_python_path(project: Project) -> None:
    """Put the config's ``python_path`` folders on ``sys.path`` (once)."""
    for folder in reversed(project.python_path):
        entry = str(folder.resolve())
        if entry not in sys.path:
            sys.path.insert(0, entry)


def load_metadata(project: Project, db: Database) -> MetaData:
    """Import the database's target ``MetaData`` from its ``package.module:attr`` path."""
    from sqlalchemy import MetaData

    where = f"databases.{db.name}.metadata"
    if not db.metadata:
        raise _problem(project, where, "not set: autogenerate and check need the models' MetaData")
    module_name, _, attr = db.metadata.partition(":")
    ensure_python_path(project)
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as e:  # an import error in user code: report it, don't crash
        raise _problem(project, where, f"cannot import '{module_name}': {type(e).__name__}: {e}") from e
    for part in [p for p in attr.split(".") if p]:
        if not hasattr(obj, part):
            raise _problem(project, where, f"'{module_name}' has no attribute '{attr}'")
        obj = getattr(obj, part)
    metadata = getattr(obj, "metadata", obj)
    if not isinstance(metadata, MetaData):
        raise _problem(project, where, f"'{db.metadata}' is not a SQLAlchemy MetaData (or a model base)")
    return metadata


def _problem(project: Project, where: str, text: str) -> ConfigError:
    return ConfigError([ConfigProblem(str(project.path), where, text)])


def options(db: Database, dialect: str) -> dict[str, Any]:
    """The ``configure()`` arguments every run of this database shares."""
    return {
        "version_table": db.version_table,
        "version_table_schema": db.version_table_schema,
        "render_as_batch": db.uses_batch(dialect),
        "compare_type": True,
        "transaction_per_migration": db.transaction == "per_revision",
    }


def version_schema_ddl(db: Database, dialect: Any) -> str | None:
    """``CREATE SCHEMA IF NOT EXISTS`` for a PostgreSQL version table schema (Alembic #659)."""
    if not db.version_table_schema or dialect.name != "postgresql":
        return None
    quoted = dialect.identifier_preparer.quote_schema(db.version_table_schema)
    return f"CREATE SCHEMA IF NOT EXISTS {quoted}"


def run_online(env: EnvironmentContext, db: Database, connection: Connection, **extra: Any) -> None:
    """Configure ``env`` on ``connection`` and run its migrations."""
    ddl = version_schema_ddl(db, connection.dialect)
    if ddl:
        connection.exec_driver_sql(ddl)
        connection.commit()
    env.configure(connection=connection, **options(db, connection.dialect.name), **extra)
    with env.begin_transaction():
        env.run_migrations()


def run_offline(env: EnvironmentContext, db: Database, buffer: TextIO, **extra: Any) -> None:
    """Configure ``env`` for ``--sql`` and write the migrations' SQL to ``buffer``; never connects."""
    env.configure(
        url=db.url,
        output_buffer=buffer,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **options(db, db.dialect),
        **extra,
    )
    ddl = version_schema_ddl(db, env.get_context().dialect)
    if ddl:
        buffer.write(ddl + ";\n\n")
    with env.begin_transaction():
        env.run_migrations()


def include_name_for(project: Project, db: Database, own: MetaData) -> Any:
    """An ``include_name`` hook that hides tables of *other* databases sharing this physical database.

    Two entries of one config may live in one PostgreSQL database (with different version tables).
    Autogenerate and ``check`` would otherwise report each other's tables as "not in the models".
    """
    foreign: set[str] = set()
    for other in project.databases.values():
        if other.name == db.name or other.same_server_database != db.same_server_database:
            continue
        foreign.add(other.version_table)
        if other.metadata:
            foreign.update(t.name for t in load_metadata(project, other).tables.values())
    foreign -= {t.name for t in own.tables.values()}
    if not foreign:
        return None

    def include_name(name: str | None, type_: str, _parent: Any) -> bool:
        return not (type_ == "table" and name in foreign)

    return include_name

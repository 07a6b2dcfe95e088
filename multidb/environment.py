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


def session_settings(db: Database, dialect: Any) -> list[str]:
    """Statements that put the profile's ``lock_timeout``/``statement_timeout`` on the session."""
    found = []
    if dialect.name == "postgresql":
        for name in ("lock_timeout", "statement_timeout"):
            seconds = getattr(db, name)
            if seconds:
                found.append(f"SELECT set_config('{name}', '{max(1, round(seconds * 1000))}ms', false)")
    elif dialect.name in ("mysql", "mariadb"):
        if db.lock_timeout:
            found.append(f"SET SESSION lock_wait_timeout = {max(1, round(db.lock_timeout))}")
        if db.statement_timeout and getattr(dialect, "is_mariadb", False):
            found.append(f"SET SESSION max_statement_time = {db.statement_timeout:g}")
    return found


def search_path(db: Database, dialect: Any) -> str | None:
    """For a schema target of a fleet: run the revisions with that schema first on the search path."""
    if not db.schema or dialect.name != "postgresql":
        return None
    return f"SET search_path TO {dialect.identifier_preparer.quote_schema(db.schema)}"


def prepare_session(db: Database, connection: Connection) -> None:
    """The version table's schema, session settings and search path, committed before any revision runs."""
    ddl = version_schema_ddl(db, connection.dialect)
    path = search_path(db, connection.dialect)
    statements = [s for s in (ddl, *session_settings(db, connection.dialect), path) if s]
    for statement in statements:
        connection.exec_driver_sql(statement)
    if statements:
        connection.commit()


def run_online(env: EnvironmentContext, db: Database, connection: Connection, **extra: Any) -> None:
    """Configure ``env`` on ``connection`` and run its migrations."""
    if not connection.in_transaction():
        prepare_session(db, connection)
    settings = options(db, connection.dialect.name)
    if connection.dialect.name == "sqlite":
        # multidb's SQLite engines run DDL inside transactions (see engines.py), so Alembic may
        # treat it as transactional: without this, `transaction: per_run` would commit per revision
        settings["transactional_ddl"] = True
    env.configure(connection=connection, **settings, **extra)
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
    dialect = env.get_context().dialect
    for statement in (version_schema_ddl(db, dialect), search_path(db, dialect)):
        if statement:
            buffer.write(statement + ";\n\n")
    with env.begin_transaction():
        env.run_migrations()


def foreign_tables(project: Project, db: Database) -> set[str] | None:
    """Tables owned by *other* databases of the config that share this physical database.

    Two entries of one config may live in one PostgreSQL database (with different version tables).
    None when such a neighbour has no ``metadata``, so its tables cannot be told apart.
    """
    foreign: set[str] = set()
    for other in project.databases.values():
        if other.name in (db.name, db.entry) or other.same_server_database != db.same_server_database:
            continue
        foreign.add(other.version_table)
        if not other.metadata:
            return None
        foreign.update(t.name for t in load_metadata(project, other).tables.values())
    return foreign


def include_name_for(project: Project, db: Database, own: MetaData) -> Any:
    """An ``include_name`` hook that hides the tables of other databases sharing this one.

    Without it, autogenerate and ``check`` would report a neighbour's tables as "not in the models".
    """
    foreign = (foreign_tables(project, db) or set()) - {t.name for t in own.tables.values()}
    if not foreign:
        return None

    def include_name(name: str | None, type_: str, _parent: Any) -> bool:
        return not (type_ == "table" and name in foreign)

    return include_name

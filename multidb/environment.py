"""The shared Alembic environment: what every project's ``env.py`` would otherwise repeat.

It configures an :class:`~alembic.runtime.environment.EnvironmentContext` for one database,
online (on a connection) or offline (into a SQL buffer), and runs its migrations. It never
touches global logging and never reads an ini file.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from contextlib import nullcontext
from types import ModuleType
from typing import TYPE_CHECKING, Any, TextIO

from .config import Database, Project
from .errors import ConfigError, ConfigProblem, MigrationError

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
    where = f"databases.{db.name}.metadata"
    if not db.metadata:
        raise _problem(project, where, "not set: autogenerate and check need the models' MetaData")
    return import_metadata(project, db.metadata, where)


def import_metadata(project: Project, spec: str, where: str) -> MetaData:
    """The ``MetaData`` (or a model base's) that ``package.module:attr`` names; ``where`` is its config key."""
    from sqlalchemy import MetaData

    obj = lookup(project, spec, where)
    metadata = getattr(obj, "metadata", obj)
    if not isinstance(metadata, MetaData):
        raise _problem(project, where, f"'{spec}' is not a SQLAlchemy MetaData (or a model base)")
    return metadata


def lookup(project: Project, reference: str, where: str) -> Any:
    """What ``package.module:attr.path`` names (with the config's ``python_path``); a config error names ``where``.

    A part of the path that is a submodule its package does not import itself is imported, as
    ``from package import module`` would (``buildbot.db:model.Model.metadata``).
    """
    module_name, _, attr = reference.partition(":")
    ensure_python_path(project)
    try:
        obj: Any = importlib.import_module(module_name)
        for part in [p for p in attr.split(".") if p]:
            if not hasattr(obj, part) and isinstance(obj, ModuleType):
                _import_submodule(f"{obj.__name__}.{part}")
            if not hasattr(obj, part):
                raise _problem(project, where, f"'{module_name}' has no attribute '{attr}'")
            obj = getattr(obj, part)
    except ConfigError:
        raise
    except Exception as e:  # an import error in user code: report it, don't crash
        raise _problem(project, where, f"cannot import '{module_name}': {type(e).__name__}: {e}") from e
    return obj


def _import_submodule(name: str) -> None:
    """Import ``name`` if it is a module; a module that does not exist is no error (a missing attribute)."""
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:  # the submodule exists, and an import inside it failed: that is the error
            raise


class Models:
    """The database's models' ``MetaData`` as Alembic's ``target_metadata``, imported when first needed.

    Alembic's own env.py passes the models' ``MetaData`` to ``configure()``, and ``op.*`` names the
    constraints it creates by its ``naming_convention``; multidb does the same, so the two make the
    same names. Alembic reads it only when an operation builds a table or constraint, so a run with
    nothing to do never imports the models. An import that fails is a config error naming
    ``databases.X.metadata``.
    """

    def __init__(self, project: Project, db: Database):
        self._project = project
        self._db = db
        self._loaded: MetaData | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # copy, pickle and other protocols: not the models' business
            raise AttributeError(name)
        if self._loaded is None:
            self._loaded = load_metadata(self._project, self._db)
        return getattr(self._loaded, name)


def load_models(metadata: Any) -> None:
    """Import the models now, when ``metadata`` is the lazy :class:`Models`: before an online upgrade or
    downgrade changes anything, so that a models path that does not import is a config error that changed
    nothing, rather than one raised by the first revision that needs the models, after those before it
    committed (a history whose first revision does nothing, as buildbot's)."""
    if isinstance(metadata, Models):
        metadata.naming_convention  # noqa: B018 (the first attribute read imports them)


def target_metadata(project: Project, db: Database) -> dict[str, Any]:
    """``configure()``'s ``target_metadata`` for a run of ``db``: its models when the config names them."""
    return {"target_metadata": Models(project, db)} if db.metadata else {}


def _problem(project: Project, where: str, text: str) -> ConfigError:
    return ConfigError([ConfigProblem(str(project.path), where, text)])


def options(db: Database, dialect: str) -> dict[str, Any]:
    """The ``configure()`` arguments every run of this database shares."""
    return {
        "version_table": db.version_table,
        "version_table_schema": db.version_table_schema,
        "render_as_batch": db.uses_batch(dialect),
        "transaction_per_migration": db.transaction == "per_revision",
    }


def version_schema_ddl(db: Database, dialect: Any) -> str | None:
    """``CREATE SCHEMA IF NOT EXISTS`` for a PostgreSQL version table schema (Alembic #659)."""
    if not db.version_table_schema or dialect.name != "postgresql":
        return None
    quoted = dialect.identifier_preparer.quote_schema(db.version_table_schema)
    return f"CREATE SCHEMA IF NOT EXISTS {quoted}"


def _timeouts(db: Database, dialect: Any) -> list[tuple[str, str]]:
    """The profile's ``lock_timeout``/``statement_timeout`` as the dialect's (session variable, value) pairs."""
    found = []
    if dialect.name == "postgresql":
        for name in ("lock_timeout", "statement_timeout"):
            seconds = getattr(db, name)
            if seconds:
                found.append((name, f"'{max(1, round(seconds * 1000))}ms'"))
    elif dialect.name in ("mysql", "mariadb"):
        if db.lock_timeout:
            found.append(("lock_wait_timeout", str(max(1, round(db.lock_timeout)))))
        if db.statement_timeout:  # MariaDB's; MySQL's max_execution_time covers SELECT only
            found.append(("max_statement_time", f"{db.statement_timeout:g}"))
    return found


def session_settings(db: Database, dialect: Any) -> list[str]:
    """Statements that put the profile's ``lock_timeout``/``statement_timeout`` on the session."""
    found = []
    for name, value in _timeouts(db, dialect):
        if dialect.name == "postgresql":
            found.append(f"SELECT set_config('{name}', {value}, false)")
        elif name != "max_statement_time" or getattr(dialect, "is_mariadb", False):
            found.append(f"SET SESSION {name} = {value}")
    return found


def file_settings(db: Database, dialect: Any) -> list[str]:
    """The same settings at the top of a ``--sql`` file, for the session that runs it.

    Plain session ``SET`` (not ``SET LOCAL``): it outlives the ``COMMIT`` of each revision. A
    ``mysql://`` URL may stand for MySQL or MariaDB, so MariaDB's ``max_statement_time`` goes in a
    ``/*M! */`` comment, which MariaDB runs and MySQL skips, inside the one ``SET`` statement.
    """
    pairs = _timeouts(db, dialect)
    if dialect.name == "postgresql":
        return [f"SET {name} = {value}" for name, value in pairs]
    if not pairs or getattr(dialect, "is_mariadb", False):
        return [f"SET SESSION {name} = {value}" for name, value in pairs]
    both = [f"{name} = {value}" for name, value in pairs if name != "max_statement_time"]
    mariadb = "".join(f" /*M!100101 , {name} = {value} */" for name, value in pairs if name == "max_statement_time")
    return ["SET SESSION " + (", ".join(both) or "lock_wait_timeout = @@session.lock_wait_timeout") + mariadb]


def search_path(db: Database, dialect: Any) -> str | None:
    """For a schema target of a fleet: run the revisions with that schema first on the search path."""
    if not db.schema or dialect.name != "postgresql":
        return None
    return f"SET search_path TO {dialect.identifier_preparer.quote_schema(db.schema)}"


def prepare_session(db: Database, connection: Connection, extra: tuple[str, ...] = ()) -> None:
    """The version table's schema, session settings and search path, committed before any revision runs."""
    ddl = version_schema_ddl(db, connection.dialect)
    path = search_path(db, connection.dialect)
    statements = [s for s in (ddl, *session_settings(db, connection.dialect), path, *extra) if s]
    for statement in statements:
        connection.exec_driver_sql(statement)
    if statements:
        connection.commit()


def run_online(
    env: EnvironmentContext,
    db: Database,
    connection: Connection,
    run_hooks: tuple[Any, Any] | None = None,
    **extra: Any,
) -> None:
    """Configure ``env`` on ``connection`` and run its migrations.

    SQLAlchemy and Alembic own the transactions. With ``transaction: per_revision`` each revision
    commits on its own (Alembic's ``transaction_per_migration``), except on SQLite, where the run is
    one transaction with a savepoint per revision (:class:`_Savepoints`). An error raised by a commit
    itself is reported as the error of the revision(s) that commit held (:class:`_Commits`).

    ``run_hooks`` (a :class:`~multidb.customize.Hooks` and its run context): ``on_connect`` and
    ``before_migrate`` run and commit before the first revision, ``after_each_revision`` inside each
    revision's transaction, ``after_migrate`` after the last commit (under ``--atomic`` all of them
    inside the held transaction).
    """
    from . import customize

    hooks, context = run_hooks or (None, None)
    external = connection.in_transaction()
    settings = options(db, connection.dialect.name)
    if connection.dialect.name == "sqlite":
        # multidb's SQLite engines run DDL inside transactions (see engines.py), so Alembic may
        # treat it as transactional: without this, `transaction: per_run` would commit per revision
        settings["transactional_ddl"] = True
    savepoints = None
    if not external and db.transaction == "per_revision" and connection.dialect.name == "sqlite":
        savepoints = _Savepoints(connection)
        settings["transaction_per_migration"] = False  # one transaction; a savepoint per revision
    if not external:
        prepare_session(db, connection)
    if hooks:
        customize.before_run(hooks, context)
        if not external:
            connection.commit()
    commits = _Commits(db, connection, per_revision=bool(settings["transaction_per_migration"]))
    each = customize.each_revision(hooks, context) if hooks else None
    extra["on_version_apply"] = then(
        each, extra.get("on_version_apply"), savepoints and savepoints.applied, commits.applied
    )
    env.configure(connection=connection, **settings, **extra)
    with commits, env.begin_transaction(), savepoints or nullcontext():
        env.run_migrations()
    if hooks:
        customize.after_run(hooks, context)
        if not external:
            connection.commit()


def then(*hooks: Callable[..., Any] | None) -> Callable[..., Any]:
    """One ``on_version_apply`` hook calling each of ``hooks`` in turn (None ones skipped)."""
    given = [hook for hook in hooks if hook is not None]
    if len(given) == 1:
        return given[0]

    def each(**kw: Any) -> None:
        for hook in given:
            hook(**kw)

    return each


class _Savepoints:
    """SQLite, ``per_revision``: one transaction for the run, a savepoint per revision.

    SQLite has one write lock for the whole file, and each commit costs several ``fsync`` calls
    (about 8 ms here: 200 revisions would take 1.6 s more; see docs/benchmarks.md). So the run holds
    one transaction, committed once at the end by Alembic, and each revision runs inside a savepoint
    of its own (SQLAlchemy's ``begin_nested()``). When a revision fails, only its savepoint is rolled
    back and the revisions before it are committed: the database is left at the previous revision,
    as with a commit per revision. An ``autocommit_block()`` (online data steps) commits the run so
    far, as Alembic does, which ends the savepoint; what the revision does after the block is rolled
    back with the transaction Alembic began after it, if the revision fails.
    """

    def __init__(self, connection: Connection):
        self.connection = connection
        self.savepoint: Any = None

    def __enter__(self) -> _Savepoints:
        self.savepoint = self.connection.begin_nested()
        return self

    def applied(self, **_: Any) -> None:
        """A revision is recorded (inside its savepoint): keep it, and start the next one's."""
        if self.savepoint.is_active:  # else an autocommit block committed the transaction it was in
            self._end_inner(self.savepoint, commit=True)
            self.savepoint.commit()
        self.savepoint = self.connection.begin_nested()

    def _end_inner(self, savepoint: Any, commit: bool) -> None:
        """End the savepoints the revision opened inside its own and left open, innermost first.

        An ORM ``Session(bind=op.get_bind())`` that is never committed or closed (real histories' data
        steps do this) opens a savepoint of its own inside the revision's and keeps it. Ending the
        revision's savepoint ends those on the database too, but SQLAlchemy would warn ("nested
        transaction already deassociated from connection"): so they end first, kept with the revision
        when it is recorded, rolled back with it when it fails.
        """
        inner = self.connection.get_nested_transaction()
        while inner is not None and inner is not savepoint and inner.is_active:
            (inner.commit if commit else inner.rollback)()
            inner = self.connection.get_nested_transaction()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        savepoint, self.savepoint = self.savepoint, None
        if not savepoint.is_active:
            return  # an autocommit block committed what came before; Alembic rolls back the rest
        if exc_type is None:
            self._end_inner(savepoint, commit=True)
            savepoint.commit()
            return  # Alembic commits the run's transaction
        if not _sqlite_in_transaction(self.connection):
            return  # SQLite rolled the whole transaction back itself (disk full, I/O error, interrupt)
        try:
            self._end_inner(savepoint, commit=False)
            savepoint.rollback()  # the failed revision only
            transaction = self.connection.get_transaction()
            if transaction is not None and transaction.is_active:
                transaction.commit()  # the revisions before it stay, as if each had committed
        except Exception:  # the revision's own error is the one to report (heads are read again after)
            pass


def _sqlite_in_transaction(connection: Connection) -> bool:
    dbapi = connection.connection.dbapi_connection
    return bool(getattr(dbapi, "in_transaction", True))


class _Commits:
    """Which revision a commit ends, so that an error raised by the commit itself names that revision.

    A deferred constraint (``initially="DEFERRED"``) is checked when the transaction commits: after
    the revision's ``upgrade()`` returned and its version row was written, in Alembic's commit. The
    driver's error then comes from no revision file. This watches the connection's commits and
    begins: a commit that fails after a revision was recorded and before the next transaction began
    is that revision's (``per_revision``), or the run's (one transaction: ``per_run``, SQLite's
    savepoints), and its error becomes a :class:`~multidb.errors.MigrationError` that says so.
    """

    def __init__(self, db: Database, connection: Connection, per_revision: bool):
        self.db = db
        self.connection = connection
        self.per_revision = per_revision
        self.recorded: Any = None  # the last revision recorded in the open transaction (Alembic's MigrationInfo)
        self.committing: Any = None  # the last revision the commit under way holds

    def applied(self, *, step: Any, **_: Any) -> None:
        self.recorded = step

    def _commit(self, _connection: Any) -> None:
        self.committing = self.recorded

    def _begin(self, _connection: Any) -> None:
        self.recorded = self.committing = None

    def __enter__(self) -> _Commits:
        from sqlalchemy import event

        event.listen(self.connection, "commit", self._commit)
        event.listen(self.connection, "begin", self._begin)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        from sqlalchemy import event
        from sqlalchemy.exc import DBAPIError

        event.remove(self.connection, "commit", self._commit)
        event.remove(self.connection, "begin", self._begin)
        if isinstance(exc, DBAPIError) and self.committing is not None and not self._from_a_revision(exc):
            raise self.error(exc, self.committing) from exc

    def _from_a_revision(self, exc: BaseException) -> bool:
        """Whether a revision's own code raised ``exc``: then the commit seen before it was SQLite's
        keeping the revisions before the failed one (:class:`_Savepoints`), not the one that failed."""
        from .runner import revision_file

        return revision_file(self.db, exc) is not None

    def error(self, exc: Any, info: Any) -> MigrationError:
        from .runner import relative

        revision = info.up_revision_id
        if not self.per_revision:  # the commit held every revision of the run (since its last commit)
            return commit_error(
                self.db, exc, f"raised by the run's commit after revision {revision} (what it held is rolled back)"
            )
        path = getattr(info.up_revision, "path", None)
        return commit_error(
            self.db, exc, f"raised when revision {revision} committed", relative(path) if path else None
        )


def commit_error(db: Database, exc: Any, when: str, where: str | None = None) -> MigrationError:
    """The one-line error of a commit that failed (a driver error, ``exc``): its reason, then ``when``."""
    from .redact import first_line

    orig = exc.orig if exc.orig is not None else exc
    reason = first_line(f"{type(orig).__name__}: {orig}", *db.secrets)
    return MigrationError(db.name, f"{reason}, {when}", where)


def run_offline(
    env: EnvironmentContext, db: Database, buffer: TextIO, run_hooks: tuple[Any, Any] | None = None, **extra: Any
) -> None:
    """Configure ``env`` for ``--sql`` and write the migrations' SQL to ``buffer``; never connects.

    The run hooks are called with no connection: what they run through ``context.execute()`` is
    written into the file where it would have run (``on_connect`` and ``before_migrate`` after the
    session settings, ``after_each_revision`` inside each revision's transaction, ``after_migrate`` last).
    """
    from . import customize
    from .engines import sync_url

    hooks, context = run_hooks or (None, None)
    each = customize.each_revision(hooks, context) if hooks else None
    if each:
        extra["on_version_apply"] = then(each, extra.get("on_version_apply"))
    env.configure(
        url=sync_url(db.url),  # an async driver's dialect renders as its sync counterpart's
        output_buffer=buffer,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **options(db, db.dialect),
        **extra,
    )
    dialect = env.get_context().dialect
    for statement in (version_schema_ddl(db, dialect), *file_settings(db, dialect), search_path(db, dialect)):
        if statement:
            buffer.write(statement + ";\n\n")
    if hooks:
        context.migration_context = env.get_context()
        customize.before_run(hooks, context)
    with env.begin_transaction():
        env.run_migrations()
    if hooks:
        customize.after_run(hooks, context)


def foreign_tables(project: Project, db: Database) -> set[str] | None:
    """Tables owned by *other* databases of the config that share this physical database.

    Two entries of one config may live in one PostgreSQL database (with different version tables).
    None when such a neighbour has no ``metadata``, so its tables cannot be told apart.
    """
    foreign: set[str] = set()
    for other in project.databases.values():
        if other.name in (db.name, db.entry) or other.same_server_database != db.same_server_database:
            continue
        foreign |= bookkeeping_tables(other)  # its version table and its progress table
        if not other.metadata:
            return None
        foreign.update(t.name for t in load_metadata(project, other).tables.values())
    return foreign


def bookkeeping_tables(db: Database) -> set[str]:
    """multidb's own tables beside the models' (Alembic leaves out the version table by itself)."""
    return bookkeeping_names(db.version_table)


def bookkeeping_names(version_table: str) -> set[str]:
    """The version table and the tables multidb keeps beside it: the progress record of interrupted
    MariaDB/MySQL revisions and the ledger of applied revisions' checksums."""
    from .ledger import table_name as ledger
    from .unfinished import table_name as progress

    return {version_table, progress(version_table), ledger(version_table)}


def include_name_for(project: Project, db: Database, own: MetaData) -> Any:
    """An ``include_name`` hook that hides the tables of other databases sharing this one, and
    multidb's own bookkeeping (the progress table of interrupted MariaDB/MySQL revisions, the ledger of
    applied revisions' checksums).

    Without it, autogenerate and ``check`` would report them as "not in the models". A schema target
    of a fleet is compared with its schema on the search path, where Alembic does not know the version
    table as its own: it is hidden too (it is part of the bookkeeping).
    """
    foreign = (foreign_tables(project, db) or set()) | bookkeeping_tables(db)
    foreign -= {t.name for t in own.tables.values()}
    if not foreign:
        return None

    def include_name(name: str | None, type_: str, _parent: Any) -> bool:
        return not (type_ == "table" and name in foreign)

    return include_name

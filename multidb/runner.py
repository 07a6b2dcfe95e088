"""Run Alembic for one database: load its history, read its version table, drive an
EnvironmentContext online or offline, and turn Alembic's and the driver's errors into
multidb errors that carry the database's name (and the revision file, when one failed).
"""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import engines, environment, errors
from .alembic_config import alembic_config, script_directory
from .config import Database, Project
from .errors import ConfigError, ConfigProblem, DatabaseError, MigrationError, MultiDBError, RevisionNotFound
from .journal import NON_TRANSACTIONAL_DDL, StatementJournal
from .redact import first_line

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection


class RevisionUsageError(DatabaseError):
    """A target or range Alembic rejects (multiple heads, not an ancestor, ...): exit 2."""

    exit_code = 2


def load_history(project: Project, db: Database) -> ScriptDirectory:
    """The database's ScriptDirectory with its revision map built and checked."""
    _check_folders(project, db)
    environment.ensure_python_path(project)
    script = script_directory(project, db)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            script.revision_map.heads  # noqa: B018 - builds the map once
        except MultiDBError:
            raise
        except Exception as e:
            raise DatabaseError(db.name, _load_failure(db, e)) from e
    for w in caught:
        text = str(w.message)
        if "present more than once" in text:
            script.revision_map = type(script.revision_map)(script._load_revisions)
            raise DatabaseError(db.name, f"two revision files share an id: {text}")
    return script


def _check_folders(project: Project, db: Database) -> None:
    problems = [
        ConfigProblem(str(project.path), f"databases.{db.name}.bases[{i}].path", f"folder {b.path} does not exist")
        for i, b in enumerate(db.bases)
        if not b.path.is_dir()
    ]
    if problems:
        raise ConfigError(problems)


def _load_failure(db: Database, exc: BaseException) -> str:
    where = revision_file(db, exc)
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"cannot load revision file {exc.filename}, line {exc.lineno}: {exc.msg}"
    what = f"{type(exc).__name__}: {first_line(str(exc))}"
    if where:
        return f"cannot load revision file {where}: {what}"
    return f"cannot read the revision history: {what}"


def revision_file(db: Database, exc: BaseException) -> str | None:
    """The last revision file (with line) in the exception's traceback, if any."""
    folders = [str(p) for p in db.version_paths]
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if any(frame.filename.startswith(f) for f in folders):
            found = f"{frame.filename}, line {frame.lineno}"
    return found


@contextmanager
def revision_errors(db: Database) -> Iterator[None]:
    """Turn Alembic's revision-resolution errors into RevisionNotFound / RevisionUsageError."""
    from alembic.script.revision import ResolutionError, RevisionError
    from alembic.util import CommandError

    try:
        yield
    except ResolutionError as e:
        raise _not_found(db, e) from e
    except CommandError as e:
        cause = e.__cause__
        if isinstance(cause, ResolutionError):
            raise _not_found(db, cause) from e
        raise RevisionUsageError(db.name, str(e)) from e
    except RevisionError as e:
        raise RevisionUsageError(db.name, str(e)) from e
    except AssertionError as e:  # Alembic asserts on targets like '', '@' or ','
        raise RevisionUsageError(db.name, "that is not a revision target (try heads, base, +1, an id)") from e


def _not_found(db: Database, error: Any) -> DatabaseError:
    if str(error).startswith("Multiple revisions start with"):
        return RevisionUsageError(db.name, f"ambiguous revision prefix: {error}")
    return RevisionNotFound(db.name, f"unknown revision '{error.argument}'")


def read_heads(db: Database, connection: Connection) -> tuple[str, ...]:
    """The revisions stamped in the database's version table (empty when it has none).

    One query: the common no-op case of a deploy costs a single round trip per database.
    """
    import sqlalchemy as sa
    from sqlalchemy.exc import DBAPIError

    table = sa.table(db.version_table, sa.column("version_num"), schema=db.version_table_schema)
    try:
        heads = tuple(connection.execute(sa.select(table.c.version_num)).scalars())
    except DBAPIError as e:
        connection.rollback()
        if _is_missing_table(e):
            return ()
        with database_errors(db):
            raise
    connection.rollback()
    return heads


def _is_missing_table(error: Any) -> bool:
    """PostgreSQL 42P01, MariaDB/MySQL 1146, SQLite 'no such table'."""
    orig = error.orig
    if getattr(orig, "pgcode", None) == "42P01":
        return True
    args = getattr(orig, "args", ())
    return (bool(args) and args[0] == 1146) or "no such table" in str(orig)


def current_heads(db: Database) -> tuple[str, ...]:
    """The version table's revisions; a SQLite file that does not exist yet is not created."""
    if not engines.exists(db):
        return ()
    with engines.reading(db) as conn:
        return read_heads(db, conn)


def unknown_heads(script: ScriptDirectory, heads: tuple[str, ...]) -> list[str]:
    """Stamped revisions that the version folders do not hold (the database is ahead of the code)."""
    return [h for h in heads if h not in script.revision_map._revision_map]


def check_known(db: Database, script: ScriptDirectory, heads: tuple[str, ...]) -> None:
    missing = unknown_heads(script, heads)
    if missing:
        raise DatabaseError(
            db.name,
            f"the database is at revision {', '.join(missing)}, which no version folder holds; "
            "it was migrated by newer code (update your checkout) or the file was deleted",
        )


@contextmanager
def database_errors(db: Database) -> Iterator[None]:
    """A driver error becomes a one-line DatabaseError naming the database."""
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except DBAPIError as e:
        reason = first_line(str(e.orig) if e.orig is not None else str(e), *db.secrets)
        raise DatabaseError(db.name, reason) from e


StepsFn = Callable[[Any, Any], list]


def run(
    project: Project,
    db: Database,
    fn: StepsFn,
    *,
    connection: Connection | None = None,
    buffer: TextIO | None = None,
    starting_rev: str | None = None,
    destination_rev: Any = None,
    env_args: dict[str, Any] | None = None,
    configure_args: dict[str, Any] | None = None,
) -> Any:
    """Run ``fn`` (Alembic's ``(heads, context) -> steps``) inside an EnvironmentContext.

    Online when ``connection`` is given, else offline into ``buffer``. Returns the
    MigrationContext so callers can read the new heads.
    """
    from alembic.runtime.environment import EnvironmentContext

    script = load_history(project, db)
    cfg = alembic_config(project, db)
    counted: list[int] = []

    def steps(heads: Any, context: Any) -> list:
        found = list(fn(heads, context))
        counted.append(len(found))
        return found

    with EnvironmentContext(
        cfg,
        script,
        fn=steps,
        as_sql=connection is None,
        starting_rev=starting_rev,
        destination_rev=destination_rev,
        **(env_args or {}),
    ) as env:
        configure_args = {**environment.target_metadata(project, db), **(configure_args or {})}
        journal = None
        if connection is not None and connection.dialect.name in NON_TRANSACTIONAL_DDL:
            journal = StatementJournal(connection, db.version_table)
            hook = configure_args.get("on_version_apply")
            configure_args["on_version_apply"] = environment.then(journal.applied, hook)
        with migration_errors(db, journal):
            if connection is not None:
                with journal or nullcontext():
                    environment.run_online(
                        env, db, connection, lambda: counted[-1] if counted else None, **configure_args
                    )
            else:
                assert buffer is not None
                environment.run_offline(env, db, buffer, **configure_args)
        return env.get_context()


@contextmanager
def migration_errors(db: Database, journal: StatementJournal | None = None) -> Iterator[None]:
    """Errors while revisions run name the revision file; errors in the target stay usage errors.

    On a dialect whose DDL cannot roll back, the message says which statements had run.
    """
    try:
        yield
    except MultiDBError:
        raise
    except Exception as e:
        where = revision_file(db, e)
        if where is None:
            from sqlalchemy.exc import DBAPIError

            if isinstance(e, DBAPIError):  # e.g. the version table cannot be written
                raise MigrationError(db.name, _reason(db, e)) from e
            with revision_errors(db):
                raise
            raise
        reason = _reason(db, e)
        hint = errors.sqlite_batch_hint(e) if db.dialect == "sqlite" else None
        reason = f"{reason}; {hint}" if hint else reason
        if journal is not None:
            reason = f"{reason}; {first_line(journal.note(), *db.secrets)}"
        raise MigrationError(db.name, reason, where) from e


def _reason(db: Database, exc: BaseException) -> str:
    from sqlalchemy.exc import DBAPIError, StatementError

    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return first_line(f"{type(exc.orig).__name__}: {exc.orig}", *db.secrets)
    if isinstance(exc, StatementError):
        return first_line(str(exc.orig or exc), *db.secrets)
    return first_line(f"{type(exc).__name__}: {exc}", *db.secrets)


def relative(path: str | Path) -> str:
    """A path relative to the current folder when it is below it (shorter messages)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)

"""Run Alembic for one database: load its history, read its version table, drive an
EnvironmentContext online or offline, and turn Alembic's and the driver's errors into
multidb errors that carry the database's name (and the revision file, when one failed).
"""

from __future__ import annotations

import errno
import os
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import engines, environment, errors, ledger, running
from .alembic_config import FolderState, alembic_config, folder_state, forget_scripts, script_directory
from .alembic_private import AlembicAssertion
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
    state = _check_folders(project, db)
    environment.ensure_python_path(project)
    script = script_directory(project, db, state)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            script.revision_map.heads  # noqa: B018 - builds the map once
        except MultiDBError:
            forget_scripts(db)
            raise
        except Exception as e:
            forget_scripts(db)
            raise DatabaseError(db.name, _load_failure(db, e)) from e
    for w in caught:
        text = str(w.message)
        if "present more than once" in text:
            forget_scripts(db)  # the next load reads the files again, and warns again
            raise DatabaseError(db.name, f"two revision files share an id: {text}")
    return script


def _check_folders(project: Project, db: Database) -> FolderState:
    """Every version folder exists and can be read (Alembic's walk skips one it cannot read, which
    would look like an empty history); returns what the history cache is keyed on."""
    try:
        return folder_state(db.version_paths)
    except OSError as e:
        problems = [
            ConfigProblem(str(project.path), f"{db.bases_key}[{i}].path", _with_next_step(db, problem))
            for i, base in enumerate(db.bases)
            if (problem := _folder_problem(base.path))
        ]
        if problems:
            raise ConfigError(problems) from e
        # an entry inside a folder: a symlink loop, or a file that cannot be read
        raise DatabaseError(db.name, f"cannot read {e.filename or 'a version folder'}: {_os_reason(e)}") from e


def _with_next_step(db: Database, problem: str) -> str:
    if not problem.endswith("does not exist"):
        return problem
    return f"{problem} (a new database? 'multidb revision {db.entry} -m MESSAGE' creates it with the first revision)"


def _folder_problem(folder: Path) -> str | None:
    try:
        os.stat(folder)
    except FileNotFoundError:
        return f"folder {folder} does not exist"
    except OSError as e:
        return f"folder {folder} cannot be read: {_os_reason(e)}"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    try:
        os.scandir(folder).close()
    except OSError as e:
        return f"folder {folder} cannot be read: {_os_reason(e)}"
    if not os.access(folder, os.R_OK | os.X_OK):  # listed, but its files cannot be opened
        return f"folder {folder} cannot be read: {_os_reason(PermissionError())}"
    return None


def _os_reason(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "a symlink loop"
    if isinstance(error, PermissionError):
        return "permission denied (check the folder's permissions for the user running multidb)"
    return error.strerror or str(error)


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


class BadTarget(ValueError):
    """A revision target refused before Alembic sees it, or one of Alembic's refusals with the next step
    spelled out; :func:`revision_errors` names the database."""


TARGET_HINT = "try heads, base, +1, -1, LABEL@head or a revision id"


def check_target(target: str) -> str:
    """Refuse what Alembic cannot parse: an empty part ('', 'a,') or an '@' with nothing on a side
    ('@', 'catalog@', '@head'), which reach an internal assert in Alembic's revision map."""
    for part in target.split(","):
        if not part.strip() or ("@" in part and not all(side.strip() for side in part.split("@"))):
            raise BadTarget(f"'{target}' is not a revision target ({TARGET_HINT})")
    return target


@contextmanager
def revision_errors(db: Database) -> Iterator[None]:
    """Turn Alembic's revision-resolution errors into RevisionNotFound / RevisionUsageError, with the
    next step where Alembic's own message has none that works with multidb."""
    from alembic.script.revision import ResolutionError, RevisionError
    from alembic.util import CommandError

    from .irreversible import CrossesIrreversible

    try:
        yield
    except CrossesIrreversible as e:
        raise errors.IrreversibleDowngrade(db.name, str(e)) from e
    except (BadTarget, AlembicAssertion) as e:
        raise RevisionUsageError(db.name, f"{e} ({TARGET_HINT})" if isinstance(e, AlembicAssertion) else str(e)) from e
    except ResolutionError as e:
        raise _not_found(db, e) from e
    except CommandError as e:
        cause = e.__cause__
        if isinstance(cause, ResolutionError):
            raise _not_found(db, cause) from e
        raise RevisionUsageError(db.name, _next_step(db, str(e), cause)) from e
    except RevisionError as e:
        raise RevisionUsageError(db.name, _next_step(db, str(e), e)) from e


def _next_step(db: Database, message: str, cause: BaseException | None) -> str:
    from alembic.script.revision import MultipleHeads

    if isinstance(cause, MultipleHeads):
        heads = ", ".join(cause.heads)
        if message.startswith("Multiple heads are present; please specify the head revision"):  # revision
            return (
                f"multiple heads ({heads}): choose the parent with --head LABEL@head (or a head's id), "
                f"or join them first with 'multidb merge {db.name} heads -m MESSAGE'"
            )
        wanted = cause.argument or "head"
        return f"multiple heads ({heads}) match '{wanted}': use --to LABEL@{wanted} or a head's id (heads: all of them)"
    if message == "Target database is not up to date.":  # autogenerate
        return f"the database is not at head: run 'multidb upgrade {db.name}' first, then autogenerate"
    return message


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
        if is_missing_table(e):
            return ()
        with database_errors(db):
            raise
    connection.rollback()
    return heads


def is_missing_table(error: Any) -> bool:
    """PostgreSQL 42P01, MariaDB/MySQL 1146, SQLite 'no such table'."""
    orig = error.orig
    if engines.sqlstate(orig) == "42P01":  # psycopg2, psycopg 3 and pg8000 each carry it differently
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
    return [h for h in heads if not _holds(script, h)]


def _holds(script: ScriptDirectory, revision: str) -> bool:
    from alembic.script.revision import RevisionError

    try:  # get_revision also takes a unique prefix: only the exact id counts
        found = script.revision_map.get_revision(revision)
    except RevisionError:
        return False
    return found is not None and found.revision == revision


def check_known(db: Database, script: ScriptDirectory, heads: tuple[str, ...]) -> None:
    """Every revision the version table holds is in the history; one a baseline replaced (``multidb
    squash``) gets its own message (see multidb/squashed.py)."""
    from .squashed import refuse

    missing = unknown_heads(script, heads)
    if missing:
        refuse(db.name, script, missing)
        raise DatabaseError(
            db.name,
            f"the database is at revision {', '.join(missing)}, which no version folder holds; "
            "it was migrated by newer code (update your checkout) or the file was deleted "
            f"(then record the revision the schema is at: 'multidb stamp {db.name} --to REV --purge')",
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
    action: str = "upgrade",
) -> Any:
    """Run ``fn`` (Alembic's ``(heads, context) -> steps``) inside an EnvironmentContext.

    Online when ``connection`` is given, else offline into ``buffer``. Returns the
    MigrationContext so callers can read the new heads. ``action`` (upgrade, downgrade, stamp,
    revision) is what the run hooks and :func:`multidb.run_context` are told.
    """
    from alembic.runtime.environment import EnvironmentContext

    from . import customize

    script = load_history(project, db)
    cfg = alembic_config(project, db)
    hooks = customize.Hooks(project, db)
    dialect = connection.dialect.name if connection is not None else db.dialect
    run_context = customize.new_context(project, db, action, connection, dialect)
    with EnvironmentContext(
        cfg,
        script,
        fn=running.announcing(fn),  # the data helpers learn which revision runs
        as_sql=connection is None,
        starting_rev=starting_rev,
        destination_rev=destination_rev,
        **(env_args or {}),
    ) as env:
        configure_args = {**environment.target_metadata(project, db), **(configure_args or {})}
        if connection is not None and action in ("upgrade", "downgrade"):
            environment.load_models(configure_args.get("target_metadata"))
        recorder = ledger.Recorder(db, script)  # checksums of applied revisions, beside the version table
        configure_args["on_version_apply"] = environment.then(recorder.applied, configure_args.get("on_version_apply"))
        journal = None
        if connection is not None and connection.dialect.name in NON_TRANSACTIONAL_DDL:
            journal = StatementJournal(connection, db.version_table)
            hook = configure_args.get("on_version_apply")
            configure_args["on_version_apply"] = environment.then(journal.applied, hook)
        with migration_errors(db, journal, offline=connection is None), customize.running(run_context):
            if connection is not None:
                with journal or nullcontext():
                    environment.run_online(env, db, connection, (hooks, run_context), **configure_args)
            else:
                assert buffer is not None
                environment.run_offline(env, db, buffer, (hooks, run_context), **configure_args)
        return env.get_context()


@contextmanager
def migration_errors(db: Database, journal: StatementJournal | None = None, offline: bool = False) -> Iterator[None]:
    """Errors while revisions run name the revision file; errors in the target stay usage errors.

    On a dialect whose DDL cannot roll back, the message says which statements had run. Offline, a
    revision that read the database is told so (it got Alembic's stand-in connection).
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
        if offline:
            hint = errors.offline_read_hint(e) or hint
        elif db.dialect == "postgresql":
            hint = errors.percent_hint(e)
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

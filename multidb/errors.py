"""The exception hierarchy. Library code raises these; only the CLI prints or exits."""

from __future__ import annotations

import re
from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class MultiDBError(Exception):
    """Base of every error multidb reports to a user. ``exit_code`` is what the CLI exits with."""

    exit_code = EXIT_FAILED

    def lines(self) -> list[str]:
        """The message as the CLI prints it: usually one line."""
        return [str(self)]


class UsageError(MultiDBError):
    """The command line asked for something that cannot be done (exit 2)."""

    exit_code = EXIT_USAGE


def printable(text: str) -> str:
    """``text`` with control characters (newlines, escapes) shown as escapes: a message stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass(frozen=True)
class ConfigProblem:
    """One problem found in a config file, located by file and key path."""

    path: str
    key_path: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.path}: {self.key_path}" if self.key_path else self.path
        return printable(f"{where}: {self.problem}")


class ConfigError(UsageError):
    """The config file is missing, unreadable or invalid. Carries every problem found."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__(str(problems[0]) if len(problems) == 1 else f"{len(problems)} problems")

    def lines(self) -> list[str]:
        if len(self.problems) == 1:
            return [str(self.problems[0])]
        return [f"the config has {len(self.problems)} problems:"] + [f"  {p}" for p in self.problems]


class DatabaseError(MultiDBError):
    """An operation on one database failed. The message starts with the database's name."""

    def __init__(self, database: str, message: str):
        self.database = database
        self.message = message
        super().__init__(f"{database}: {message}")


class RevisionNotFound(DatabaseError):
    """A revision target does not resolve in the database's history (exit 2)."""

    exit_code = EXIT_USAGE


class ConnectionFailed(DatabaseError):
    """The database's server could not be reached or refused the login."""


class MigrationError(DatabaseError):
    """A revision failed while it ran. ``revision_file`` names the file when it is known."""

    def __init__(self, database: str, message: str, revision_file: str | None = None):
        self.revision_file = revision_file
        where = f" (in {revision_file})" if revision_file else ""
        super().__init__(database, f"{message}{where}")


class IrreversibleDowngrade(DatabaseError):
    """A downgrade would undo a revision marked irreversible; refused before anything changed (exit 1)."""


class Irreversible(Exception):
    """Raise it in a revision's ``downgrade()`` (not inside an ``if``) to mark the revision irreversible.

    multidb finds the mark by reading the file (see :mod:`multidb.irreversible`): ``downgrade``
    refuses to cross it, and the plugin's stairway and clean-downgrade tests stop at it. Not a
    :class:`MultiDBError`: raised inside a revision it is reported as that revision's failure.
    """

    __module__ = "multidb"


class DriftDetected(MultiDBError):
    """The models and the migrations differ. ``diffs`` maps database name to readable lines."""

    def __init__(self, diffs: dict[str, list[str]]):
        self.diffs = diffs
        total = sum(len(v) for v in diffs.values())
        names = ", ".join(sorted(diffs))
        super().__init__(f"{total} difference(s) between models and migrations in {names}")


class RunFailed(MultiDBError):
    """A multi-database run stopped at a failure; ``results`` holds where each database stands."""

    def __init__(self, cause: MultiDBError, results: list):
        self.cause = cause
        self.results = results
        self.exit_code = cause.exit_code
        super().__init__(str(cause))

    def lines(self) -> list[str]:
        return self.cause.lines()


_SQLITE_IN_PLACE = (
    'near "ALTER": syntax error',
    'near "DROP": syntax error',
    "after drop column",
    "cannot drop ",
    "No support for ALTER of constraints in SQLite dialect",
)


def sqlite_batch_hint(exc: BaseException) -> str | None:
    """What to do when SQLite rejected a change ``ALTER TABLE`` cannot make there (None: another error)."""
    orig = getattr(exc, "orig", None)
    if not any(text in str(orig or exc) for text in _SQLITE_IN_PLACE):
        return None
    return (
        f'SQLite cannot make this change in place: use batch mode, with op.batch_alter_table("{_table_of(exc)}") '
        "as batch_op: (revision --autogenerate writes that on SQLite unless the config says batch: never)"
    )


# what a revision's read of the database raises offline, where Alembic's stand-in connection (SQLAlchemy's
# MockConnection) runs nothing and returns nothing: inspect(op.get_bind()), an ORM Session on it, a
# result read off op.get_bind().execute(...)
_RESULT_METHODS = (
    "fetch(all|one|many)|scalars?|scalar_one(_or_none)?|first|one(_or_none)?|all|mappings|tuples|keys|rowcount"
)
_OFFLINE_READ = re.compile(rf"MockConnection|'NoneType' object has no attribute '({_RESULT_METHODS})'$")


def offline_read_hint(exc: BaseException) -> str | None:
    """What to do when a revision rendered offline (``--sql``) read the database (None: another error)."""
    if not _OFFLINE_READ.search(str(exc)):
        return None
    return (
        "the revision reads the database (op.get_bind() as a live connection: inspect(), a SELECT, an ORM "
        "Session), which --sql cannot do: there is no database, so skip the reads when "
        "context.is_offline_mode() (from alembic import context), or run the migration online"
    )


def percent_hint(exc: BaseException) -> str | None:
    """What to do when psycopg2 took a literal ``%`` of a raw statement for a parameter marker (None: another error).

    ``op.get_bind().exec_driver_sql("... '%I' ...")`` hands the text to the driver as written; psycopg2 then
    reads ``%I`` as a marker and fails on the empty parameters SQLAlchemy passes. asyncpg, whose URL multidb
    migrates through psycopg2, never reads ``%`` (prefect's revisions are written for it).
    """
    import traceback

    if not isinstance(exc, (TypeError, ValueError, IndexError)) or not re.search(
        r"is not a sequence|unsupported format character|not enough arguments for format string", str(exc)
    ):
        return None
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames or "sqlalchemy" not in frames[-1].filename:  # raised by the revision's own % formatting
        return None
    return (
        "psycopg2 reads a % in a raw statement (exec_driver_sql) as a parameter marker: write %% for a literal %, "
        "or run the statement with op.execute(sa.text(...)) (an asyncpg URL is migrated through psycopg2)"
    )


def _table_of(exc: BaseException) -> str:
    """The table of the failed ``ALTER TABLE`` statement, or of the ``op.*`` operation that raised."""
    found = re.search(r'ALTER\s+TABLE\s+"?([^\s"(]+)', str(getattr(exc, "statement", None) or ""), re.IGNORECASE)
    if found:
        return found.group(1)
    from .alembic_private import operation_table

    return operation_table(exc) or "<table>"

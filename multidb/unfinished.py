"""Revisions left half-applied on MariaDB/MySQL, recorded in the database so that the next run knows.

DDL cannot be rolled back there: a runner killed inside a revision (SIGKILL, out of memory, a lost
machine) leaves the statements it had run in place and the version row where it was. The run that
follows cannot tell that from a revision that never started, and would run it again from its first
statement. So while a revision runs, a table beside the version table (``<version_table>_progress``)
holds a row naming it and describing, by kind only (:func:`multidb.journal.describe`, never a
literal), its statements up to the last one that commits, written before that statement is sent and
again once it returns (see :class:`Recorder`). The row is written on a connection of its own in
autocommit mode, and removed once the revision's version row is committed. ``--sql`` never writes it.

The next run that finds a row for a revision the version table does not show as done refuses to run
that revision again and names what had run; ``stamp`` (the schema was finished or undone by hand) and
``--forget-interrupted`` (it was undone by hand) clear it. PostgreSQL and SQLite roll an interrupted
revision back, so they need none of this.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import running
from .config import Database
from .errors import DatabaseError
from .journal import NON_TRANSACTIONAL_DDL, changes, commits, describe
from .redact import first_line

SUFFIX = "_progress"
MAX_NAME = 64  # MariaDB/MySQL identifiers
KEPT_RUNS = 200  # statement descriptions kept per revision (runs of the same kind count as one)
RECOVERY_DOCS = 'docs/commands.md, "Interrupted revisions on MariaDB/MySQL"'
DATA_CHECKPOINTS = "multidb_data_progress"  # multidb.data's own table: its steps resume from it, never repeat


def table_name(version_table: str) -> str:
    """The progress table of a version table: ``alembic_version_progress`` beside ``alembic_version``."""
    return version_table[: MAX_NAME - len(SUFFIX)] + SUFFIX


def applies(db: Database) -> bool:
    """Whether ``db``'s dialect needs the record (its DDL cannot be rolled back)."""
    return db.dialect in NON_TRANSACTIONAL_DDL


def _table(db: Database) -> Any:
    import sqlalchemy as sa

    return sa.Table(
        table_name(db.version_table),
        sa.MetaData(),
        sa.Column("revision", sa.String(255), primary_key=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("runner", sa.String(255), nullable=False),
        sa.Column("started", sa.String(32), nullable=False),
        sa.Column("statements", sa.Text(), nullable=False),
        sa.Column("finished", sa.Integer(), nullable=False),
        schema=db.version_table_schema,
    )


@dataclass(frozen=True)
class Unfinished:
    """One revision an earlier run started and did not record as done."""

    revision: str
    action: str  # "upgrade" or "downgrade" (an ``expand`` run upgrades)
    runner: str  # who ran it: multidb USER@HOST pid PID
    started: str
    runs: tuple[tuple[int, str], ...]  # (how many statements in a row, their kind), in order
    finished: int  # how many of them are known to have completed

    @property
    def sent(self) -> int:
        return sum(count for count, _ in self.runs)

    def listing(self) -> str:
        """``statement 1: CREATE TABLE t2 | statements 2-4: UPDATE items (literals hidden)``."""
        shown, n = [], 1
        for count, kind in self.runs:
            shown.append(f"statement {n}: {kind}" if count == 1 else f"statements {n}-{n + count - 1}: {kind}")
            n += count
        text = " | ".join(shown)
        if self.finished < self.sent:
            text += f" (statement {self.sent} was running when the run stopped: it may or may not have finished)"
        return text


def _runs(kinds: list[str]) -> list[list[Any]]:
    """Statements of the same kind in a row as one ``[count, kind]``."""
    runs: list[list[Any]] = []
    for kind in kinds:
        if runs and runs[-1][1] == kind:
            runs[-1][0] += 1
        else:
            runs.append([1, kind])
    return runs


def _encode(runs: list[list[Any]]) -> str:
    if len(runs) > KEPT_RUNS:  # the oldest kinds go; their count stays, so the numbers stay right
        dropped = sum(count for count, _ in runs[: 1 - KEPT_RUNS])
        runs = [[dropped, "(kinds not kept)"], *runs[1 - KEPT_RUNS :]]
    return "\n".join(f"{count}\t{kind}" for count, kind in runs)


def _decode(text: str) -> tuple[tuple[int, str], ...]:
    found = []
    for line in (text or "").splitlines():
        count, _, kind = line.partition("\t")
        if count.isdigit():
            found.append((int(count), kind))
    return tuple(found)


def read(db: Database, conn: Any) -> tuple[list[Unfinished], bool]:
    """The rows of ``db``'s progress table, and whether another session holds the migration lock now
    (then the rows are a live run's, not an interrupted one's). Empty where the table does not exist."""
    import sqlalchemy as sa
    from sqlalchemy.exc import DBAPIError

    from .locking import mysql_lock_name
    from .runner import database_errors

    if not applies(db):
        return [], False
    table = _table(db)
    live = sa.func.coalesce(sa.func.is_used_lock(mysql_lock_name(db)) != sa.func.connection_id(), 0)
    try:
        rows = conn.execute(sa.select(table, live.label("live"))).all()
    except DBAPIError as e:
        conn.rollback()
        if getattr(e.orig, "args", (None,))[0] == 1146:  # no such table: no revision was ever recorded
            return [], False
        with database_errors(db):
            raise
    conn.rollback()
    found = [Unfinished(r.revision, r.action, r.runner, r.started, _decode(r.statements), r.finished) for r in rows]
    return found, any(r.live for r in rows)


def outstanding(script: Any, heads: tuple[str, ...], found: list[Unfinished]) -> list[Unfinished]:
    """The records whose revision the version table does not show as done (the others are left over
    from a run killed after its last commit)."""
    if not found:
        return []
    applied = {r.revision for r in script.revision_map.iterate_revisions(heads, "base")} if heads else set()
    return [u for u in found if (u.revision in applied) == (u.action == "downgrade")]


def status_note(db: Database, script: Any, heads: tuple[str, ...]) -> str | None:
    """For ``status``: what an interrupted run left half-applied and the ways out (None: nothing, or a
    run under way holds the lock and its record is its own)."""
    from . import engines

    if not applies(db) or not engines.exists(db):
        return None
    with engines.reading(db) as conn:
        found, live = read(db, conn)
    left = [] if live else outstanding(script, heads, found)
    return f"{explain(db, left[0], script, heads)}; {recovery(db, left[0], script)}" if left else None


def before_run(db: Database, script: Any, action: str, heads: tuple[str, ...], forget: bool) -> bool:
    """Before a run (no lock held): refuse to run over a revision an earlier run left half-applied
    (unless ``forget``); whether there is a record for this run to clear. A record of a run that
    holds the lock now is that run's own: :func:`under_lock` checks again once the lock is ours."""
    from . import engines

    if not applies(db) or not engines.exists(db):
        return False
    with engines.reading(db) as conn:
        found, live = read(db, conn)
    if not found or live:
        return False
    left = outstanding(script, heads, found)
    if left and action != "stamp" and not forget:
        raise RevisionInterrupted(db, left[0], script, heads, action)
    return action == "stamp" or forget


def under_lock(project: Any, db: Database, conn: Any, action: str, forget: bool) -> None:
    """The same check on ``conn``, which holds the migration lock (no other run can be under way).
    Records the version table shows as done (a run killed after its last commit) and forgotten ones
    are removed; ``stamp`` removes the rest once it has stamped."""
    from .runner import load_history, read_heads

    if not applies(db):
        return
    found, _ = read(db, conn)
    if not found:
        return
    script = load_history(project, db)
    heads = read_heads(db, conn)
    left = outstanding(script, heads, found)
    if left and action != "stamp" and not forget:
        raise RevisionInterrupted(db, left[0], script, heads, action)
    if not left or forget:
        clear(db, conn)


class RevisionInterrupted(DatabaseError):
    """An earlier run left a revision half-applied on MariaDB/MySQL; running it again would be blind."""

    def __init__(self, db: Database, record: Unfinished, script: Any, heads: tuple[str, ...], refused: str | None):
        self.record = record
        self.reason = explain(db, record, script, heads)
        refusal = f"; {refused} refused: running it again would repeat what had run" if refused else ""
        super().__init__(db.name, self.reason + refusal + "; " + recovery(db, record, script))


def explain(db: Database, record: Unfinished, script: Any, heads: tuple[str, ...]) -> str:
    """What ran of the interrupted revision, and where the version table stands."""
    from .runner import relative

    try:
        path = f" ({relative(script.get_revision(record.revision).path)})"
    except Exception:  # a revision file removed since: name the id alone
        path = ""
    text = (
        f"revision {record.revision}{path} was left half-applied by an earlier {record.action} "
        f"({record.runner}, started {record.started}): MariaDB/MySQL cannot roll back DDL, and "
        f"{record.sent} of its statements had run: {record.listing()}; "
        f"the version table still says {', '.join(heads) or 'base'}"
    )
    return first_line(text, *db.secrets)


def recovery(db: Database, record: Unfinished, script: Any) -> str:
    """The two ways out, as commands."""
    done = record.revision
    if record.action == "downgrade":
        try:
            below = script.get_revision(record.revision).down_revision
        except Exception:
            below = None
        done = ",".join(below) if isinstance(below, tuple | list) else (below or "base")
    again = "downgrade" if record.action == "downgrade" else "upgrade"
    return (
        f"finish that {record.action} by hand and run 'multidb stamp {db.name} --to {done}', or undo those "
        f"statements by hand and run the {again} again with --forget-interrupted ({RECOVERY_DOCS})"
    )


def clear(db: Database, conn: Any) -> None:
    """Forget every record (``stamp``, ``--forget-interrupted``, or stale ones); ``conn`` holds the lock."""
    from sqlalchemy.exc import DBAPIError

    from .runner import database_errors

    if not applies(db):
        return
    try:
        conn.execute(_table(db).delete())
    except DBAPIError as e:
        conn.rollback()
        if getattr(e.orig, "args", (None,))[0] == 1146:
            return
        with database_errors(db):
            raise
    conn.commit()


class Recorder:
    """Keeps the progress row of the revision running on one connection.

    Only what a kill cannot undo counts: a statement that commits (DDL, which commits implicitly
    before and after itself, or an explicit ``COMMIT``), and the data changes before it, which it
    commits. So the row is written before each such statement is sent (and again once it returns);
    a revision that only changes rows never writes one, as the server rolls those changes back when
    the session dies (the data helpers' own commits are resumed from their checkpoints).
    """

    def __init__(self, db: Database, action: str):
        self.db = db
        self.action = "downgrade" if action == "downgrade" else "upgrade"
        self.table = _table(db)
        self.version_table = db.version_table.lower()
        self.writer: Any = None  # the autocommit connection the rows are written on
        self.wrote = False  # this run has written a row (removed when the run ends)
        self.kept = False  # the run stopped and the row stays for the next run
        self._reset(None)

    def _reset(self, now: Any) -> None:
        self.running = now  # the revision being recorded (multidb.running.Running)
        self.kinds: list[str] = []  # its statements sent so far, described
        self.commits: list[bool] = []  # whether each one commits
        self.completed = 0  # how many of them returned
        self.row = False  # its row is written
        self.recorded = False  # its version row was written

    @contextmanager
    def on(self, conn: Any) -> Iterator[Recorder]:
        """Record while the revisions run on ``conn`` (only where DDL cannot be rolled back)."""
        if conn.dialect.name not in NON_TRANSACTIONAL_DDL:
            yield self
            return
        from sqlalchemy import event

        event.listen(conn, "before_cursor_execute", self._before)
        event.listen(conn, "after_cursor_execute", self._after)
        try:
            yield self
        finally:
            event.remove(conn, "before_cursor_execute", self._before)
            event.remove(conn, "after_cursor_execute", self._after)

    def _before(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        now = running.current()
        if now is None or not self._counts(statement):
            return
        if now is not self.running:  # a new revision: the one before it has committed its version row
            self._reset(now)
        self.kinds.append(" ".join(describe(statement).split()))
        self.commits.append(commits(statement))
        if self.commits[-1]:
            self._write(self.kinds, self.completed)

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.running is None or running.current() is not self.running:
            return
        lowered = statement.lstrip().lower()
        if self.version_table in lowered and not lowered.startswith("select"):
            self.recorded = True
        elif self._counts(statement):
            self.completed += 1
            if commits(statement):  # a kill in the revision's code after it names it as done
                self._write(self.kinds, self.completed)

    def _counts(self, statement: str) -> bool:
        return changes(statement, self.version_table) and DATA_CHECKPOINTS not in statement.lower()

    def _write(self, kinds: list[str], finished: int) -> None:
        from sqlalchemy.exc import DBAPIError

        try:
            values = {"statements": _encode(_runs(kinds)), "finished": finished}
            if self.row:
                self._connection().execute(self.table.update().values(**values))
            else:
                self._insert(values)
        except DBAPIError as e:
            reason = first_line(str(e.orig or e), *self.db.secrets)
            raise DatabaseError(
                self.db.name, f"cannot write the progress table {self.table.name} (see {RECOVERY_DOCS}): {reason}"
            ) from e

    def _insert(self, values: dict[str, Any]) -> None:
        from sqlalchemy.exc import DBAPIError

        from .locking import holder_label

        conn = self._connection()
        try:
            conn.execute(self.table.delete())  # a revision before this one, committed since
        except DBAPIError as e:
            if getattr(e.orig, "args", (None,))[0] != 1146:
                raise
            self.table.create(conn, checkfirst=True)  # the first revision ever recorded here
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        runner = holder_label()[:255]
        conn.execute(
            self.table.insert().values(
                revision=self.running.revision, action=self.action, runner=runner, started=started, **values
            )
        )
        self.row = self.wrote = True

    def _connection(self) -> Any:
        if self.writer is None:
            from . import engines

            self.writer = engines.open_connection(self.db).execution_options(isolation_level="AUTOCOMMIT")
        return self.writer

    def stopped(self) -> None:
        """The run stopped in this process (a failure, SIGINT, SIGTERM) and its revision's transaction was
        rolled back: keep exactly what had committed, or no row when nothing had."""
        try:
            if not self.wrote or self.recorded:
                return
            sent = [i for i, commits in enumerate(self.commits) if commits]
            last = sent[-1] if sent else -1
            kept = self.kinds[: last + 1] if last < self.completed else self.kinds[:last]  # (one that failed: not)
            if kept and self.row:
                self._connection().execute(
                    self.table.update().values(statements=_encode(_runs(kept)), finished=len(kept))
                )
                self.kept = True
            else:
                self._connection().execute(self.table.delete())
        except Exception:  # the server may be gone: the row says what was sent, which is still true
            pass
        finally:
            self.close()

    def next_step(self) -> str:
        """Added to the failure's line when the row stays."""
        if not self.kept:
            return ""
        return (
            f"; the next run refuses revision {self.running.revision} until it is finished by hand and stamped "
            f"('multidb stamp {self.db.name} --to REV'), or undone by hand and run again with --forget-interrupted"
        )

    def finished(self) -> None:
        """Every revision of the run committed: no record is left (one left by a lost connection names a
        revision the version table shows as done, which the next run ignores)."""
        try:
            if self.wrote:
                self._connection().execute(self.table.delete())
        except Exception:
            pass
        finally:
            self.close()

    def close(self) -> None:
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.close()

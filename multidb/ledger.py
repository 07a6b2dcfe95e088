"""Checksums of applied revisions: a ledger table beside each database's version table.

One row per applied revision: its id, the sha256 of its file (line endings normalized, so a
checkout on Windows hashes as one on Linux), when it was recorded and how (``applied``: it ran;
``adopted``: it was applied before the database had a ledger, so its hash is the file's content
when the ledger was made; ``stamped``: ``multidb stamp`` recorded it without running it).

The rows are written by an ``on_version_apply`` hook: inside the transaction that moves the
version row, online and into ``--sql`` files alike. :func:`changed` compares them with the files.

After ``multidb squash`` (see multidb/squashed.py) the rows of the revisions a baseline replaced are
``squashed``, not deleted, and the row of the baseline's own id (its old file's hash) is ``squashed``
too, not edited, while any replaced revision's row is still there. The next online upgrade, downgrade
or stamp that moves the version row (in the transaction of its first move), and ``validate --accept``,
drop the replaced rows and give the baseline's row the baseline file's hash: from then on an edit of
the baseline is "edited" again.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Database
from .errors import DatabaseError

if TYPE_CHECKING:
    import sqlalchemy as sa
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

SUFFIX = "_ledger"


def table_name(version_table: str) -> str:
    """The ledger's name: the version table's with ``_ledger`` after it."""
    return f"{version_table}{SUFFIX}"


def checksum(path: str | Path) -> str:
    """The sha256 of a revision file, with CRLF and CR line endings read as LF."""
    from .alembic_config import file_version

    return _checksum(str(path), file_version(os.stat(path)))


@functools.lru_cache(maxsize=4096)
def _checksum(path: str, _version: tuple[int, ...]) -> str:
    """(Cached while the file is the same version, :func:`~multidb.alembic_config.file_version`: a fleet's
    targets share the files.)"""
    data = Path(path).read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return hashlib.sha256(data).hexdigest()


def ledger_table(db: Database) -> sa.Table:
    import sqlalchemy as sa

    return sa.Table(
        table_name(db.version_table),
        sa.MetaData(),
        sa.Column("revision", sa.String(255), primary_key=True),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        schema=db.version_table_schema,
    )


def _utc_now(dialect: Any) -> Any:
    """The server's current UTC time (so a ``--sql`` file records when the DBA ran it)."""
    import sqlalchemy as sa

    if dialect.name == "postgresql":
        return sa.text("timezone('utc', now())")
    if dialect.name in ("mysql", "mariadb"):
        return sa.text("UTC_TIMESTAMP()")
    return sa.text("CURRENT_TIMESTAMP")  # SQLite: UTC


@dataclass(frozen=True)
class Changed:
    """An applied revision whose file was edited or deleted after it was recorded."""

    database: str
    revision: str
    problem: str  # "edited", "deleted" or "squashed" (a baseline replaced it: information, not a problem)
    applied_at: str  # UTC, "YYYY-MM-DD HH:MM:SS"
    source: str  # "applied", "adopted" or "stamped"
    path: str | None = None
    baseline: str | None = None  # "squashed": the baseline that replaced it

    def describe(self) -> str:
        where = f" ({self.path})" if self.path else ""
        when = f"{self.source} {self.applied_at} UTC"
        if self.problem == "squashed" and self.baseline == self.revision:
            return (
                f"{self.database}: revision {self.revision}{where} was replaced by its baseline (squashed) after "
                f"it was applied ({when}); the ledger takes the baseline's checksum at the next upgrade"
            )
        if self.problem == "squashed":
            return f"{self.database}: revision {self.revision} was squashed into the baseline {self.baseline} ({when})"
        if self.problem == "deleted":
            return f"{self.database}: revision {self.revision} was deleted after it was applied ({when})"
        return f"{self.database}: revision {self.revision}{where} was edited after it was applied ({when})"


def read_rows(db: Database, connection: Connection) -> dict[str, tuple[str, str, str]]:
    """The ledger's rows as ``{revision: (checksum, applied_at, source)}``; empty when it has none."""
    import sqlalchemy as sa
    from sqlalchemy.exc import DBAPIError

    from .runner import is_missing_table

    table = ledger_table(db)
    try:
        rows = connection.execute(sa.select(table.c.revision, table.c.checksum, table.c.applied_at, table.c.source))
        found = {r.revision: (r.checksum, _when(r.applied_at), r.source) for r in rows}
    except DBAPIError as e:
        connection.rollback()
        if is_missing_table(e):
            return {}
        raise
    return found


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else str(value)[:19]


def applied_revisions(script: ScriptDirectory, heads: tuple[str, ...]) -> list[str]:
    """Every revision a database at ``heads`` has applied (its heads and their ancestors), oldest first."""
    from . import alembic_private

    found: dict[str, None] = {}
    for head in heads:  # (one target at a time: Alembic's step walk takes no list)
        found.update(dict.fromkeys(step.revision.revision for step in alembic_private.upgrade_steps(script, head, ())))
    return list(found)


def _file(script: ScriptDirectory, revision: str) -> Any:
    from alembic.script.revision import RevisionError

    try:
        found = script.revision_map.get_revision(revision)
    except RevisionError:
        return None
    return found if found is not None and found.revision == revision else None


def compare(
    db: Database, script: ScriptDirectory, heads: tuple[str, ...], rows: dict[str, tuple[str, str, str]]
) -> list[Changed]:
    """The recorded revisions whose file is gone, or applied ones whose content differs from their hash."""
    from .runner import relative, unknown_heads

    applied = set(applied_revisions(script, tuple(h for h in heads if h not in unknown_heads(script, heads))))
    replaced_by, stale = _squashed(script, rows)
    found = []
    for revision, (digest, when, source) in sorted(rows.items(), key=lambda kv: kv[1][1]):
        rev = _file(script, revision)
        baseline = replaced_by.get(revision)
        if rev is None or not rev.path or not Path(rev.path).exists():
            if baseline and rev is None:  # the baseline replaced it
                found.append(Changed(db.name, revision, "squashed", when, source, baseline=baseline))
            else:
                found.append(Changed(db.name, revision, "deleted", when, source))
        elif revision in applied and checksum(rev.path) != digest:
            problem = "squashed" if revision in stale else "edited"
            found.append(Changed(db.name, revision, problem, when, source, relative(rev.path), baseline))
    return found


def problems(found: list[Changed]) -> list[Changed]:
    """What :func:`compare` found, without the revisions a baseline replaced (not a problem)."""
    return [c for c in found if c.problem != "squashed"]


def _squashed(script: ScriptDirectory, rows: dict[str, Any]) -> tuple[dict[str, str], set[str]]:
    """Which baseline replaced each revision (see multidb/squashed.py), and the baselines whose own row
    predates the squash: some revision they replaced still has a row."""
    from .squashed import records, squashed_away

    replaced_by = records(script)
    return replaced_by, {baseline for _, baseline in squashed_away(script, list(rows))}


def changed(db: Database, script: ScriptDirectory, connection: Connection) -> list[Changed]:
    """What :func:`compare` finds in ``db`` now, read on ``connection`` (left without a transaction)."""
    from .runner import database_errors, read_heads, revision_errors, unknown_heads
    from .squashed import refuse

    with database_errors(db):
        heads = read_heads(db, connection)
        rows = read_rows(db, connection)
        connection.rollback()
    refuse(db.name, script, unknown_heads(script, heads))  # at a revision a baseline replaced
    with revision_errors(db):
        return compare(db, script, heads, rows)


def unrecorded(db: Database, script: ScriptDirectory, connection: Connection) -> list[str]:
    """The applied revisions the ledger has no row for: applied before the database had a ledger (by plain
    Alembic, or by the application itself), and not moved since; read on ``connection`` (left without a
    transaction)."""
    from .runner import database_errors, read_heads, unknown_heads

    with database_errors(db):
        heads = read_heads(db, connection)
        rows = read_rows(db, connection)
        connection.rollback()
    known = tuple(h for h in heads if h not in unknown_heads(script, heads))
    return [revision for revision in applied_revisions(script, known) if revision not in rows]


def adopt(db: Database, script: ScriptDirectory, connection: Connection, revisions: list[str]) -> None:
    """``validate --accept``: record ``revisions`` as ``adopted`` (their files as they are now), making the
    ledger first if the database has none, as the next version move would."""
    recorder = Recorder(db, script)
    recorder.ensure_table(connection)
    recorder.add_missing(connection, revisions, "adopted")
    connection.commit()


class EditedRevisions(DatabaseError):
    """``upgrade`` would run past a revision edited or deleted after it was applied (exit 1)."""

    def __init__(self, found: list[Changed]):
        first = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        super().__init__(
            first.database,
            f"{first.describe().split(': ', 1)[1]}{more}; nothing was changed: restore the file, or pass "
            f"--allow-edited to upgrade anyway ('multidb validate {first.database}' lists them)",
        )


class Recorder:
    """The ``on_version_apply`` hook that keeps one database's ledger in step with its version table."""

    def __init__(self, db: Database, script: ScriptDirectory):
        self.db = db
        self.script = script
        self.table = ledger_table(db)
        self.started = False
        # online: every revision the ledger may hold (read once, then only added to: a row whose DELETE was
        # rolled back stays listed; the migration lock makes this run the only writer), so applying a
        # revision the ledger cannot hold costs one INSERT and no DELETE
        self.have: set[str] | None = None
        self._inserts: dict[str, Any] = {}

    def _first(self, ctx: Any, step: Any, heads: tuple[str, ...]) -> None:
        """The run's first version move: make the ledger (in that move's transaction), and online record
        the revisions applied before it existed as ``adopted`` (the files' content now: no false alarms)."""

        self.started = True
        connection = ctx.connection
        if ctx.as_sql:  # offline: the SQL file makes the ledger itself (nothing to read)
            self.create(ctx.execute)
            return
        self.ensure_table(connection)
        if step.is_stamp:  # what the database held before the stamp (the stamp's own rows say "stamped")
            held = (set(heads) - set(step.destination_revision_ids)) | set(step.source_revision_ids)
            before = applied_revisions(self.script, tuple(sorted(held)))
        else:  # after a downgrade, or but for this upgrade
            this = set(step.up_revision_ids) if step.is_upgrade else set()
            before = [r for r in applied_revisions(self.script, heads) if r not in this]
        have = self.add_missing(connection, before, "adopted")
        take_squashed(self.db, self.script, connection, dict.fromkeys(have))

    def create(self, execute: Any) -> None:
        from sqlalchemy.schema import CreateTable

        execute(CreateTable(self.table, if_not_exists=True))

    def ensure_table(self, connection: Connection) -> None:
        """Make the ledger on ``connection`` unless it is there (asked first: on MariaDB/MySQL even
        ``CREATE TABLE IF NOT EXISTS`` commits the open transaction)."""
        import sqlalchemy as sa

        if not sa.inspect(connection).has_table(self.table.name, schema=self.table.schema):
            self.create(connection.execute)

    def add_missing(self, connection: Connection, revisions: list[str], source: str) -> set[str]:
        """Rows for those of ``revisions`` the ledger lacks; returns the revisions it held before."""
        import sqlalchemy as sa

        held = set(connection.execute(sa.select(self.table.c.revision)).scalars())
        self.have = (self.have or set()) | held
        for revision in revisions:
            if revision not in self.have:
                self._insert(connection, revision, source)
        return held

    def _insert(self, connection: Connection, revision: str, source: str) -> None:
        """Online: one INSERT with bound values (compiled once per run)."""
        rev = _file(self.script, revision)
        if rev is None or not rev.path:
            return
        statement = self._inserts.get(connection.dialect.name)
        if statement is None:
            statement = self.table.insert().values(applied_at=_utc_now(connection.dialect))
            self._inserts[connection.dialect.name] = statement
        connection.execute(statement, {"revision": revision, "checksum": checksum(rev.path), "source": source})
        if self.have is not None:
            self.have.add(revision)

    def _insert_literal(self, ctx: Any, revision: str) -> None:
        """Offline: the row written into the SQL file."""
        rev = _file(self.script, revision)
        if rev is None or not rev.path:
            return
        values = {"revision": revision, "checksum": checksum(rev.path), "applied_at": _utc_now(ctx.dialect)}
        ctx.execute(self.table.insert().values(**values, source="applied"))

    def applied(self, *, ctx: Any, step: Any, heads: Any, **_: Any) -> None:
        """Alembic moved the version row for ``step``: write the ledger in the same transaction."""
        if not self.started:
            self._first(ctx, step, tuple(heads))
        if step.is_stamp:
            self._stamped(ctx.connection, tuple(heads))
            return
        gone = step.up_revision_ids if not step.is_upgrade else (step.up_revision_id,)
        if ctx.as_sql:  # the file runs on a database whose ledger this run cannot see
            for revision in gone:
                ctx.execute(self.table.delete().where(self.table.c.revision == revision))
            if step.is_upgrade:
                self._insert_literal(ctx, step.up_revision_id)
            return
        connection = ctx.connection
        have = self.have if self.have is not None else set(gone)
        stale = [revision for revision in gone if revision in have]
        if stale:
            connection.execute(self.table.delete().where(self.table.c.revision.in_(stale)))
        if step.is_upgrade:
            self._insert(connection, step.up_revision_id, "applied")

    def _stamped(self, connection: Connection, heads: tuple[str, ...]) -> None:
        """After a stamp the ledger holds exactly the revisions the new heads imply (new ones: ``stamped``)."""
        applied = applied_revisions(self.script, heads)
        stale = self.table.delete()
        if applied:
            stale = stale.where(self.table.c.revision.not_in(applied))
        connection.execute(stale)
        self.add_missing(connection, applied, "stamped")


def take_squashed(db: Database, script: ScriptDirectory, connection: Connection, rows: dict[str, Any]) -> None:
    """Once a history has a baseline (``multidb squash``): drop the rows of the revisions it replaced and give
    its own row the baseline file's hash (``rows``: the ledger's revisions). Left to the caller to commit."""
    _, stale = _squashed(script, rows)
    if not stale:
        return
    from .squashed import squashed_away

    table = ledger_table(db)
    gone = [revision for revision, _ in squashed_away(script, list(rows))]
    connection.execute(table.delete().where(table.c.revision.in_(gone)))
    for baseline in sorted(stale):
        rev = _file(script, baseline)
        if rev is not None and rev.path and baseline in rows:
            row = table.c.revision == baseline
            connection.execute(table.update().where(row).values(checksum=checksum(rev.path)))


def accept(db: Database, script: ScriptDirectory, connection: Connection, found: list[Changed]) -> None:
    """``validate --accept``: take the files as they are now (new hashes; rows of deleted files removed)."""
    table = ledger_table(db)
    for item in found:
        row = table.c.revision == item.revision
        rev = _file(script, item.revision)
        if item.problem == "deleted" or rev is None:
            connection.execute(table.delete().where(row))
        else:
            connection.execute(table.update().where(row).values(checksum=checksum(rev.path)))
    connection.commit()

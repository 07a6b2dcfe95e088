"""``multidb adopt``: version a database whose tables were made without migrations (``create_all``).

The migrations are replayed, one revision at a time, in a scratch database of the same dialect;
after each revision its schema is compared with the live one (Alembic's autogenerate comparison).
If exactly one revision matches, it is stamped. If several match (a data revision keeps the
schema of the one before it), adopt cannot tell whether their data steps ran: it lists them and
wants ``--to REV``, which replays up to REV, checks that its schema matches, and stamps it. If none
matches, the differences against the heads are listed. Nothing is changed unless a revision is stamped.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import drift, engines
from ..config import Database, Project
from ..environment import bookkeeping_tables, foreign_tables
from ..errors import DatabaseError, UsageError
from ..fleet import select_targets
from ..locking import locked
from ..results import RunResult
from ..runner import current_heads, database_errors, load_history
from ..scratch import ADOPT_PREFIX, check_prefix, scratch_name
from .steps import execute


class NoMatchingRevision(DatabaseError):
    """The live schema matches no revision (or not the one asked for); ``differences`` lists how it differs."""

    def __init__(self, database: str, differences: list[str], asked: str | None = None):
        self.differences = differences
        what = f"does not match {asked}" if asked else "matches no revision"
        since = f"from {asked}" if asked else "from the heads"
        super().__init__(database, f"the schema {what}; {len(differences)} difference(s) {since}, nothing stamped")

    def lines(self) -> list[str]:
        return [str(self)] + [f"  - {line}" for line in self.differences]


class SeveralMatches(UsageError):
    """Several revisions have the live schema: stamping one of them would be a guess."""

    def __init__(self, database: str, matches: list[tuple[str, ...]]):
        self.database = database
        self.matches = matches
        found = ", ".join(",".join(heads) for heads in matches)
        super().__init__(
            f"{database}: the schema matches {len(matches)} revisions ({found}) and adopt cannot tell whether the "
            f"data steps between them ran: choose with 'multidb adopt {database} --to REV' (nothing stamped)"
        )


def unversioned_tables(project: Project, db: Database) -> list[str]:
    """The tables of a database that has no version table (empty when it is versioned or empty)."""
    if not engines.exists(db):
        return []
    foreign = foreign_tables(project, db)
    if foreign is None:
        return []  # a neighbour's tables cannot be told apart from ours: don't guess
    with engines.reading(db) as conn, database_errors(db):  # the connection the checks share
        names, listed = _own_tables(conn, db, foreign)
        if db.version_table_schema == db.schema:  # the listing shows the version table too
            has_version = db.version_table in listed
        else:
            has_version = conn.dialect.has_table(conn, db.version_table, schema=db.version_table_schema)
        conn.rollback()
    return [] if has_version else sorted(names)


def _own_tables(conn: Any, db: Database, foreign: set[str]) -> tuple[list[str], list[str]]:
    """The database's own tables, and every table listed (in ``db.schema``)."""
    import sqlalchemy as sa

    skip = foreign | bookkeeping_tables(db)
    names = sa.inspect(conn).get_table_names(schema=db.schema)
    return [n for n in names if n not in skip and not n.startswith("sqlite_")], names


def adopt(
    project: Project, name: str, lock_timeout: float | None = None, to: str | None = None, prefix: str = ADOPT_PREFIX
) -> RunResult:
    """Stamp the one revision whose schema matches the live database (``to``: that revision, checked).

    The scratch database's name starts with ``prefix`` (checked with :func:`multidb.scratch.check_prefix`).

    Raises NoMatchingRevision if none matches (or ``to`` does not), SeveralMatches if more than one does.
    """
    try:
        check_prefix(prefix)
    except ValueError as e:
        raise UsageError(f"adopt --scratch-prefix: {e}") from None
    found = select_targets(project, [name])
    if len(found) != 1:
        raise UsageError(f"'{name}' is a fleet: adopt one target at a time ('{name}/TENANT')")
    db = found[0]
    script = load_history(project, db)
    with locked([db], lock_timeout):
        heads = current_heads(db)
        if heads:
            raise UsageError(
                f"{db.name}: already versioned (at {', '.join(heads)}); adopt is for unversioned databases"
            )
        if not unversioned_tables(project, db):
            raise UsageError(f"{db.name}: the database has no tables to adopt; run 'multidb upgrade {db.name}'")
        order = [to] if to else [s.revision for s in reversed(list(script.walk_revisions()))]
        states = _replay(project, db, order, prefix)
        matches = list(dict.fromkeys(heads for heads, diffs in states if not diffs))
        if not matches:
            last_heads, last_diffs = states[-1]
            raise NoMatchingRevision(db.name, last_diffs, ", ".join(last_heads) if to else None)
        if len(matches) > 1:
            raise SeveralMatches(db.name, matches)
        [match] = matches
        with engines.connect(db) as conn:
            result = execute(project, db, conn, "stamp", ",".join(match))
            conn.rollback()
        return dataclasses.replace(result, result=f"adopted at {', '.join(match)}")


def _replay(project: Project, db: Database, order: list[str], prefix: str) -> list[tuple[tuple[str, ...], list[str]]]:
    """Upgrade a scratch database to each target of ``order`` in turn: its heads and differences from the live one."""
    states: list[tuple[tuple[str, ...], list[str]]] = []
    with _scratch(db, prefix) as scratch, engines.connect(db) as live:
        scratch_project = dataclasses.replace(project, databases={db.name: scratch})
        for revision in order:
            with engines.connect(scratch) as conn:
                heads = execute(scratch_project, scratch, conn, "upgrade", revision).after
                conn.commit()
            states.append((heads, _differences(db, live, scratch)))
        live.rollback()
    return states


def _differences(db: Database, live: Any, scratch: Database) -> list[str]:
    import sqlalchemy as sa
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    expected = sa.MetaData()
    with engines.connect(scratch) as conn:
        expected.reflect(conn)
        conn.rollback()
    own = bookkeeping_tables(db)
    for name in own & set(expected.tables):
        expected.remove(expected.tables[name])
    opts = {
        "compare_type": True,
        "version_table": db.version_table,
        "version_table_schema": db.version_table_schema,
        "include_name": lambda name, type_, _parent: not (type_ == "table" and name in own),
    }
    context = MigrationContext.configure(live, opts=opts)
    with database_errors(db):
        found = compare_metadata(context, expected)
    return [line for d in found for line in drift.describe(d, "the migrations")]


@contextmanager
def _scratch(db: Database, prefix: str) -> Iterator[Database]:
    """A throwaway, empty database of ``db``'s dialect (a temp file, or a new database on the server)."""
    if db.dialect == "sqlite":
        with tempfile.TemporaryDirectory(prefix=prefix) as folder:
            yield dataclasses.replace(db, url=f"sqlite:///{Path(folder) / 'scratch.db'}")
        return
    from sqlalchemy.engine import make_url

    name = scratch_name(prefix)
    with engines.connect(db) as admin:
        admin = admin.execution_options(isolation_level="AUTOCOMMIT")
        quoted = admin.dialect.identifier_preparer.quote(name)
        with database_errors(db):
            admin.exec_driver_sql(f"CREATE DATABASE {quoted}")
        try:
            url = make_url(db.url).set(database=name).render_as_string(hide_password=False)
            yield dataclasses.replace(db, url=url)
        finally:
            force = " WITH (FORCE)" if admin.dialect.name == "postgresql" else ""
            admin.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}{force}")

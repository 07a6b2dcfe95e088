"""``--atomic``: every database's changes stay in one open transaction until all have succeeded.

Each database runs inside a transaction that multidb holds open; only when every database has
succeeded are they committed, one after another. If any fails, all are rolled back. Dialects
whose DDL commits implicitly (MariaDB/MySQL) are refused up front, because they cannot roll back.
The commits themselves are not two-phase: if the server of a later database dies between two
commits, the earlier ones stay committed (the report then says which).
"""

from __future__ import annotations

import traceback
from contextlib import ExitStack
from typing import Any

from .. import engines, interrupts
from ..config import Database, Project
from ..environment import commit_error, prepare_session
from ..errors import MigrationError, MultiDBError, RunFailed, UsageError
from ..journal import NON_TRANSACTIONAL_DDL
from ..results import RunResult
from ..runner import database_errors
from .steps import execute


def refuse_non_transactional(dbs: list[Database]) -> None:
    for db in dbs:
        if db.dialect in NON_TRANSACTIONAL_DDL:
            raise UsageError(
                f"{db.name}: --atomic cannot include a MariaDB/MySQL database: its DDL "
                "commits implicitly and cannot be rolled back; run without --atomic"
            )


def run_atomic(
    project: Project,
    dbs: list[Database],
    action: str,
    target: str,
    before: dict[str, tuple[str, ...]],
    purge: bool = False,
    tag: str | None = None,
) -> list[RunResult]:
    """Run ``action`` on every database inside held transactions; commit all or none.

    Entries in the same database (one SQLite file, one PostgreSQL database) share one connection and
    one transaction: a dependent entry sees its dependency's uncommitted tables.
    """
    with ExitStack() as stack:
        sessions: dict[tuple, tuple[Any, Any]] = {}  # same database -> (connection, transaction)
        for db in dbs:
            key = engines.database_identity(db)
            if key not in sessions:
                conn = stack.enter_context(engines.connect(db))
                stack.enter_context(interrupts.cancellable(conn))  # SIGINT/SIGTERM cancel its running statement
                prepare_session(db, conn)
                sessions[key] = (conn, conn.begin())
        results = []
        current: dict[int, str] = {}  # connection -> the entry whose settings it has
        for i, db in enumerate(dbs):
            conn, _tx = sessions[engines.database_identity(db)]
            try:
                if current.setdefault(id(conn), db.name) != db.name:
                    _switch(db, conn)
                    current[id(conn)] = db.name
                results.append(execute(project, db, conn, action, target, purge=purge, tag=tag))
            except MultiDBError as e:
                for _conn, tx in sessions.values():
                    tx.rollback()
                error = _explain(e)
                report = [RunResult(d.name, before[d.name], before[d.name], (), "rolled back") for d in dbs[:i]]
                report.append(RunResult(db.name, before[db.name], before[db.name], (), "failed", error.lines()[0]))
                report += [RunResult(d.name, before[d.name], before[d.name], (), "skipped") for d in dbs[i + 1 :]]
                raise RunFailed(error, report) from e
        _commit_all(dbs, sessions, results, before)
        return results


def _commit_all(
    dbs: list[Database], sessions: dict[tuple, tuple[Any, Any]], results: list[RunResult], before: dict
) -> None:
    """Commit each database in turn; a commit that fails (a deferred constraint) rolls back the ones after it."""
    from sqlalchemy.exc import DBAPIError

    keys = list(sessions)
    for n, key in enumerate(keys):
        try:
            sessions[key][1].commit()
        except DBAPIError as e:
            for later in keys[n + 1 :]:
                sessions[later][1].rollback()
            entries = [d for d in dbs if engines.database_identity(d) == key]
            error = commit_error(entries[0], e, "raised by --atomic's commit (this database's changes are rolled back)")
            report = []
            for d, result in zip(dbs, results, strict=True):
                where = engines.database_identity(d)
                if where in keys[:n]:
                    report.append(result)
                else:
                    what = "failed" if where == key else "rolled back"
                    detail = (error.lines()[0],) if where == key else ()
                    report.append(RunResult(d.name, before[d.name], before[d.name], (), what, *detail))
            raise RunFailed(error, report) from e


def _switch(db: Database, conn: Any) -> None:
    """The next entry on a shared connection: its version schema, session settings and search path,
    inside the open transaction (the previous entry's ones are reset first)."""
    from ..environment import search_path, session_settings, version_schema_ddl

    resets = ["RESET lock_timeout", "RESET statement_timeout"] if conn.dialect.name == "postgresql" else []
    path = search_path(db, conn.dialect) or ("RESET search_path" if conn.dialect.name == "postgresql" else None)
    with database_errors(db):
        for statement in (version_schema_ddl(db, conn.dialect), *resets, *session_settings(db, conn.dialect), path):
            if statement:
                conn.exec_driver_sql(statement)


def _explain(error: MultiDBError) -> MultiDBError:
    """A revision using autocommit_block() trips an assertion inside Alembic under --atomic: say why."""
    cause = error.__cause__
    frames = traceback.extract_tb(cause.__traceback__) if cause is not None else []
    if isinstance(error, MigrationError) and any(f.name == "autocommit_block" for f in frames):
        return UsageError(
            f"{error.database}: a revision uses autocommit_block(), which must commit on its own and so "
            f"cannot run inside --atomic's transaction{_where(error)}; run without --atomic"
        )
    return error


def _where(error: MigrationError) -> str:
    return f" ({error.revision_file})" if error.revision_file else ""

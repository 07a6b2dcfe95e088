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

from .. import engines
from ..config import Database, Project
from ..environment import commit_error, prepare_session
from ..errors import MigrationError, MultiDBError, RunFailed, UsageError
from ..journal import NON_TRANSACTIONAL_DDL
from ..results import RunResult
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
) -> list[RunResult]:
    """Run ``action`` on every database inside held transactions; commit all or none."""
    with ExitStack() as stack:
        open_ = []
        for db in dbs:
            conn = stack.enter_context(engines.connect(db))
            prepare_session(db, conn)
            open_.append((db, conn, conn.begin()))
        results = []
        for i, (db, conn, _tx) in enumerate(open_):
            try:
                results.append(execute(project, db, conn, action, target, purge=purge))
            except MultiDBError as e:
                for _db, _conn, tx in open_:
                    tx.rollback()
                error = _explain(e)
                report = [
                    RunResult(d.name, before[d.name], before[d.name], (), "rolled back") for d, _c, _t in open_[:i]
                ]
                report.append(RunResult(db.name, before[db.name], before[db.name], (), "failed", error.lines()[0]))
                report += [
                    RunResult(d.name, before[d.name], before[d.name], (), "skipped") for d, _c, _t in open_[i + 1 :]
                ]
                raise RunFailed(error, report) from e
        _commit_all(open_, results, before)
        return results


def _commit_all(open_: list, results: list[RunResult], before: dict[str, tuple[str, ...]]) -> None:
    """Commit each database in turn; a commit that fails (a deferred constraint) rolls back the ones after it."""
    from sqlalchemy.exc import DBAPIError

    for i, (db, _conn, tx) in enumerate(open_):
        try:
            tx.commit()
        except DBAPIError as e:
            for _db, _conn, later in open_[i + 1 :]:
                later.rollback()
            error = commit_error(db, e, "raised by --atomic's commit (this database's changes are rolled back)")
            failed = RunResult(db.name, before[db.name], before[db.name], (), "failed", error.lines()[0])
            after = [RunResult(d.name, before[d.name], before[d.name], (), "rolled back") for d, _, _ in open_[i + 1 :]]
            raise RunFailed(error, [*results[:i], failed, *after]) from e


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

"""``--atomic``: every database's changes stay in one open transaction until all have succeeded.

Each database runs inside a transaction that multidb holds open; only when every database has
succeeded are they committed, one after another. If any fails, all are rolled back. Dialects
whose DDL commits implicitly (MariaDB/MySQL) are refused up front, because they cannot roll back.
The commits themselves are not two-phase: if the server of a later database dies between two
commits, the earlier ones stay committed (the report then says which).
"""

from __future__ import annotations

from contextlib import ExitStack

from .. import engines
from ..config import Database, Project
from ..environment import prepare_session
from ..errors import MultiDBError, RunFailed, UsageError
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
        for db, conn, _tx in open_:
            try:
                results.append(execute(project, db, conn, action, target, purge=purge))
            except MultiDBError as e:
                for _db, _conn, tx in open_:
                    tx.rollback()
                rolled = [RunResult(d.name, before[d.name], before[d.name], (), "rolled back") for d, _c, _t in open_]
                failed = [
                    RunResult(r.name, r.before, r.before, (), "failed", e.lines()[0]) if r.name == db.name else r
                    for r in rolled
                ]
                raise RunFailed(e, failed) from e
        for _db, _conn, tx in open_:
            tx.commit()
        return results

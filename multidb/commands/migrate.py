"""Write commands: upgrade, downgrade, stamp, online or as offline SQL files.

Every online run takes each selected database's migration lock first, then checks every
database (history, target, server, version table) before the first one is changed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import engines
from ..config import Database, Project
from ..errors import MigrationError, MultiDBError, RunFailed, UsageError
from ..fleet import select_targets
from ..locking import locked
from ..results import RunResult
from ..runner import check_known, current_heads, load_history, read_heads, revision_errors
from . import offline
from .atomic import refuse_non_transactional, run_atomic
from .steps import Quiet, Reporter, execute, step_fn


@dataclass(frozen=True)
class RunOptions:
    """How a write command runs (one object instead of a growing list of parameters)."""

    sql: bool = False
    output_dir: Path | None = None
    reporter: Reporter | None = None
    lock_timeout: float | None = None  # None: each database's migration_lock_timeout
    atomic: bool = False
    confirmed: bool = False  # the user said --yes (or answered at a terminal)
    purge: bool = False  # stamp only


DEFAULT = RunOptions()


def upgrade(
    project: Project, names: tuple[str, ...] = (), all_: bool = False, to: str = "heads", options: RunOptions = DEFAULT
) -> list[RunResult]:
    """Upgrade the databases in dependency order, stopping at the first failure."""
    dbs = _selected(project, names, all_)
    if options.sql:
        return offline.write(project, dbs, "upgrade", to, options.output_dir)
    _no_range(to)
    return _run_all(project, dbs, "upgrade", to, options)


def downgrade(project: Project, names: tuple[str, ...], to: str, options: RunOptions = DEFAULT) -> list[RunResult]:
    """Downgrade the named databases (in reverse dependency order) to ``to``."""
    dbs = list(reversed(_selected(project, names, False)))
    if options.sql:
        if ":" not in to:
            raise UsageError("downgrade --sql needs a range: --to FROM:TO (e.g. heads:base)")
        return offline.write(project, dbs, "downgrade", to, options.output_dir)
    _no_range(to)
    _guard(project, "downgrade", options)
    return _run_all(project, dbs, "downgrade", to, options)


def stamp(project: Project, names: tuple[str, ...], to: str, options: RunOptions = DEFAULT) -> list[RunResult]:
    """Write ``to`` into the version table without running any migration."""
    dbs = _selected(project, names, False)
    _guard(project, "stamp", options)
    return _run_all(project, dbs, "stamp", to, options)


def _selected(project: Project, names: tuple[str, ...], all_: bool) -> list[Database]:
    if not names and not all_:
        raise UsageError("name the databases to change, or pass --all")
    return select_targets(project, names, all_)


def _no_range(to: str) -> None:
    if ":" in to:
        raise UsageError("a FROM:TO range only works with --sql")


def _guard(project: Project, action: str, options: RunOptions) -> None:
    if project.protected and not options.confirmed:
        raise UsageError(
            f"profile '{project.profile}' is protected: {action} can lose data, so it needs --yes "
            "(or an answer at a terminal)"
        )


def _run_all(project: Project, dbs: list[Database], action: str, target: str, options: RunOptions) -> list[RunResult]:
    """Lock, then check every database (history, target, server), then change them in order."""
    reporter = options.reporter or Quiet()
    if options.atomic:
        refuse_non_transactional(dbs)
    scripts = {db.name: load_history(project, db) for db in dbs}  # every history loads before any connection
    for db in dbs:
        _check_target(db, scripts[db.name], target)
    with locked(dbs, options.lock_timeout):
        # read under the lock: a runner that waited usually finds nothing left to do
        before = {db.name: _preflight(project, db, scripts[db.name], action, target) for db in dbs}
        if options.atomic:
            return run_atomic(project, dbs, action, target, before, options.purge)
        return _one_by_one(project, dbs, action, target, before, reporter, options)


def _one_by_one(
    project: Project,
    dbs: list[Database],
    action: str,
    target: str,
    before: dict[str, tuple[str, ...]],
    reporter: Reporter,
    options: RunOptions,
) -> list[RunResult]:
    results: list[RunResult] = []
    for i, db in enumerate(dbs):
        try:
            results.append(_apply_with_retries(project, db, action, target, before[db.name], reporter, options))
        except MultiDBError as e:
            results.append(RunResult(db.name, before[db.name], _now(db), (), "failed", e.lines()[0]))
            results += [RunResult(d.name, before[d.name], before[d.name], (), "skipped") for d in dbs[i + 1 :]]
            raise RunFailed(e, results) from e
        finally:
            reporter.finish(db.name)
    return results


def _preflight(project: Project, db: Database, script: Any, action: str, target: str) -> tuple[str, ...]:
    """Where the database stands; raises if it is unreachable or the target does not apply to it."""
    heads = current_heads(db)
    check_known(db, script, heads)
    if action == "upgrade" and not heads:
        _refuse_unversioned_tables(project, db)
    with revision_errors(db):
        step_fn(action)(script, target, heads)
    return heads


def _check_target(db: Database, script: Any, target: str) -> None:
    """Targets that do not depend on where the database stands are checked before any lock is taken."""
    relative = target in ("base", "heads", "head") or any(c in target for c in "+-@")
    if not relative:
        with revision_errors(db):
            for part in target.split(","):
                script.revision_map.get_revisions(part)


def _refuse_unversioned_tables(project: Project, db: Database) -> None:
    from .adopt import unversioned_tables

    tables = unversioned_tables(project, db)
    if tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise UsageError(
            f"{db.name}: the database has tables ({shown}) but no version table; it was not created by "
            f"these migrations. Run 'multidb adopt {db.name}' to find and stamp the matching revision."
        )


def _now(db: Database) -> tuple[str, ...]:
    try:
        with engines.connect(db) as conn:
            return read_heads(db, conn)
    except MultiDBError:
        return ()


def _apply_with_retries(
    project: Project,
    db: Database,
    action: str,
    target: str,
    before: tuple[str, ...],
    reporter: Reporter,
    options: RunOptions,
) -> RunResult:
    """Run, retrying a revision that gave up waiting for a table lock (``lock_timeout``)."""
    attempt = 0
    while True:
        try:
            return _apply(project, db, action, target, before, reporter, options)
        except MigrationError as e:
            if attempt >= db.lock_retries or not is_lock_timeout(e.__cause__):
                raise
            attempt += 1
            time.sleep(min(30.0, 0.5 * 2**attempt))


def is_lock_timeout(exc: BaseException | None) -> bool:
    """A statement that gave up waiting for a lock: PostgreSQL 55P03, MariaDB/MySQL 1205."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "pgcode", None) == "55P03":
        return True
    args = getattr(orig, "args", ())
    return bool(args) and args[0] == 1205


def _apply(
    project: Project,
    db: Database,
    action: str,
    target: str,
    before: tuple[str, ...],
    reporter: Reporter,
    options: RunOptions,
) -> RunResult:
    with engines.connect(db) as conn:
        result = execute(project, db, conn, action, target, before, reporter, options.purge)
        conn.rollback()  # end the read of the new heads
    return result

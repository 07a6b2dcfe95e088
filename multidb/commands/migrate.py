"""Write commands: upgrade, downgrade, stamp, online or as offline SQL files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .. import engines
from ..config import Database, Project
from ..errors import MultiDBError, RunFailed, UsageError
from ..results import RunResult
from ..runner import check_known, current_heads, load_history, read_heads, revision_errors, run
from . import offline


class Reporter(Protocol):
    """Told about progress; the CLI shows a progress bar with it."""

    def start(self, database: str, total: int) -> None: ...
    def step(self, database: str, revision: str) -> None: ...
    def finish(self, database: str) -> None: ...


class Quiet:
    def start(self, database: str, total: int) -> None:
        pass

    def step(self, database: str, revision: str) -> None:
        pass

    def finish(self, database: str) -> None:
        pass


def upgrade(
    project: Project,
    names: tuple[str, ...] = (),
    all_: bool = False,
    to: str = "heads",
    sql: bool = False,
    output_dir: Path | None = None,
    reporter: Reporter | None = None,
) -> list[RunResult]:
    """Upgrade the databases in dependency order, stopping at the first failure."""
    dbs = _selected(project, names, all_)
    if sql:
        return offline.write(project, dbs, "upgrade", to, output_dir)
    if ":" in to:
        raise UsageError("a FROM:TO range only works with --sql")
    return _run_all(project, dbs, "upgrade", to, reporter or Quiet())


def downgrade(
    project: Project,
    names: tuple[str, ...],
    to: str,
    sql: bool = False,
    output_dir: Path | None = None,
    reporter: Reporter | None = None,
) -> list[RunResult]:
    """Downgrade the named databases (in reverse dependency order) to ``to``."""
    dbs = _selected(project, names, False)
    if sql:
        if ":" not in to:
            raise UsageError("downgrade --sql needs a range: --to FROM:TO (e.g. heads:base)")
        return offline.write(project, list(reversed(dbs)), "downgrade", to, output_dir)
    if ":" in to:
        raise UsageError("a FROM:TO range only works with --sql")
    return _run_all(project, list(reversed(dbs)), "downgrade", to, reporter or Quiet())


def stamp(project: Project, names: tuple[str, ...], to: str, purge: bool = False) -> list[RunResult]:
    """Write ``to`` into the version table without running any migration."""
    dbs = _selected(project, names, False)
    return _run_all(project, dbs, "stamp", to, Quiet(), purge=purge)


def _selected(project: Project, names: tuple[str, ...], all_: bool) -> list[Database]:
    if not names and not all_:
        raise UsageError("name the databases to change, or pass --all")
    return project.select(names, all_)


def _run_all(
    project: Project, dbs: list[Database], action: str, target: str, reporter: Reporter, **kw: Any
) -> list[RunResult]:
    """Check every database first (history, target, connection), then change them in order."""
    scripts = {db.name: load_history(project, db) for db in dbs}  # every history loads before any connection
    before = {db.name: _preflight(db, scripts[db.name], action, target) for db in dbs}
    results: list[RunResult] = []
    for i, db in enumerate(dbs):
        try:
            results.append(_apply(project, db, action, target, before[db.name], reporter, **kw))
        except MultiDBError as e:
            results.append(RunResult(db.name, before[db.name], _now(db), (), "failed", e.lines()[0]))
            results += [RunResult(d.name, before[d.name], before[d.name], (), "skipped") for d in dbs[i + 1 :]]
            raise RunFailed(e, results) from e
        finally:
            reporter.finish(db.name)
    return results


def _preflight(db: Database, script: Any, action: str, target: str) -> tuple[str, ...]:
    """Where the database stands; raises if it is unreachable or the target does not apply to it."""
    heads = current_heads(db)
    check_known(db, script, heads)
    with revision_errors(db):
        _STEPS[action](script, target, heads)
    return heads


def _now(db: Database) -> tuple[str, ...]:
    try:
        with engines.connect(db) as conn:
            return read_heads(db, conn)
    except MultiDBError:
        return ()


_STEPS: dict[str, Callable[..., Any]] = {
    "upgrade": lambda script, target, heads: script._upgrade_revs(target, heads),
    "downgrade": lambda script, target, heads: script._downgrade_revs(target, heads),
    "stamp": lambda script, target, heads: script._stamp_revs(tuple(target.split(",")), heads),
}
_DONE = {"upgrade": "upgraded", "downgrade": "downgraded", "stamp": "stamped"}


def _apply(
    project: Project,
    db: Database,
    action: str,
    target: str,
    before: tuple[str, ...],
    reporter: Reporter,
    **kw: Any,
) -> RunResult:
    script = load_history(project, db)
    applied: list[str] = []

    def steps(heads: Any, _context: Any) -> list:
        # Alembic's own command functions compute steps the same way
        with revision_errors(db):
            found = _STEPS[action](script, target, heads)
        reporter.start(db.name, len(found))
        return found

    def on_apply(*, step: Any, **_: Any) -> None:
        revision = step.up_revision_id if action != "stamp" else ",".join(step.up_revision_ids)
        applied.append(revision or "base")
        reporter.step(db.name, revision or "base")

    with engines.connect(db) as conn:
        context = run(
            project,
            db,
            steps,
            connection=conn,
            destination_rev=target,
            env_args={"purge": kw.get("purge", False)} if action == "stamp" else None,
            configure_args={"on_version_apply": on_apply},
        )
        after = context.get_current_heads()
        conn.rollback()
    result = _DONE[action] if applied else "no change"
    return RunResult(db.name, before, after, tuple(applied), result)

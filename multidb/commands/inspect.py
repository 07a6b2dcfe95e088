"""Read-only commands: list, status, current, heads, branches, history, show."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import alembic_private, engines, unfinished
from ..config import Database, Project
from ..errors import DatabaseError
from ..fleet import in_shard, select_targets
from ..phases import held_back
from ..results import DatabaseInfo, RevisionInfo, Status
from ..runner import check_target, current_heads, load_history, relative, revision_errors, unknown_heads
from ..squashed import explain, replaced, squashed_away
from .scheduler import Outcome, reading_jobs, run_jobs
from .validate import changed_revisions

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory


def list_databases(project: Project) -> list[DatabaseInfo]:
    """The databases of the active profile, URL passwords masked."""
    return [
        DatabaseInfo(
            name=db.name,
            url=db.masked_url,
            dialect=db.dialect,
            bases=tuple({"label": b.label, "path": relative(b.path)} for b in db.bases),
            version_table=db.version_table
            if not db.version_table_schema
            else f"{db.version_table_schema}.{db.version_table}",
            depends_on=db.depends_on,
        )
        for db in project.databases.values()
    ]


def status(
    project: Project,
    names: tuple[str, ...] = (),
    all_: bool = False,
    jobs: int = 1,
    shard: tuple[int, int] | None = None,
    lock_timeout: float | None = None,
) -> list[Status]:
    """Per database or fleet target: current revisions, heads and pending revisions.

    A database that cannot be read gets state "error"; a config or usage error propagates. A SQLite
    file that a runner is migrating is read once that run ends (waiting up to ``lock_timeout``, default
    its ``migration_lock_timeout``), else its state is "error", naming the runner.
    """
    targets = select_targets(project, names, all_)
    if shard:
        targets = [t for t in targets if in_shard(t.name, *shard)]
    return target_statuses(project, targets, jobs, lock_timeout)


def target_statuses(
    project: Project, targets: list[Database], jobs: int = 1, lock_timeout: float | None = None
) -> list[Status]:
    """:func:`status` of databases and fleet targets already selected."""
    for db in targets:
        load_history(project, db)  # before any worker forks, so they share it
    outcomes, _ = run_jobs(
        _status_job, targets, (project, lock_timeout), reading_jobs(targets, jobs), stop_at_first_failure=False
    )
    engines.close_shared()
    return [o.value for o in outcomes]


def _status_job(db: Database, project: Project, lock_timeout: float | None = None) -> Outcome:
    from ..locking import lock_wait, reading_lock

    try:
        with reading_lock(db, lock_wait(db, lock_timeout)):
            return Outcome(db.name, database_status(project, db))
    except DatabaseError as e:
        return Outcome(db.name, Status(db.name, db.masked_url, (), (), (), "error", e.message))


def database_status(project: Project, db: Database) -> Status:
    script = load_history(project, db)
    current = current_heads(db)
    heads = tuple(script.get_heads())
    missing = unknown_heads(script, current)
    gone = squashed_away(script, missing)
    if gone:  # a baseline replaced it: upgrade refuses, saying how to get past it
        return Status(db.name, db.masked_url, current, heads, (), "squashed away", explain(*gone[0]))
    if missing:
        return Status(db.name, db.masked_url, current, heads, (), "ahead of code")
    with revision_errors(db):
        steps = alembic_private.upgrade_steps(script, "heads", current)  # as Alembic's upgrade computes them
    pending = tuple(step.revision.revision for step in steps)
    waiting = tuple(r for r in pending if r in held_back(steps, script))
    interrupted = unfinished.status_note(db, script, current)  # MariaDB/MySQL
    if interrupted:
        state = "interrupted"
    elif not pending:
        state = "at head"
    elif not current:
        state = _empty_or_unversioned(project, db)
    else:
        state = "expanded" if waiting and len(waiting) == len(pending) else "behind"
    edited = tuple(c.describe() for c in changed_revisions(project, db))
    return Status(
        db.name, db.masked_url, current, heads, pending, state, interrupted, contract_pending=waiting, edited=edited
    )


def _empty_or_unversioned(project: Project, db: Database) -> str:
    """'unversioned': tables but no version table (made by create_all; see 'multidb adopt')."""
    from .adopt import unversioned_tables

    return "unversioned" if unversioned_tables(project, db) else "empty"


def pending_revisions(db: Database, script: ScriptDirectory, current: tuple[str, ...]) -> tuple[str, ...]:
    """The revisions ``upgrade heads`` would apply, in order."""
    with revision_errors(db):
        # the same step computation Alembic's own upgrade command uses
        steps = alembic_private.upgrade_steps(script, "heads", current)
    return tuple(step.revision.revision for step in steps)


def current(project: Project, names: tuple[str, ...] = (), all_: bool = False) -> list[Status]:
    """Like status; the CLI shows only the current revisions."""
    return status(project, names, all_)


def describe(script: Script, doc: bool = False) -> RevisionInfo:
    return RevisionInfo(
        revision=script.revision,
        down_revision=_tuple(script.down_revision),
        branch_labels=tuple(sorted(script.branch_labels)),
        depends_on=_tuple(script.dependencies),
        message=script.doc,
        path=relative(script.path),
        is_head=script.is_head,
        is_base=script.is_base,
        is_merge=script.is_merge_point,
        is_branch_point=script.is_branch_point,
        doc=script.longdoc if doc else "",
        squashed=tuple(replaced(script)),
    )


def _tuple(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)  # type: ignore[arg-type]


def heads(project: Project, db: Database) -> list[RevisionInfo]:
    script = load_history(project, db)
    return [describe(script.get_revision(h)) for h in script.get_heads()]


def branches(project: Project, db: Database) -> list[RevisionInfo]:
    """Revisions with more than one child: where the history forks."""
    script = load_history(project, db)
    return [describe(s) for s in script.walk_revisions() if s.is_branch_point]


def history(project: Project, db: Database, rev_range: str | None = None, doc: bool = False) -> list[RevisionInfo]:
    """Revisions newest first, optionally within ``FROM:TO`` (either side may be empty); ``doc``: with docstrings."""
    script = load_history(project, db)
    base, head = "base", "heads"
    if rev_range:
        if ":" not in rev_range:
            raise_range(db, rev_range)
        lower, upper = rev_range.split(":", 1)
        base, head = lower or "base", upper or "heads"
    with revision_errors(db):
        check_target(base)
        check_target(head)
        return [describe(s, doc=doc) for s in script.walk_revisions(base, head)]


def raise_range(db: Database, rev_range: str) -> None:
    from ..runner import RevisionUsageError

    raise RevisionUsageError(db.name, f"history range '{rev_range}' must look like FROM:TO (e.g. base:head)")


def show(project: Project, db: Database, rev: str) -> list[RevisionInfo]:
    """The revision(s) ``rev`` names, with their full docstrings."""
    script = load_history(project, db)
    with revision_errors(db):
        found = script.get_revisions(check_target(rev))
    return [describe(s, doc=True) for s in found if s is not None]

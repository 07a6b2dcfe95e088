"""Write commands: upgrade, downgrade, stamp, online or as offline SQL files.

Every online run first checks every selected database (history, target, server, version table)
before the first one is changed; then each database with work is locked, re-read and migrated.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import baseline, engines, interrupts, unfinished
from ..config import Database, Project
from ..customize import check_hooks
from ..errors import MigrationError, MultiDBError, RevisionNotFound, RunFailed, UsageError
from ..fleet import in_shard, select_targets
from ..journal import NON_TRANSACTIONAL_DDL, StatementJournal
from ..locking import lock_wait, locked, migration_lock, reading_lock
from ..results import RunResult
from ..runner import check_known, current_heads, load_history, read_heads, relative, revision_errors
from .scheduler import Outcome, reading_jobs, run_jobs
from .steps import Quiet, Reporter, execute, step_fn
from .validate import refuse_edited


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
    jobs: int = 1  # worker processes for fleets
    shard: tuple[int, int] | None = None  # (index, count), 1-based: only this runner's share of the targets
    fail_fast: bool = False  # stop a fleet run at the first failed target
    phase: str | None = None  # "expand": hold back contract steps; "contract" or None: everything
    from_current: bool = False  # --sql only: start at each database's current revisions, not at base
    tag: str | None = None  # Alembic's tag argument: context.get_tag_argument() in a revision
    forget_interrupted: bool = False  # MariaDB/MySQL: a half-applied revision was undone by hand; run it again
    allow_edited: bool = False  # upgrade past revisions edited or deleted after they were applied


DEFAULT = RunOptions()


def upgrade(
    project: Project, names: tuple[str, ...] = (), all_: bool = False, to: str = "heads", options: RunOptions = DEFAULT
) -> list[RunResult]:
    """Upgrade the databases in dependency order, stopping at the first failure."""
    dbs = _selected(project, names, all_)
    action = "expand" if options.phase == "expand" else "upgrade"
    if options.sql:
        if options.from_current and ":" in to:
            raise UsageError("--from-current starts at each database's current revision: give --to TO, not FROM:TO")
        from . import offline  # --sql only, like atomic below: a run that connects does not load them

        return offline.write(project, dbs, action, to, options.output_dir, options.from_current, options.tag)
    if options.from_current:
        raise UsageError("--from-current only goes with --sql")
    _no_range(to)
    return _run_all(project, dbs, action, to, options)


def downgrade(project: Project, names: tuple[str, ...], to: str, options: RunOptions = DEFAULT) -> list[RunResult]:
    """Downgrade the named databases (in reverse dependency order) to ``to``."""
    dbs = list(reversed(_selected(project, names, False)))
    if options.sql:
        if ":" not in to:
            raise UsageError("downgrade --sql needs a range: --to FROM:TO (e.g. heads:base)")
        from . import offline

        return offline.write(project, dbs, "downgrade", to, options.output_dir, tag=options.tag)
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
    """Check every target (history, target, server), then change those with work, in depends_on order.

    Without fleet targets the run stops at the first failure; with them each target's failure is
    collected and the others carry on, unless ``fail_fast``. Each target is changed under its lock.
    """
    if options.shard:
        dbs = [db for db in dbs if in_shard(db.name, *options.shard)]
    if options.atomic:
        from .atomic import refuse_non_transactional

        refuse_non_transactional(dbs)
    for db in dbs:  # every history loads (once) before any connection
        _check_target(db, load_history(project, db), target)
    check_hooks(project, dbs)  # a hook that cannot be imported fails here, before any database changes
    if options.atomic:
        with locked(dbs, options.lock_timeout):
            for db in dbs if action in ("upgrade", "expand") and not options.allow_edited else ():
                refuse_edited(db, load_history(project, db))
            before = {
                db.name: _preflight(
                    project, db, load_history(project, db), action, target, options.lock_timeout, options.purge
                )[0]
                for db in dbs
            }
            return _atomic(project, dbs, action, target, before, options.purge, options.tag)
    stop = options.fail_fast or not any(db.tenant for db in dbs)
    check_jobs = reading_jobs(dbs, options.jobs)
    checks, unchecked = run_jobs(
        _check_job,
        dbs,
        (
            project,
            action,
            target,
            options.lock_timeout,
            options.purge,
            options.forget_interrupted,
            options.allow_edited,
        ),
        check_jobs,
        stop_at_first_failure=stop,
        dependents_first=action == "downgrade",
    )
    failures = [o for o in checks if o.failed]
    checked = {o.name: o for o in checks}
    for db in unchecked:  # a dependency failed its check: these were never looked at
        checked[db.name] = Outcome(db.name, ((), 0))
    work = [db for db in dbs if not checked[db.name].failed and checked[db.name].value[1]]
    # the databases of the config (not fleet targets, which may be many) migrate on their checks' connection
    engines.close_shared(keep=[] if failures and stop else [db for db in work if not db.tenant])
    if failures and stop:
        raise TargetFailed(failures[0])  # nothing was changed yet
    try:
        applied, skipped = _apply_all(project, work, action, target, options, stop, options.jobs > 1 or not stop)
    finally:
        engines.close_shared()  # those a stop left unused
    results = _results(dbs, checked, {o.name: o for o in applied}, {db.name for db in [*skipped, *unchecked]})
    failed = [o for o in [*failures, *applied] if o.failed]
    if failed:
        raise RunFailed(TargetFailed(failed[0]), results)
    signum = interrupts.received()
    if signum:  # the signal came between revisions or databases: what ran is applied, the rest waits
        skipped_now = [r.name for r in results if r.result == "skipped"]
        if len(skipped_now) == len(work):
            raise RunFailed(Interrupted(signum, " before any database was changed"), results)
        left = f"; not started: {', '.join(skipped_now)}" if skipped_now else ""
        raise RunFailed(Interrupted(signum, f" between revisions; the revisions that ran stay applied{left}"), results)
    return results


def _atomic(
    project: Project,
    dbs: list[Database],
    action: str,
    target: str,
    before: dict[str, tuple[str, ...]],
    purge: bool,
    tag: str | None = None,
) -> list[RunResult]:
    """``--atomic``; a signal cancels the running statement (or stops the next one), and all is rolled back."""
    from .atomic import run_atomic

    rolled_back = "; every database was rolled back (--atomic)"
    try:
        with interrupts.migrating():
            results = run_atomic(project, dbs, action, target, before, purge, tag)
    except RunFailed as e:
        signum = interrupts.received()
        if signum:
            raise RunFailed(Interrupted(signum, rolled_back), e.results) from e
        raise
    except (interrupts.Stopped, interrupts.StatementStopped) as e:
        raise Interrupted(e.signum, rolled_back) from e
    signum = interrupts.received()
    if signum:
        raise RunFailed(Interrupted(signum, " after every database was committed"), results)
    return results


def _apply_all(
    project: Project, work: list[Database], action: str, target: str, options: RunOptions, stop: bool, parallel: bool
) -> tuple[list[Outcome], list[Database]]:
    reporter = options.reporter or Quiet()
    down = action == "downgrade"  # dependents first
    if not parallel:  # one database at a time, in this process: a progress bar per database
        return run_jobs(_apply_job, work, (project, action, target, options, reporter), 1, stop, dependents_first=down)
    # a fleet: one progress bar over the targets; workers report nothing themselves
    quiet = dataclasses.replace(options, reporter=None)
    reporter.start("targets", len(work))
    try:
        return run_jobs(
            _apply_job,
            work,
            (project, action, target, quiet, None),
            options.jobs,
            stop,
            on_done=lambda o: reporter.step("targets", o.name),
            dependents_first=down,
        )
    finally:
        reporter.finish("targets")


def _results(
    dbs: list[Database], checked: dict[str, Outcome], applied: dict[str, Outcome], skipped: set[str]
) -> list[RunResult]:
    results = []
    for db in dbs:
        check = checked[db.name]
        before = () if check.failed else check.value[0]
        if check.failed:
            results.append(RunResult(db.name, (), (), (), "failed", check.error))
        elif db.name in applied:
            outcome = applied[db.name]
            if outcome.failed:
                after, known = outcome.value or ((), False)  # (a worker that died returns nothing)
                results.append(RunResult(db.name, before, after, (), "failed", outcome.error, after_known=known))
            elif outcome.value is None:  # an interrupted run never started it
                results.append(RunResult(db.name, before, before, (), "skipped"))
            else:
                results.append(outcome.value)
        elif db.name in skipped:
            results.append(RunResult(db.name, before, before, (), "skipped"))
        else:
            results.append(RunResult(db.name, before, before, (), "no change"))
    return results


class Interrupted(MultiDBError):
    """SIGINT or SIGTERM stopped a command (exit 130 or 143)."""

    def __init__(self, signum: int, detail: str, database: str | None = None):
        from ..interrupts import exit_code, signal_name

        self.exit_code = exit_code(signum)
        where = f"{database}: " if database else ""
        super().__init__(f"{where}interrupted by {signal_name(signum)}{detail}")


class TargetFailed(MultiDBError):
    """A target's job failed (possibly in a worker process); carries its message and exit code."""

    def __init__(self, outcome: Outcome):
        self.exit_code = outcome.exit_code
        super().__init__(outcome.error)


def _check_job(
    db: Database,
    project: Project,
    action: str,
    target: str,
    lock_timeout: float | None,
    purge: bool = False,
    forget: bool = False,
    allow_edited: bool = False,
) -> Outcome:
    try:
        script = load_history(project, db)
        found = _preflight(project, db, script, action, target, lock_timeout, purge, forget)
        if found[1] and action in ("upgrade", "expand") and not allow_edited:
            refuse_edited(db, script)
        return Outcome(db.name, found)
    except MultiDBError as e:
        return Outcome(db.name, error=e.lines()[0], exit_code=e.exit_code)


def _apply_job(
    db: Database, project: Project, action: str, target: str, options: RunOptions, reporter: Reporter | None
) -> Outcome:
    with interrupts.in_worker():  # (--jobs N: a signal cancels the statement of the worker's target too)
        return _apply_one(db, project, action, target, options, reporter)


def _apply_one(
    db: Database, project: Project, action: str, target: str, options: RunOptions, reporter: Reporter | None
) -> Outcome:
    if interrupts.received():
        return Outcome(db.name)  # a signal stopped the run before this database: skipped
    journal = _RevisionJournal(db.version_table)
    recorder = unfinished.Recorder(db, action)  # MariaDB/MySQL: what the next run must know if this one dies
    started = False  # the lock is held and the revisions run
    try:
        # one connection for the lock and the migrations (a server lock is the session's)
        with (
            engines.connect(db) as conn,
            interrupts.cancellable(conn),
            migration_lock(db, lock_wait(db, options.lock_timeout), conn),
        ):
            unfinished.under_lock(project, db, conn, action, options.forget_interrupted)
            started = True
            try:
                with interrupts.migrating(), journal.on(conn), recorder.on(conn):
                    result = _apply_with_retries(
                        project, db, conn, action, target, reporter or Quiet(), options, journal
                    )
            except BaseException:
                recorder.stopped()  # (after migrating(): a pending signal no longer stops its statements)
                raise
            recorder.finished()
            if action == "stamp":  # the operator says where the schema stands: an earlier record is void
                unfinished.clear(db, conn)
            return Outcome(db.name, result)
    except MultiDBError as e:
        if interrupts.received():
            return _interrupted(project, db, action, target, journal if started else None, recorder.next_step())
        after, known = _now(db)
        return Outcome(db.name, (after, known), error=e.lines()[0] + recorder.next_step(), exit_code=e.exit_code)
    except (interrupts.Stopped, interrupts.StatementStopped):  # (the latter: a statement outside any revision file)
        return _interrupted(project, db, action, target, journal if started else None, recorder.next_step())
    finally:
        interrupts.taken()
        if reporter is not None:
            reporter.finish(db.name)


def _interrupted(
    project: Project, db: Database, action: str, target: str, journal: _RevisionJournal | None, next_step: str = ""
) -> Outcome:
    """One line naming the revision a signal stopped, and where the database stands now (read again).

    ``journal`` is None when the signal came before the revisions ran (waiting for the lock);
    ``next_step``: what the next run will require (MariaDB/MySQL, a revision left half-applied).
    """
    signum = interrupts.received() or 2
    after, known = _now(db)
    where = f"interrupted by {interrupts.signal_name(signum)}"
    revision = _next_revision(project, db, action, target, after) if known and journal else None
    if revision is not None:
        where += f" in revision {revision}"
    if journal is None:
        where += " while waiting for the migration lock"
        what = "nothing was changed"
    elif journal.non_transactional:
        what = journal.note()
    elif revision is not None:
        what = "it was rolled back; the revisions before it stay applied"
    else:
        what = "the revisions that had finished stay applied"
    now = f"the database is at {', '.join(after) or 'base'}" if known else "where it stands could not be read"
    error = f"{db.name}: {where}; {what}; {now}{next_step}"
    return Outcome(db.name, (after, known), error=error, exit_code=interrupts.exit_code(signum))


def _next_revision(project: Project, db: Database, action: str, target: str, heads: tuple[str, ...]) -> str | None:
    """The revision a run from ``heads`` towards ``target`` starts with: the one an interruption stopped."""
    try:
        script = load_history(project, db)
        with revision_errors(db):
            steps = step_fn(action)(script, target, heads)
    except MultiDBError:
        return None
    if not steps or getattr(steps[0], "revision", None) is None:
        return None
    revision = steps[0].revision
    return f"{revision.revision} ({relative(revision.path)})"


class _RevisionJournal(StatementJournal):
    """The statements of the revision in progress that ran, on a dialect whose DDL cannot be rolled
    back: a write to the version table ends a revision. It outlives failed attempts, unlike the run's own."""

    def __init__(self, version_table: str):
        super().__init__(None, version_table)
        self.non_transactional = False

    @contextmanager
    def on(self, conn: Any) -> Iterator[None]:
        self.non_transactional = conn.dialect.name in NON_TRANSACTIONAL_DDL
        if not self.non_transactional:
            yield
            return
        self.connection = conn
        with self:
            yield

    def __enter__(self) -> _RevisionJournal:
        from sqlalchemy import event

        event.listen(self.connection, "after_cursor_execute", self.record)  # statements that did run
        return self

    def __exit__(self, *_exc: object) -> None:
        from sqlalchemy import event

        event.remove(self.connection, "after_cursor_execute", self.record)

    def record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        lowered = statement.lstrip().lower()
        if self.version_table in lowered and not lowered.startswith("select"):
            self.statements.clear()
        else:
            super().record(conn, cursor, statement, *args)


def _preflight(
    project: Project,
    db: Database,
    script: Any,
    action: str,
    target: str,
    lock_timeout: float | None,
    purge: bool = False,
    forget: bool = False,
) -> tuple[tuple[str, ...], int]:
    """Where the database stands and how much work it needs (steps, or a record of an interrupted
    revision to clear); raises if it is unreachable, the target does not apply to it, or an earlier
    run left a revision half-applied (MariaDB/MySQL). A SQLite file being migrated is read after that
    run (see reading_lock).

    ``stamp --purge`` empties the version table first, so it may hold revisions no folder has (a
    database "ahead of code"): the steps are counted from an empty table, as Alembic then runs them."""
    from ..interrupts import Stopped

    try:
        with reading_lock(db, lock_wait(db, lock_timeout)):
            heads = current_heads(db)
            if not purge:
                check_known(db, script, heads)
            to_clear = unfinished.before_run(db, script, action, heads, forget)
            if action in ("upgrade", "expand") and not heads:
                _refuse_unversioned_tables(project, db)
                baseline.check(project, db)  # its models import, its SQL file for this dialect exists
    except Stopped as e:  # waiting for another runner of a SQLite file: nothing of ours has run
        raise Interrupted(e.signum, " while waiting for the migration lock; nothing was changed", db.name) from e
    with revision_errors(db):
        steps = step_fn(action)(script, target, () if purge else heads)
    # --purge to base: emptying the table is the work; a record of an interrupted revision to clear is too
    return heads, len(steps) or int(purge and bool(heads)) or int(to_clear)


def _check_target(db: Database, script: Any, target: str) -> None:
    """Targets that do not depend on where the database stands are checked before any lock is taken."""
    if not target.strip() or not all(part.strip() for part in target.split(",")):
        raise UsageError(f"{db.name}: an empty revision target; try heads, base, +1 or a revision id")
    relative = target in ("base", "heads", "head") or any(c in target for c in "+-@")
    if not relative:
        from ..squashed import squashed_away

        gone = squashed_away(script, [part.strip() for part in target.split(",")])
        if gone:  # a revision a baseline replaced (multidb squash): say so, not just "unknown"
            revision, baseline = gone[0]
            where = f"it was squashed into the baseline {baseline}, where the history starts now"
            raise RevisionNotFound(db.name, f"unknown revision '{revision}': {where}")
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


def _now(db: Database) -> tuple[tuple[str, ...], bool]:
    """Where ``db`` stands after a failure, read on a connection of its own (the run's may be gone),
    and whether it could be read at all."""
    try:
        with engines.connect(db) as conn:
            return read_heads(db, conn), True
    except MultiDBError:
        return (), False


def _apply_with_retries(
    project: Project,
    db: Database,
    conn: Any,
    action: str,
    target: str,
    reporter: Reporter,
    options: RunOptions,
    journal: _RevisionJournal,
) -> RunResult:
    """Run, retrying a revision that gave up waiting for a table lock (``lock_timeout``).

    A revision whose statements before the timeout could not be rolled back (MariaDB/MySQL DDL) is
    never retried: it would run them again, and fail with another error that hides the timeout.
    """
    attempt = 0
    while True:
        try:
            return _apply(project, db, conn, action, target, reporter, options)
        except MigrationError as e:
            if attempt >= db.lock_retries or not is_lock_timeout(e.__cause__) or journal.statements:
                raise
            attempt += 1
            time.sleep(min(30.0, 0.5 * 2**attempt))


def is_lock_timeout(exc: BaseException | None) -> bool:
    """A statement that gave up waiting for a lock: PostgreSQL 55P03, MariaDB/MySQL 1205."""
    orig = getattr(exc, "orig", None)
    if engines.sqlstate(orig) == "55P03":
        return True
    args = getattr(orig, "args", ())
    return bool(args) and args[0] == 1205


def _apply(
    project: Project, db: Database, conn: Any, action: str, target: str, reporter: Reporter, options: RunOptions
) -> RunResult:
    if conn.in_transaction():
        conn.rollback()  # a failed attempt's leftovers
    purged = read_heads(db, conn) if options.purge else None  # Alembic's steps start from an empty table
    result = execute(project, db, conn, action, target, reporter=reporter, purge=options.purge, tag=options.tag)
    conn.rollback()  # end the read of the new heads
    if purged:
        result = dataclasses.replace(result, before=purged, result="stamped")
    return result

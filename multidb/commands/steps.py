"""Running one command's revisions on one open connection: shared by plain and ``--atomic`` runs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Protocol

from ..config import Database, Project
from ..phases import expand_only
from ..results import RunResult
from ..runner import load_history, revision_errors, run


class Reporter(Protocol):
    """Told about progress; the CLI shows a progress bar with it."""

    def start(self, database: str, total: int) -> None: ...
    def step(self, database: str, revision: str) -> None: ...
    def finish(self, database: str) -> None: ...


class Quiet:
    """A reporter that shows nothing."""

    def start(self, database: str, total: int) -> None:
        pass

    def step(self, database: str, revision: str) -> None:
        pass

    def finish(self, database: str) -> None:
        pass


DONE = {"upgrade": "upgraded", "expand": "upgraded", "downgrade": "downgraded", "stamp": "stamped"}


def step_fn(action: str) -> Callable[[Any, str, Any], list]:
    """Alembic's own way of computing the steps of each command (what alembic.command uses)."""
    if action == "upgrade":
        return lambda script, target, heads: script._upgrade_revs(target, heads)
    if action == "expand":  # upgrade --phase expand: contract steps wait for the next release
        return lambda script, target, heads: expand_only(script._upgrade_revs(target, heads))
    if action == "downgrade":
        return lambda script, target, heads: script._downgrade_revs(target, heads)
    return lambda script, target, heads: script._stamp_revs(tuple(target.split(",")), heads)


def execute(
    project: Project,
    db: Database,
    conn: Any,
    action: str,
    target: str,
    reporter: Reporter | None = None,
    purge: bool = False,
) -> RunResult:
    """Run ``action`` towards ``target`` on ``conn``; the steps are computed from the heads read now."""
    reporter = reporter or Quiet()
    script = load_history(project, db)
    applied: list[str] = []
    before: list[tuple[str, ...]] = []

    def steps(heads: Any, _context: Any) -> list:
        before.append(tuple(heads or ()))
        with revision_errors(db):
            found = step_fn(action)(script, target, heads)
        reporter.start(db.name, len(found))
        return found

    def on_apply(*, step: Any, **_: Any) -> None:
        data = sys.modules.get("multidb.data")  # loaded only by revisions that use it
        if data is not None:
            data.forget_finished(conn)
        revision = step.up_revision_id if action != "stamp" else ",".join(step.up_revision_ids)
        applied.append(revision or "base")
        reporter.step(db.name, revision or "base")

    context = run(
        project,
        db,
        steps,
        connection=conn,
        destination_rev=target,
        env_args={"purge": purge} if action == "stamp" else None,
        configure_args={"on_version_apply": on_apply},
    )
    after = context.get_current_heads()
    seen = before[0] if before else ()
    return RunResult(db.name, seen, after, tuple(applied), DONE[action] if applied else "no change")

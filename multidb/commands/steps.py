"""Running one command's revisions on one open connection: shared by plain and ``--atomic`` runs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Protocol

from .. import alembic_private, baseline
from ..config import Database, Project
from ..irreversible import refuse_crossing
from ..phases import expand_only
from ..results import RunResult
from ..runner import BadTarget, check_target, load_history, revision_errors, run


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

    def steps(script: Any, target: str, heads: Any) -> list:
        check_target(target)
        if action == "downgrade":
            _one_head_to_step_down(script, target, heads)
        try:
            found = _steps(action, script, target, heads)
        except Exception as e:  # Alembic's RevisionError / CommandError
            if "didn't produce" not in str(e):
                raise
            raise BadTarget(_too_far(action, script, target, heads)) from e
        if action == "downgrade":
            refuse_crossing(found)
        return found

    return steps


def _steps(action: str, script: Any, target: str, heads: Any) -> list:
    if action == "upgrade":
        return alembic_private.upgrade_steps(script, target, heads)
    if action == "expand":  # upgrade --phase expand: contract steps wait for the next release
        return expand_only(alembic_private.upgrade_steps(script, target, heads), script)
    if action == "downgrade":
        return alembic_private.downgrade_steps(script, target, heads)
    return alembic_private.stamp_steps(script, tuple(target.split(",")), heads)


def _one_head_to_step_down(script: Any, target: str, heads: Any) -> None:
    """``-N`` from several heads: Alembic warns and steps down whichever head it picks; refuse instead."""
    heads = tuple(sorted(heads or ()))
    if len(heads) > 1 and target.strip().startswith("-"):
        step = target.strip()
        raise BadTarget(
            f"the database has {len(heads)} heads ({', '.join(heads)}); '{step}' would pick one of them: "
            f"name the branch, e.g. --to {heads[0]}@{step} or --to LABEL@{step}"
        )


def _too_far(action: str, script: Any, target: str, heads: Any) -> str:
    """Alembic's 'Relative revision +3 didn't produce 3 migrations', with how far the database can go."""
    if action == "downgrade":
        left = len(alembic_private.downgrade_steps(script, "base", heads))
        if not left:
            return f"'{target}': the database is at base already; nothing to downgrade"
        return f"'{target}' goes past base: {left} revision(s) can be downgraded (--to -{left} or --to base)"
    left = len(alembic_private.upgrade_steps(script, "heads", heads))
    if not left:
        return f"'{target}': the database is at head already; nothing to upgrade"
    return f"'{target}' goes past head: {left} revision(s) are pending (--to +{left} or --to heads)"


def execute(
    project: Project,
    db: Database,
    conn: Any,
    action: str,
    target: str,
    reporter: Reporter | None = None,
    purge: bool = False,
    tag: str | None = None,
) -> RunResult:
    """Run ``action`` towards ``target`` on ``conn``; the steps are computed from the heads read now.

    ``tag``: Alembic's tag argument (``--tag``), read in a revision with ``context.get_tag_argument()``.
    """
    reporter = reporter or Quiet()
    script = load_history(project, db)
    applied: list[str] = []
    before: list[tuple[str, ...]] = []

    def steps(heads: Any, _context: Any) -> list:
        before.append(tuple(heads or ()))
        with revision_errors(db):
            found = step_fn(action)(script, target, heads)
        if action in ("upgrade", "expand") and found:  # in the transaction of the first revision
            baseline.before_steps(project, db, _context, found)
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
        env_args={"tag": tag, **({"purge": purge} if action == "stamp" else {})},
        configure_args={"on_version_apply": on_apply},
        action="upgrade" if action == "expand" else action,
    )
    after = context.get_current_heads()
    seen = before[0] if before else ()
    return RunResult(db.name, seen, after, tuple(applied), DONE[action] if applied else "no change")

"""Running one job per target: in order, or in worker processes, level by level of ``depends_on``.

Alembic's ``context``/``op`` proxies are module globals, so targets run in parallel only in separate
processes, never threads. Workers are forked after the histories are loaded, so they share the
parsed revision files instead of reading them again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import Database

if TYPE_CHECKING:
    from concurrent.futures import Future


@dataclass(frozen=True)
class Outcome:
    """What a job returned, or the error it raised, in a form that crosses process boundaries."""

    name: str
    value: Any = None
    error: str | None = None
    exit_code: int = 0

    @property
    def failed(self) -> bool:
        return self.error is not None


def levels(targets: list[Database], dependents_first: bool = False) -> list[list[Database]]:
    """Targets grouped so every entry comes in a later group than the entries it depends on
    (``dependents_first``, for downgrade: in an earlier group)."""
    entries = {t.entry for t in targets}
    depth: dict[str, int] = {}
    by_entry = {t.entry: t for t in targets}

    def level(entry: str) -> int:
        if entry not in depth:
            deps = [d for d in by_entry[entry].depends_on if d in entries]
            depth[entry] = 1 + max((level(d) for d in deps), default=-1)
        return depth[entry]

    grouped: dict[int, list[Database]] = {}
    for t in targets:
        grouped.setdefault(level(t.entry), []).append(t)
    return [grouped[k] for k in sorted(grouped, reverse=dependents_first)]


def reading_jobs(targets: list[Database], jobs: int) -> int:
    """How many processes the checks of ``targets`` deserve: reads that share one connection (a
    fleet of schemas, or SQLite files) take a millisecond or two each, less than handing them to a
    worker process costs, so they stay in this process; one server connection per target is worth
    spreading over ``jobs`` workers."""
    servers = {t.url for t in targets if t.dialect != "sqlite"}
    return jobs if len(servers) > 1 else 1


def run_jobs(
    job: Callable[..., Outcome],
    targets: list[Database],
    args: tuple,
    jobs: int,
    stop_at_first_failure: bool,
    on_done: Callable[[Outcome], None] | None = None,
    dependents_first: bool = False,
) -> tuple[list[Outcome], list[Database]]:
    """Run ``job(target, *args)`` for every target, dependencies first (``dependents_first``: last);
    returns the outcomes and the targets never started."""
    outcomes: list[Outcome] = []
    skipped: list[Database] = []
    groups = levels(targets, dependents_first)
    for i, group in enumerate(groups):
        done, not_started = _run_group(job, group, args, jobs, stop_at_first_failure, on_done)
        outcomes += done
        skipped += not_started
        if any(o.failed for o in done):
            skipped += [t for later in groups[i + 1 :] for t in later]  # their dependencies failed
            break
    order = {t.name: n for n, t in enumerate(targets)}
    return sorted(outcomes, key=lambda o: order[o.name]), skipped


def _run_group(
    job: Callable[..., Outcome],
    group: list[Database],
    args: tuple,
    jobs: int,
    stop: bool,
    on_done: Callable[[Outcome], None] | None,
) -> tuple[list[Outcome], list[Database]]:
    if jobs <= 1 or len(group) <= 1:
        return _in_order(job, group, args, stop, on_done)
    return _in_processes(job, group, args, jobs, stop, on_done)


def _in_order(job, group, args, stop, on_done) -> tuple[list[Outcome], list[Database]]:
    outcomes = []
    for i, target in enumerate(group):
        outcome = job(target, *args)
        outcomes.append(outcome)
        if on_done:
            on_done(outcome)
        if outcome.failed and stop:
            return outcomes, group[i + 1 :]
    return outcomes, []


def _in_processes(job, group, args, jobs, stop, on_done) -> tuple[list[Outcome], list[Database]]:
    import multiprocessing  # only --jobs N needs processes (and these imports)
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from .. import engines

    engines.close_shared()  # a forked worker must not share a socket with us
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    outcomes: list[Outcome] = []
    pending: dict[Future, Database] = {}
    queue = list(group)
    with ProcessPoolExecutor(max_workers=min(jobs, len(group)), mp_context=context) as pool:
        # keep at most `jobs` submitted, so a stop leaves the rest unstarted
        while queue or pending:
            while queue and len(pending) < jobs:
                target = queue.pop(0)
                pending[pool.submit(job, target, *args)] = target
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                target = pending.pop(future)
                outcome = _result(future, target)
                outcomes.append(outcome)
                if on_done:
                    on_done(outcome)
            if stop and any(o.failed for o in outcomes):
                for future in pending:
                    outcomes.append(_result(future, pending[future]))
                return outcomes, queue
    return outcomes, []


def _result(future: Future, target: Database) -> Outcome:
    try:
        return future.result()
    except Exception as e:  # a worker that died (killed, out of memory) is a failure of its target
        return Outcome(target.name, error=f"{target.name}: worker failed: {type(e).__name__}: {e}", exit_code=1)


def names(items: Iterable[Database]) -> list[str]:
    return [t.name for t in items]

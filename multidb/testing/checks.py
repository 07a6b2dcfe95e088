"""The migration checks, as plain functions a test can call.

Every check that runs migrations takes a :class:`~multidb.config.Project` whose database ``name``
points at an **empty, throwaway** database (see :func:`multidb.testing.dialects.retarget` and
:class:`multidb.testing.dialects.Servers`); it changes that database freely. A failed check raises
:class:`MigrationCheckFailed`, an ``AssertionError`` whose message names the database, the
revision and what differs. ``on`` names the dialect in messages (default: the URL's dialect).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .. import engines, irreversible
from ..config import Database, Project
from ..errors import DriftDetected, MultiDBError
from ..runner import current_heads, load_history
from . import history, parity
from .data import MigrationData, Step

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory


class MigrationCheckFailed(AssertionError):
    """A migration check found a problem. ``differences`` holds one line per difference, if any."""

    __module__ = "multidb.testing"

    def __init__(
        self,
        database: str,
        message: str,
        differences: list[str] | tuple[str, ...] = (),
        revision: str | None = None,
    ):
        self.database = database
        self.revision = revision
        self.differences = tuple(differences)
        lines = [f"{database}: {message}"] + [f"  - {line}" for line in self.differences]
        super().__init__("\n".join(lines))


# --- history only ---------------------------------------------------------------------------


def check_single_head(project: Project, name: str, base: str | None = None) -> None:
    """Each labelled base of ``name`` (or only ``base``) has at most one head: no unmerged branches.

    Several bases in one database are fine; two heads inside one base are not.
    """
    __tracebackhide__ = True
    db = project.databases[name]
    script = load_history(project, db)
    per_base, homeless = history.heads_per_base(db, script)
    problems = []
    for found in per_base:
        if base is not None and found.label != base:
            continue
        if len(found.heads) > 1:
            problems += _unmerged(db, script, found)
    if base is None or base == db.bases[0].label:
        for head in homeless:
            problems.append(f"head {history.describe(head)} belongs to no configured base")
    if problems:
        where = f"base '{base}'" if base else "the history"
        raise MigrationCheckFailed(name, f"{where} has unmerged heads:", problems)


def _unmerged(db: Database, script: ScriptDirectory, found: history.BaseHeads) -> list[str]:
    ids = " ".join(h.revision for h in found.heads)
    lines = [f"base '{found.label}' has {len(found.heads)} heads; merge them: multidb merge {db.name} {ids} -m 'merge'"]
    for head in found.heads:
        note = ""
        if found.label not in head.branch_labels:
            root = history.root_of(script, head)
            note = f" (its history starts at {root.revision}, which lacks the branch label '{found.label}')"
        lines.append(f"head {history.describe(head)}{note}")
    return lines


def check_offline(project: Project, name: str, url: str, on: str | None = None) -> str:
    """The SQL of the whole history (base to heads) renders for ``url``'s dialect; returns it.

    ``url`` only needs to name the dialect (``postgresql://``); nothing connects.
    """
    __tracebackhide__ = True
    from ..commands.offline import render
    from .dialects import retarget

    copy = retarget(project, name, url)
    on = on or copy.databases[name].dialect
    try:
        return render(copy, copy.databases[name], "upgrade", None, "heads")
    except MultiDBError as e:
        rev = _failed_revision(load_history(project, copy.databases[name]), e)
        at = f" at revision {rev}" if rev else ""
        raise MigrationCheckFailed(
            name, f"the offline (--sql) upgrade does not render for {on}{at}: {_reason(e, name)}", revision=rev
        ) from None


def check_lint(project: Project, name: str, url: str, on: str | None = None) -> list[str]:
    """No error-level finding of ``multidb lint`` for ``url``'s dialect in the revisions after the
    database's ``lint_since`` (every revision without it); returns the warnings, one line each.

    ``url`` only needs to name the dialect; nothing connects.
    """
    __tracebackhide__ = True
    from ..lint import lint_database, select_revisions
    from .dialects import retarget

    copy = retarget(project, name, url)
    db = copy.databases[name]
    on = on or db.dialect
    revisions = select_revisions(load_history(copy, db), None, db.lint_since, db.lint_since is None)
    found = lint_database(copy, db, revisions, db.lint_allow).findings
    errors = [f for f in found if f.severity == "error"]
    if errors:
        lines = [
            f"{f.rule} in revision {f.revision} ({f.path}, line {f.line}): {f.message}; fix: {f.fix}" for f in errors
        ]
        raise MigrationCheckFailed(
            name, f"lint found {len(errors)} error(s) on {on}:", lines, revision=errors[0].revision
        )
    return [f"{f.rule} in revision {f.revision} ({f.path}, line {f.line}): {f.message}" for f in found]


# --- one database, changed freely ------------------------------------------------------------


def check_upgrade(project: Project, name: str, on: str | None = None) -> tuple[str, ...]:
    """An empty database upgrades to heads in one run; returns the heads it reached."""
    __tracebackhide__ = True
    db, script, on, _hide = _setup(project, name, on, from_baseline=False)  # upgrade creates the baseline itself
    try:
        _migrate(project, name, "upgrade", "heads")
    except MultiDBError as e:
        rev = _failed_revision(script, e)
        at = f" at revision {_describe(project, script, rev)}" if rev else ""
        raise MigrationCheckFailed(
            name, f"upgrade from empty to heads fails on {on}{at}: {_reason(e, name)}", revision=rev
        ) from None
    reached = current_heads(db)
    expected = tuple(script.get_heads())
    if set(reached) != set(expected):
        raise MigrationCheckFailed(
            name, f"upgrade to heads on {on} stopped at {', '.join(reached) or 'base'}, not {', '.join(expected)}"
        )
    return reached


def check_stairway(project: Project, name: str, on: str | None = None, notes: list[str] | None = None) -> int:
    """For each revision in upgrade order: upgrade it, downgrade it, upgrade it again.

    After the downgrade, the schema must equal the schema before the upgrade (compared exactly),
    so a downgrade that forgets something fails here, naming the revision and what is left.
    Works across several bases and merge points. An irreversible revision (its ``downgrade()``
    raises :class:`multidb.Irreversible`) is upgraded and not downgraded, and the revisions after it
    are tested from it; a line saying so is added to ``notes``. Returns the number of revisions walked.
    """
    __tracebackhide__ = True
    db, script, on, hide = _setup(project, name, on)
    order = history.upgrade_order(script)
    sides = parity.Sides("before the upgrade", "after the downgrade")
    before, heads_before = _state(db, hide)
    for rev in order:
        label = _describe(project, script, rev.revision)
        _step(project, name, "upgrade", rev.revision, f"upgrade to revision {label} fails on {on}", rev)
        why = irreversible.reason(rev)
        if why is not None:
            _note(
                notes,
                name,
                f"revision {label} is irreversible ({why}): upgraded, not downgraded; "
                "the revisions after it were tested from it",
            )
            before, heads_before = _state(db, hide)
            continue
        target = history.step_down_target(rev)
        _step(project, name, "downgrade", target, f"the downgrade of revision {label} fails on {on}", rev)
        after, heads_after = _state(db, hide)
        if _restore(project, name, heads_before, heads_after, rev):
            after, heads_after = _state(db, hide)
        diffs = parity.compare(before, after, sides, exact=True)
        if diffs:
            raise MigrationCheckFailed(
                name, f"the downgrade of revision {label} does not undo its upgrade on {on}:", diffs, rev.revision
            )
        again = f"revision {label} cannot be upgraded again after its downgrade on {on}"
        _step(project, name, "upgrade", rev.revision, again, rev)
        before, heads_before = _state(db, hide)
    return len(order)


def _note(notes: list[str] | None, name: str, line: str) -> None:
    if notes is not None:
        notes.append(f"{name}: {line}")


def check_clean_downgrade(project: Project, name: str, on: str | None = None, notes: list[str] | None = None) -> None:
    """Upgrade to heads, downgrade to base: nothing remains but the (empty) version table.

    A leftover table is attributed to the revision whose file creates it, when exactly one does.
    With irreversible revisions (walls), the history below them is upgraded and downgraded to base,
    then everything above them is downgraded, one revision at a time, back to the walls, whose
    schema must be what it was; a line saying so is added to ``notes``.
    """
    __tracebackhide__ = True
    db, script, on, hide = _setup(project, name, on)
    start = _state(db, hide)[0].tables  # the baseline's tables, which downgrade base leaves
    order = history.upgrade_order(script)
    walls = irreversible.walls(order)
    if walls:
        _clean_to_walls(project, name, script, order, walls, on, hide, start)
        shown = ", ".join(_describe(project, script, w.revision) for w in walls)
        _note(
            notes,
            name,
            f"irreversible revision(s) {shown}: the clean downgrade went from below them to base, "
            "and from heads down to them",
        )
        return
    _step(project, name, "upgrade", "heads", f"upgrade from empty to heads fails on {on}", None)
    _step(project, name, "downgrade", "base", f"downgrade from heads to base fails on {on}", None)
    _assert_clean(db, script, name, f"after downgrading from heads to base on {on}, these remain:", hide, start)


def _assert_clean(
    db: Database, script: ScriptDirectory, name: str, message: str, hide: Neighbours, start: Iterable[str] = ()
) -> None:
    """Nothing but the empty version table is left, apart from ``start`` (a baseline's tables)."""
    __tracebackhide__ = True
    snap, stamped = _state(db, hide)
    left = [f"table {t}{_created_by(script, t)}" for t in snap.tables if t not in start]
    left += [f"enum type {e}" for e in _enums(db) if e not in hide.enums]
    if stamped:
        left.append(f"the version table still records {', '.join(stamped)}")
    if left:
        raise MigrationCheckFailed(name, message, left)


def _clean_to_walls(
    project: Project,
    name: str,
    script: ScriptDirectory,
    order: list[Script],
    walls: list[Script],
    on: str,
    hide: Neighbours,
    start: Iterable[str] = (),
) -> None:
    """The clean downgrade of a history with irreversible revisions: below them, then above them."""
    __tracebackhide__ = True
    db = project.databases[name]
    kept = _with_ancestors(script, walls)  # what no downgrade may remove
    below = [p for w in walls for p in history.parents(w) if p not in {x.revision for x in walls}]
    if below:
        for parent in below:
            _step(project, name, "upgrade", parent, f"upgrade from empty to {parent} fails on {on}", None)
        below_walls = f"from below the irreversible revisions to base on {on}"
        _step(project, name, "downgrade", "base", f"the downgrade {below_walls} fails", None)
        _assert_clean(db, script, name, f"after downgrading {below_walls}, these remain:", hide, start)
    for wall in walls:
        _step(project, name, "upgrade", wall.revision, f"upgrade to revision {wall.revision} fails on {on}", None)
    at_walls, heads_at_walls = _state(db, hide)
    _step(project, name, "upgrade", "heads", f"upgrade from the irreversible revisions to heads fails on {on}", None)
    for rev in reversed(order):  # each is a head when its turn comes: its descendants are gone, none is kept
        if rev.revision in kept:
            continue
        label = _describe(project, script, rev.revision)
        target = history.step_down_target(rev)
        _step(project, name, "downgrade", target, f"the downgrade of revision {label} fails on {on}", rev)
    after, stamped = _state(db, hide)
    sides = parity.Sides("at the irreversible revisions", "after downgrading back to them")
    diffs = parity.compare(at_walls, after, sides, exact=True)
    if set(stamped) != set(heads_at_walls):
        diffs.append(
            f"the version table records {', '.join(sorted(stamped)) or 'nothing'}, "
            f"not {', '.join(sorted(heads_at_walls))}"
        )
    if diffs:
        raise MigrationCheckFailed(
            name, f"downgrading from heads back to the irreversible revisions on {on} leaves a different schema:", diffs
        )


def _with_ancestors(script: ScriptDirectory, revs: list[Script]) -> set[str]:
    from ..phases import requires

    found: set[str] = set()
    todo = [r.revision for r in revs]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(requires(script, script.get_revision(current)))
    return found


def _created_by(script: ScriptDirectory, table: str) -> str:
    import re

    quoted = re.escape(table)
    pattern = re.compile(rf"""create_table\(\s*["']{quoted}["']|create\s+table\s+["`]?{quoted}\b""", re.I)
    found = [r.revision for r in script.walk_revisions() if pattern.search(_source(r.path))]
    return f" (created by revision {found[0]})" if len(found) == 1 else ""


def _source(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return ""


def check_drift(project: Project, name: str, on: str | None = None) -> None:
    """At heads, Alembic's autogenerate comparison of the database with the models is empty."""
    __tracebackhide__ = True
    from ..commands import check

    db, script, on, _hide = _setup(project, name, on)
    _step(project, name, "upgrade", "heads", f"upgrade from empty to heads fails on {on}", None)
    try:
        check(project, (name,))
    except DriftDetected as e:
        heads = ", ".join(script.get_heads())
        raise MigrationCheckFailed(
            name,
            f"the models ({db.metadata}) differ from the migrations at heads ({heads}) on {on}; "
            f"write the missing revision (multidb revision {name} -m '...' --autogenerate):",
            e.diffs.get(name, []),
        ) from None
    except MultiDBError as e:
        raise MigrationCheckFailed(name, f"cannot compare the models on {on}: {_reason(e, name)}") from None


def check_data(
    project: Project, name: str, data: MigrationData, on: str | None = None, obsolete: list[str] | None = None
) -> int:
    """Run the rows and checks ``data`` registers for ``name`` at their revisions; returns how many ran.

    For each revision with registered steps, in upgrade order: upgrade to its parents, run its
    ``before`` steps (committed), upgrade to it, run its ``after`` checks. Steps registered on a
    revision a baseline replaced (``multidb squash``; the baseline's own id included) do not run: a
    line per such revision is added to ``obsolete``. Their seed rows (rows given to ``before``, not a
    function) are still inserted, right after the baseline, so later checks keep the rows they count on.
    """
    __tracebackhide__ = True
    db, script, on, _hide = _setup(project, name, on)
    steps, gone = _squashed_steps(name, script, data.for_database(name))
    if obsolete is not None:
        obsolete.extend(gone)
    by_revision: dict[str, list[Step]] = {}
    for step in steps:
        by_revision.setdefault(_resolve(name, script, step), []).append(step)
    for rev in history.upgrade_order(script):
        if rev.revision not in by_revision:
            continue
        label = _describe(project, script, rev.revision)
        for parent in history.parents(rev):
            _step(project, name, "upgrade", parent, f"upgrade to revision {parent} fails on {on}", None)
        for step in (s for s in by_revision[rev.revision] if s.when == "before"):
            _run_data(db, step, commit=True, where=f"seeding '{step.name}' before revision {label} on {on} fails")
        _step(project, name, "upgrade", rev.revision, f"upgrade to revision {label} fails on {on}", rev)
        for step in (s for s in by_revision[rev.revision] if s.when == "seed"):
            where = f"seeding '{step.name}' (carried from a squashed revision) after baseline {label} on {on} fails"
            _run_data(db, step, commit=True, where=where)
        for step in (s for s in by_revision[rev.revision] if s.when == "after"):
            _run_data(db, step, commit=False, where=f"after revision {label} on {on}, check '{step.name}' fails")
    return len(steps)


def _squashed_steps(name: str, script: ScriptDirectory, steps: list[Step]) -> tuple[list[Step], list[str]]:
    """The steps to run, and a line for each revision whose steps a baseline made obsolete."""
    from ..squashed import records

    replaced_by = records(script)
    kept = [s for s in steps if s.revision not in replaced_by]
    # seed rows of a replaced revision: inserted once the baseline has made the tables, in registration order
    kept += [
        replace(s, revision=replaced_by[s.revision], when="seed")
        for s in steps
        if s.revision in replaced_by and s.when == "before" and s.seeds
    ]
    whens: dict[str, list[str]] = {}
    for step in steps:
        if step.revision in replaced_by and step.when not in whens.setdefault(step.revision, []):
            whens[step.revision].append(step.when)
    lines = []
    for revision, found in whens.items():
        baseline = replaced_by[revision]
        into = "a baseline" if baseline == revision else f"the baseline {baseline}"
        when = "/".join(w for w in ("before", "after") if w in found)
        carried = any(s.revision == revision and s.when == "before" and s.seeds for s in steps)
        seeds = f"; its seed rows are inserted after {baseline} for the later checks" if carried else ""
        lines.append(f"data check {name} {revision} ({when}) is obsolete: {revision} was squashed into {into}{seeds}")
    return kept, lines


def _resolve(name: str, script: ScriptDirectory, step: Step) -> str:
    from alembic.util import CommandError

    where = f"data '{step.name}' is registered for revision '{step.revision}'"
    try:
        rev = script.get_revision(step.revision)
    except CommandError as e:
        raise MigrationCheckFailed(name, f"{where}: {e}") from None
    if rev is None:
        raise MigrationCheckFailed(name, f"{where}: no such revision")
    return rev.revision


def _run_data(db: Database, step: Step, commit: bool, where: str) -> None:
    __tracebackhide__ = True
    from ..environment import search_path

    with engines.connect(db) as conn:
        trans = conn.begin()
        path = search_path(db, conn.dialect)
        if path:  # a fleet's schema target: the rows go to its schema, as its revisions' tables do
            conn.exec_driver_sql(path)
        try:
            step.action(conn)
        except AssertionError as e:
            trans.rollback()
            raise MigrationCheckFailed(db.name, f"{where}:\n{e}", revision=step.revision) from None
        except Exception as e:
            trans.rollback()
            reason = f"{where}: {type(e).__name__}: {_first(e)}"
            raise MigrationCheckFailed(db.name, reason, revision=step.revision) from None
        if commit:
            trans.commit()
        else:
            trans.rollback()


# --- two dialects ------------------------------------------------------------------------------


def check_parity(
    left: Project, right: Project, name: str, left_on: str | None = None, right_on: str | None = None
) -> None:
    """Upgrade database ``name`` of ``left`` and of ``right`` (two dialects) to heads; their reflected
    schemas must match, types compared by affinity.

    When they differ, both are downgraded to base and upgraded again one revision at a time, so
    each difference names the revision that introduced it (if the downgrades work). A revision that
    fails on one dialect only fails here too, naming both dialects.
    """
    __tracebackhide__ = True
    _, script, left_on, left_hide = _setup(left, name, left_on)
    _, _, right_on, right_hide = _setup(right, name, right_on)
    sides = parity.Sides(f"on {left_on}", f"on {right_on}")
    hides = (left_hide, right_hide)
    found = _parity_walk(left, right, name, script, sides, ["heads"], (left_on, right_on), hides)
    if not found:
        return
    try:
        for project in (left, right):
            _migrate(project, name, "downgrade", "base")
    except MultiDBError:
        lines = list(found)  # cannot replay: report the differences without their revisions
    else:
        order = [r.revision for r in history.upgrade_order(script)]
        by_revision = _parity_walk(left, right, name, script, sides, order, (left_on, right_on), hides)
        lines = [f"{d} (since revision {r})" for d, r in by_revision.items()]
    raise MigrationCheckFailed(
        name, f"the schema at heads differs between {left_on} and {right_on}:", lines, found[next(iter(found))]
    )


def _parity_walk(
    left: Project,
    right: Project,
    name: str,
    script: ScriptDirectory,
    sides: parity.Sides,
    targets: list[str],
    on: tuple[str, str],
    hides: tuple[Neighbours, Neighbours],
) -> dict[str, str]:
    """Upgrade both to each target in turn; the differences left at the end, with the target that made each."""
    introduced: dict[str, str] = {}
    for target in targets:
        label = _describe(left, script, target) if target != "heads" else "heads"
        rev = script.get_revision(target) if target != "heads" else None
        _step(left, name, "upgrade", target, f"upgrade to {label} fails on {on[0]}", rev)
        _step(right, name, "upgrade", target, f"upgrade to {label} fails on {on[1]}", rev, f" (it runs on {on[0]})")
        left_state = _state(left.databases[name], hides[0], left)
        right_state = _state(right.databases[name], hides[1], right)
        diffs = parity.compare(left_state[0], right_state[0], sides, exact=False)
        introduced = {d: introduced.get(d, target) for d in diffs}
    return introduced


# --- helpers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Neighbours:
    """What the databases ``name`` depends on, sharing its database, made there before its checks ran:
    left out of every snapshot and leftover list of ``name``'s checks."""

    tables: frozenset[str] = frozenset()
    enums: frozenset[str] = frozenset()


def _setup(
    project: Project, name: str, on: str | None, from_baseline: bool = True
) -> tuple[Database, ScriptDirectory, str, Neighbours]:
    """The database, its history, its name in messages and its neighbours; raises unless the database is empty.

    The databases of ``project`` that ``name`` depends on (see :func:`~multidb.testing.dialects.retarget`:
    those sharing its database) are upgraded to heads first, in ``depends_on`` order. With
    ``from_baseline``, a database whose bases declare a baseline is then given it (and an empty version
    table): the check starts where its history starts, as after ``downgrade base``.
    """
    __tracebackhide__ = True
    db = project.databases[name]
    script = load_history(project, db)
    on = on or db.dialect
    try:
        snap, heads = _state(db, Neighbours())
    except MultiDBError as e:
        raise MigrationCheckFailed(name, f"cannot open the database on {on}: {_reason(e, name)}") from None
    if snap.tables or heads:
        found = ", ".join([*snap.tables, *(f"revision {h}" for h in heads)][:5])
        raise MigrationCheckFailed(name, f"the check needs an empty database on {on}; it has {found}")
    from .dialects import dependencies as depends_on

    dependencies = depends_on(project, name)
    for dep in dependencies:
        failure = f"upgrading it to heads before {name}, which depends on it, fails on {on}"
        _step(project, dep, "upgrade", "heads", failure, None)
    hide = Neighbours()
    if dependencies:
        made, _ = _state(db, Neighbours())
        hide = Neighbours(frozenset(made.tables), frozenset(_enums(db)))
    if from_baseline:
        _baseline(project, db, on)
    return db, script, on, hide


def _baseline(project: Project, db: Database, on: str) -> None:
    __tracebackhide__ = True
    from .. import baseline

    try:
        with engines.connect(db) as conn:
            baseline.create(project, db, conn)
    except MultiDBError as e:
        raise MigrationCheckFailed(db.name, f"the baseline cannot be created on {on}: {_reason(e, db.name)}") from None


def _migrate(project: Project, name: str, action: str, target: str) -> None:
    """``multidb upgrade/downgrade NAME --to TARGET`` (downgrades confirmed: the database is a throwaway)."""
    from ..commands import downgrade, upgrade
    from ..commands.migrate import RunOptions

    if action == "upgrade":
        upgrade(project, (name,), to=target)
    else:
        downgrade(project, (name,), to=target, options=RunOptions(confirmed=True))


def _step(
    project: Project, name: str, action: str, target: str, failure: str, rev: Script | None, suffix: str = ""
) -> None:
    """Run one migration command. A failure reads ``{failure}[ at revision X]{suffix}: {reason}``,
    naming the revision whose file raised when ``rev`` (the one the caller is testing) is not given.
    """
    __tracebackhide__ = True
    try:
        _migrate(project, name, action, target)
    except MultiDBError as e:
        at, found = "", rev.revision if rev else None
        if rev is None:
            script = load_history(project, project.databases[name])
            found = _failed_revision(script, e)
            at = f" at revision {_describe(project, script, found)}" if found else ""
        raise MigrationCheckFailed(name, f"{failure}{at}{suffix}: {_reason(e, name)}", revision=found) from None


def _restore(
    project: Project, name: str, heads_before: tuple[str, ...], heads_now: tuple[str, ...], rev: Script
) -> bool:
    """Re-apply heads a merge's downgrade took with it, so the stairway compares like with like."""
    missing = [h for h in heads_before if h not in heads_now]
    for head in missing:
        _step(project, name, "upgrade", head, f"re-applying {head} after the downgrade of {rev.revision} fails", rev)
    return bool(missing)


def _state(db: Database, hide: Neighbours, project: Project | None = None) -> tuple[parity.Snapshot, tuple[str, ...]]:
    """The reflected schema (version table and neighbours left out) and the revisions stamped, on one connection.

    With ``project``, the tables its comparison settings leave out (``autogenerate.exclude_tables``,
    ``include_name``, ``include_object``) are left out too."""
    from ..environment import bookkeeping_tables
    from ..runner import read_heads

    with engines.connect(db) as conn:
        left_out = [*bookkeeping_tables(db), *hide.tables, *_left_out(project, db, conn)]
        found = parity.snapshot(conn, exclude=left_out, schema=db.schema)
        conn.rollback()
        heads = read_heads(db, conn)
    return found, heads


def _left_out(project: Project | None, db: Database, conn: Any) -> list[str]:
    if project is None:
        return []
    import sqlalchemy as sa

    from ..customize import table_filter

    keep = table_filter(project, db)
    return [name for name in sa.inspect(conn).get_table_names(schema=db.schema) if not keep(name, db.schema)]


def _enums(db: Database) -> list[str]:
    if db.dialect != "postgresql":
        return []
    import sqlalchemy as sa

    with engines.connect(db) as conn:
        names = [e["name"] for e in sa.inspect(conn).get_enums(schema=db.schema)]
        conn.rollback()
    return sorted(names)


def _describe(project: Project, script: ScriptDirectory, rev: str | None) -> str:
    if rev is None:
        return "?"
    return history.describe(script.get_revision(rev))


def _failed_revision(script: ScriptDirectory, error: MultiDBError) -> str | None:
    """The revision whose file raised, from the error's ``revision_file`` or its ``(in FILE, line N)``."""
    import re

    cause: Any = getattr(error, "cause", None) or error
    where = getattr(cause, "revision_file", None)
    if where is None:
        found = re.search(r"\(in (.+?\.py)(?:, line \d+)?\)", error.lines()[0])
        where = found.group(1) if found else None
    return history.revision_for_file(script, where)


def _reason(error: MultiDBError, name: str) -> str:
    """The error's first line without the leading ``name: `` the caller already shows."""
    text = error.lines()[0]
    return text[len(name) + 2 :] if text.startswith(f"{name}: ") else text


def _first(error: BaseException) -> str:
    from ..redact import first_line

    return first_line(str(error))

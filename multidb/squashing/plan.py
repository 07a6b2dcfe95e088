"""Which revisions a squash replaces, and the refusals: pure, from the revision map alone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Database
from ..errors import UsageError

RECORD = "multidb_squashed"  # the baseline's module-level record of what it replaced (id -> message)

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory


@dataclass(frozen=True)
class Squash:
    """REV and its ancestors (oldest first), the base they start, and what the baseline keeps of REV."""

    database: str
    revision: str
    replaced: tuple[tuple[str, str], ...]  # (revision id, message), oldest first
    files: tuple[Path, ...]  # the files of the replaced revisions, REV's included
    folder: Path  # where the baseline goes: the folder of the base's first revision
    branch_labels: tuple[str, ...]
    phase: str | None

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(rev for rev, _ in self.replaced)


def plan(db: Database, script: ScriptDirectory, rev: str) -> Squash:
    """The squash of ``db`` up to ``rev``; a :class:`UsageError` (exit 2) says why it cannot be done."""
    target = _find(db, script, rev)
    if len(_tuple(target.down_revision)) > 1:
        raise UsageError(f"{db.name}: {target.revision} is a merge point; squash up to a revision with one parent")
    members = _ancestors(script, target)
    roots = [r for r in members if not _tuple(r.down_revision)]
    if len(roots) > 1:
        names = ", ".join(sorted(r.revision for r in roots))
        raise UsageError(
            f"{db.name}: {target.revision} has ancestors on several bases ({names}); one baseline cannot replace them"
        )
    if len(members) < 2:
        raise UsageError(f"{db.name}: {target.revision} is the first revision of its base; there is nothing to squash")
    _check_outside(db, script, target, members)
    _check_baseline(db, roots[0])
    ordered = _oldest_first(members)
    labels = [*_base_labels(db, script, roots[0])]
    labels += [label for label in target.branch_labels if label not in labels]
    from ..phases import phase_of

    return Squash(
        database=db.name,
        revision=target.revision,
        replaced=_record(ordered),
        files=tuple(Path(r.path) for r in ordered),
        folder=Path(roots[0].path).parent,
        branch_labels=tuple(labels),
        phase=phase_of(target),
    )


def _find(db: Database, script: ScriptDirectory, rev: str) -> Script:
    from alembic.util import CommandError

    try:
        found = script.get_revision(rev)
    except CommandError as e:
        raise UsageError(f"{db.name}: --to {rev}: {e}") from e
    except Exception as e:  # Alembic's ResolutionError and friends: an unknown or ambiguous id
        raise UsageError(f"{db.name}: --to {rev}: {e}") from e
    if found is None:
        raise UsageError(f"{db.name}: --to {rev} names no revision; give a revision id")
    return found


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _ancestors(script: ScriptDirectory, target: Script) -> list[Script]:
    """``target`` and every revision below it, through parents and ``depends_on``."""
    found: dict[str, Script] = {}
    todo = [target]
    while todo:
        rev = todo.pop()
        if rev.revision in found:
            continue
        found[rev.revision] = rev
        for parent in (*_tuple(rev.down_revision), *_tuple(rev.dependencies)):
            todo.extend(r for r in script.get_revisions(parent) if r is not None)
    return list(found.values())


def _oldest_first(members: list[Script]) -> list[Script]:
    by_id = {r.revision: r for r in members}
    ordered: list[Script] = []
    done: set[str] = set()

    def visit(rev: Script) -> None:
        if rev.revision in done:
            return
        done.add(rev.revision)
        for parent in sorted(_tuple(rev.down_revision)):
            if parent in by_id:
                visit(by_id[parent])
        ordered.append(rev)

    for rev in sorted(members, key=lambda r: r.revision):
        visit(rev)
    return ordered


def _check_outside(db: Database, script: ScriptDirectory, target: Script, members: list[Script]) -> None:
    """A revision outside the set may point at REV, never at a revision the baseline replaces."""
    gone = {r.revision for r in members} - {target.revision}
    for rev in script.walk_revisions():
        if rev.revision in gone or rev.revision == target.revision:
            continue
        for kind, pointers in (("revises", rev.down_revision), ("depends on", rev.dependencies)):
            hit = sorted(set(_resolved(script, pointers)) & gone)
            if hit:
                raise UsageError(
                    f"{db.name}: revision {rev.revision} {kind} {hit[0]}, which the squash would remove; "
                    f"squash up to a revision no other revision branches from"
                )


def _resolved(script: ScriptDirectory, pointers: Any) -> list[str]:
    found = []
    for pointer in _tuple(pointers):
        found.extend(r.revision for r in script.get_revisions(pointer) if r is not None)
    return found


def _base_labels(db: Database, script: ScriptDirectory, root: Script) -> tuple[str, ...]:
    """The root's labels; a root without any gets its base's configured label (as ``revision`` gives the
    first revision of a base), unless another revision already carries it."""
    if root.branch_labels:
        return tuple(root.branch_labels)
    folder = Path(root.path).parent.resolve()
    base = next((b for b in db.bases if b.path.resolve() == folder), None)
    used = {label for rev in script.walk_revisions() for label in rev.branch_labels}
    return (base.label,) if base is not None and base.label not in used else ()


def _check_baseline(db: Database, root: Script) -> None:
    folder = Path(root.path).parent.resolve()
    for base in db.bases:
        if base.baseline is not None and base.path.resolve() == folder:
            raise UsageError(
                f"{db.name}: base '{base.label}' declares a baseline ({db.bases_key}); squash does not fold it in"
            )


def _record(ordered: list[Script]) -> tuple[tuple[str, str], ...]:
    """``(id, message)`` of each replaced revision, oldest first; a baseline squashed again brings the
    revisions it had replaced (from its own ``multidb_squashed``) in front of itself."""
    found: dict[str, str] = {}
    for rev in ordered:
        earlier = getattr(getattr(rev, "module", None), RECORD, None)
        if isinstance(earlier, dict):
            found.update({str(k): str(v) for k, v in earlier.items() if k != rev.revision})
            found[rev.revision] = str(earlier.get(rev.revision, _message(rev)))
        else:
            found[rev.revision] = _message(rev)
    return tuple(found.items())


def _message(rev: Script) -> str:
    return (rev.doc or "").strip().splitlines()[0] if (rev.doc or "").strip() else ""

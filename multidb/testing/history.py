"""Questions about one database's revision history that need no database: order, heads per base.

Everything works on the :class:`~alembic.script.ScriptDirectory` that
:func:`multidb.runner.load_history` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Database
from ..phases import down_revisions, requires

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory


def upgrade_order(script: ScriptDirectory) -> list[Script]:
    """Every revision, each after all of its parents and dependencies (the order upgrades apply them).

    Deterministic: Alembic's topological walk, reversed, with every revision checked to come
    after what it needs.
    """
    order = list(reversed(list(script.walk_revisions())))
    seen: set[str] = set()
    for rev in order:
        missing = [r for r in requires(script, rev) if r not in seen]
        if missing:  # pragma: no cover - Alembic's walk is topological; this guards the assumption
            raise RuntimeError(f"revision {rev.revision} is ordered before its parent {missing[0]}")
        seen.add(rev.revision)
    return order


def parents(rev: Script) -> tuple[str, ...]:
    """The revisions ``rev`` revises (not its ``depends_on``)."""
    return down_revisions(rev)


def step_down_target(rev: Script) -> str:
    """A downgrade target that removes ``rev`` alone, while it is a head.

    ``REV@-1`` steps one revision down from ``rev`` (from a root: to its base), without touching
    other branches. Alembic finds that walk ambiguous at a merge point; downgrading to one of the
    merge's parents unmerges it instead (both parents stay applied).
    """
    if len(parents(rev)) > 1:
        return parents(rev)[0]
    return f"{rev.revision}@-1"


@dataclass(frozen=True)
class BaseHeads:
    """The heads of one labelled base of a database, and where they come from."""

    label: str
    heads: tuple[Script, ...]


def heads_per_base(db: Database, script: ScriptDirectory) -> tuple[list[BaseHeads], list[Script]]:
    """The heads of each configured base, and the heads that belong to none.

    A head belongs to every configured base whose branch label its history carries; a head with no
    such label belongs to the base whose folder holds its file. A head in neither is returned
    separately (a history started without the base's branch label, in a folder not configured).
    """
    labels = [b.label for b in db.bases]
    found: dict[str, list[Script]] = {label: [] for label in labels}
    homeless: list[Script] = []
    for head in script.get_revisions(script.get_heads()):
        if head is None:  # pragma: no cover - get_heads only returns real revisions
            continue
        owners = [label for label in labels if label in head.branch_labels]
        if not owners:
            owners = [b.label for b in db.bases if _is_below(Path(head.path), b.path)]
        for label in owners:
            found[label].append(head)
        if not owners:
            homeless.append(head)
    return [BaseHeads(label, tuple(found[label])) for label in labels], homeless


def root_of(script: ScriptDirectory, rev: Script) -> Script:
    """The first root revision reached by walking down from ``rev``."""
    current: Any = rev
    while parents(current):
        current = script.get_revision(parents(current)[0])
    return current


def revision_for_file(script: ScriptDirectory, where: str | None) -> str | None:
    """The revision id whose file is ``where`` (a path, optionally followed by ``, line N``)."""
    if not where:
        return None
    path = Path(where.split(", line ")[0]).resolve()
    for rev in script.walk_revisions():
        if Path(rev.path).resolve() == path:
            return rev.revision
    return None


def describe(rev: Script) -> str:
    """``abc123 ("add tags", catalog_versions/abc123_add_tags.py)`` for messages."""
    from ..runner import relative

    doc = (rev.doc or "").strip().splitlines()
    title = f'"{doc[0]}", ' if doc else ""
    return f"{rev.revision} ({title}{relative(rev.path)})"


def _is_below(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True

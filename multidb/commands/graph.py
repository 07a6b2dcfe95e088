"""``multidb graph``: each database's revision graph, and where the database (or each target of its fleet)
stands. Read-only, like ``status``: a database or target that cannot be read is "unknown", not an error."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import Database, Project
from ..errors import DatabaseError
from ..fleet import select_targets
from ..graph import DatabaseGraph, Node, Position, summarise
from ..phases import down_revisions, phase_of, requires
from ..runner import load_history
from ..squashed import replaced
from ..testing.history import upgrade_order
from .inspect import target_statuses

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory

    from ..results import Status


def graph(project: Project, names: tuple[str, ...] = (), all_: bool = False, jobs: int = 1) -> list[DatabaseGraph]:
    """The graph of each named database (``entry/tenant`` narrows a fleet to those targets), or of all."""
    wanted: dict[str, list[str]] = {}
    for name in names:
        wanted.setdefault(name.partition("/")[0], []).append(name)
    return [
        database_graph(project, db, tuple(wanted.get(db.name, ())) or (db.name,), jobs)
        for db in project.select(list(wanted), all_)
    ]


def database_graph(project: Project, db: Database, names: tuple[str, ...], jobs: int = 1) -> DatabaseGraph:
    script = load_history(project, db)
    nodes = tuple(revision_node(script, rev) for rev in upgrade_order(script))
    drawn = DatabaseGraph(db.name, db.masked_url, db.fleet is not None, db.depends_on, nodes, ())
    try:
        targets = select_targets(project, names)
    except DatabaseError as e:  # the fleet's query or command failed: its targets are unknown
        return _replace(drawn, error=e.message)
    positions = tuple(position(s) for s in target_statuses(project, targets, jobs))
    return _replace(drawn, positions=positions, summary=summarise(nodes, positions) if drawn.fleet else None)


def _replace(graph: DatabaseGraph, **changes: object) -> DatabaseGraph:
    import dataclasses

    return dataclasses.replace(graph, **changes)  # type: ignore[arg-type]


def revision_node(script: ScriptDirectory, rev: Script) -> Node:
    parents = down_revisions(rev)
    return Node(
        revision=rev.revision,
        parents=parents,
        depends_on=tuple(r for r in requires(script, rev) if r not in parents),
        branch_labels=declared_labels(rev),
        message=rev.doc or "",
        phase=phase_of(rev),
        is_base=rev.is_base,
        is_head=rev.is_head,
        is_merge=rev.is_merge_point,
        is_branch_point=rev.is_branch_point,
        squashed=replaced(rev),
    )


def declared_labels(rev: Script) -> tuple[str, ...]:
    """The branch labels the revision's file declares (Alembic also lists them on every descendant)."""
    labels = getattr(rev.module, "branch_labels", None) or ()
    return (labels,) if isinstance(labels, str) else tuple(labels)


def position(status: Status) -> Position:
    if status.state == "error":
        return Position(status.name, "unknown", error=status.error)
    error = status.error if status.state == "squashed away" else None
    return Position(status.name, status.state, status.current, status.pending, status.contract_pending, error)

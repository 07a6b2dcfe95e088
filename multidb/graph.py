"""Drawing revision graphs: what ``multidb graph`` knows about a history, laid out and rendered as SVG or
as one self-contained HTML page. No database, no Alembic, no network: plain data in, text out.

The layout is a small lane algorithm: revisions are rows in upgrade order (base at the top, heads at the
bottom); walking from the heads down, each revision keeps a lane (column) for the parent it expects next,
so a line between a revision and its parent never passes through another revision's node.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .errors import printable


@dataclass(frozen=True)
class Node:
    """One revision of a history."""

    revision: str
    parents: tuple[str, ...]  # its down_revision
    depends_on: tuple[str, ...]  # revision ids its depends_on names (branch labels resolved)
    branch_labels: tuple[str, ...]
    message: str
    phase: str | None  # "expand", "contract" or None (see multidb.phases)
    is_base: bool
    is_head: bool
    is_merge: bool
    is_branch_point: bool
    squashed: dict[str, str] = field(default_factory=dict)  # a baseline: {revision id: message} it replaced


@dataclass(frozen=True)
class Position:
    """Where one database or fleet target stands ("unknown": it could not be read)."""

    name: str
    state: str
    current: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()
    contract_pending: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class FleetSummary:
    """How many targets are at each revision, by state, and which failed (could not be read)."""

    targets: int
    at_revision: dict[str, int]
    states: dict[str, int]
    failed: dict[str, str]


@dataclass(frozen=True)
class DatabaseGraph:
    """One database entry: its history (upgrade order), where it or its fleet's targets stand."""

    name: str
    url: str  # password masked
    fleet: bool
    depends_on: tuple[str, ...]  # the config's depends_on: upgraded after these databases
    nodes: tuple[Node, ...]
    positions: tuple[Position, ...]
    error: str | None = None  # the fleet's targets could not be listed
    summary: FleetSummary | None = field(default=None)


def summarise(nodes: Sequence[Node], positions: Sequence[Position]) -> FleetSummary:
    known = {n.revision for n in nodes}
    at: dict[str, int] = {}
    states: dict[str, int] = {}
    for p in positions:
        states[p.state] = states.get(p.state, 0) + 1
        for rev in p.current:
            if rev in known:
                at[rev] = at.get(rev, 0) + 1
    order = [n.revision for n in nodes if n.revision in at]
    failed = {p.name: p.error or "" for p in positions if p.state == "unknown"}
    return FleetSummary(len(positions), {r: at[r] for r in order}, states, failed)


# --- layout ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    row: dict[str, int]  # revision -> row (0: the top, the first revision upgrade applies)
    column: dict[str, int]
    lane: dict[tuple[str, str], int]  # (child, parent) -> the column the line between them runs in
    columns: int


def readable_order(nodes: Sequence[Node]) -> list[Node]:
    """The nodes in an order upgrade could apply them (each after its parents and dependencies) that keeps
    a branch's revisions together: next comes a child of the latest placed revision that has one ready."""
    known = {n.revision for n in nodes}
    needs = {n.revision: {r for r in (*n.parents, *n.depends_on) if r in known} for n in nodes}
    placed: list[Node] = []
    done: set[str] = set()
    while len(placed) < len(nodes):
        ready = [n for n in nodes if n.revision not in done and needs[n.revision] <= done]
        node = next((n for p in reversed(placed) for n in ready if p.revision in n.parents), ready[0])
        placed.append(node)
        done.add(node.revision)
    return placed


def layout(nodes: Sequence[Node]) -> Layout:
    """Rows in :func:`readable_order`; columns from the heads down, one lane per expected parent."""
    nodes = readable_order(nodes)
    row = {n.revision: i for i, n in enumerate(nodes)}
    column: dict[str, int] = {}
    lane: dict[tuple[str, str], int] = {}
    lanes: list[str | None] = []
    for node in reversed(nodes):
        waiting = [i for i, r in enumerate(lanes) if r == node.revision]
        col = waiting[0] if waiting else _free(lanes)
        for i in waiting:
            lanes[i] = None
        column[node.revision] = col
        for k, parent in enumerate(p for p in node.parents if p in row):
            if parent in lanes:
                at = lanes.index(parent)
            elif k == 0:
                at = col
            else:
                at = _free(lanes)
            lanes[at] = parent
            lane[(node.revision, parent)] = at
    return Layout(row, column, lane, max(column.values(), default=0) + 1)


def _free(lanes: list[str | None]) -> int:
    if None in lanes:
        return lanes.index(None)
    lanes.append(None)
    return len(lanes) - 1


# --- SVG ------------------------------------------------------------------------------------------

ROW = 34  # px between rows
COL = 24  # px between lanes
CHAR = 7.3  # px per character of the 12px monospace font
TOP = 44  # room for the section's title
MESSAGE_CHARS = 72
SHOWN_FAILURES = 10  # in the SVG; the HTML page's table has them all
FOOTER_CHARS = 130  # longer lines (errors) are cut; the whole line is the tooltip


def text(value: object) -> str:
    """User text (messages, names, errors) made safe inside SVG or HTML: one line, escaped."""
    return html.escape(printable(str(value)), quote=True)


def clip(value: str, size: int) -> str:
    line = value.strip().splitlines()[0] if value.strip() else ""
    return line if len(line) <= size else line[: size - 1] + "…"


def section_svg(graph: DatabaseGraph, index: int = 0, details: bool = True) -> tuple[str, int, int]:
    """One database as an ``<svg>`` element, with its width and height. ``details=False``: a fleet's
    summary is its first line only (the HTML page shows the rest as tables)."""
    plan = layout(graph.nodes)
    marks = _marks(graph)
    left = 16 + CHAR * max((len(m) for m, _ in marks.values()), default=0) + (12 if marks else 0)
    lanes_x = left + COL / 2
    text_x = lanes_x + plan.columns * COL + 6

    def xy(rev: str) -> tuple[float, float]:
        return lanes_x + plan.column[rev] * COL, TOP + plan.row[rev] * ROW + ROW / 2

    body = [_edges(graph, plan, xy), _dependencies(graph, xy, index)]
    widest = 0.0
    for node in graph.nodes:
        x, y = xy(node.revision)
        body.append(_node(graph, node, x, y, text_x, marks.get(node.revision), left))
        widest = max(widest, text_x + CHAR * (len(_row_text(node)) + 4))
    bottom = TOP + len(graph.nodes) * ROW + 8
    footer = _footer(graph) if details or not graph.summary else _footer(graph)[:1]
    for i, line in enumerate(footer):
        shown = clip(line, FOOTER_CHARS)
        body.append(
            f'<text class="summary" x="16" y="{bottom + 16 + i * 18}"><title>{text(line)}</title>{text(shown)}</text>'
        )
        widest = max(widest, 16 + CHAR * len(shown))
    height = int(bottom + 18 * len(footer) + 16)
    title = _title(graph)
    width = int(max(widest, 16 + CHAR * 1.2 * len(title)) + 16)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" data-database="{text(graph.name)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'<defs><marker id="dep-{index}" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" class="dep-head"/></marker></defs>'
        f'<text class="title" x="16" y="24">{text(title)}</text>'
    )
    return head + "".join(body) + "</svg>", width, height


def _title(graph: DatabaseGraph) -> str:
    after = f" (upgraded after {', '.join(graph.depends_on)})" if graph.depends_on else ""
    kind = "fleet " if graph.fleet else ""
    return f"{kind}{graph.name}: {graph.url}{after}"


def _marks(graph: DatabaseGraph) -> dict[str, tuple[str, str]]:
    """revision -> (the text left of its node, the names it stands for)."""
    at: dict[str, list[str]] = {}
    for p in graph.positions:
        for rev in p.current:
            at.setdefault(rev, []).append(p.name)
    if graph.fleet:
        return {r: (f"{len(names)} target{'s' * (len(names) != 1)} ▶", _some(names)) for r, names in at.items()}
    return {r: (", ".join(names) + " ▶", ", ".join(names)) for r, names in at.items()}


def _some(names: list[str], shown: int = 20) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _node_classes(graph: DatabaseGraph, node: Node) -> list[str]:
    classes = ["rev"]
    flags = (node.is_base, node.is_head, node.is_merge, node.is_branch_point)
    classes += [name for name, on in zip(("base", "head", "merge", "branchpoint"), flags, strict=True) if on]
    if node.phase:
        classes.append(node.phase)
    if not graph.fleet and graph.positions and graph.positions[0].state != "unknown":
        where = graph.positions[0]
        if node.revision in where.contract_pending:
            classes.append("held")
        elif node.revision in where.pending:
            classes.append("pending")
        else:
            classes.append("applied")
    if any(node.revision in p.current for p in graph.positions):
        classes.append("current")
    return classes


def _node(graph: DatabaseGraph, node: Node, x: float, y: float, text_x: float, mark, left: float) -> str:
    classes = _node_classes(graph, node)
    if node.is_merge:
        shape = f'<path class="shape" d="M{x},{y - 9} L{x + 9},{y} L{x},{y + 9} L{x - 9},{y} z"/>'
    elif node.is_base:
        shape = f'<rect class="shape" x="{x - 7}" y="{y - 7}" width="14" height="14"/>'
    else:
        shape = f'<circle class="shape" cx="{x}" cy="{y}" r="7"/>'
    replaced = "".join(f"\n  {text(r)}: {text(m)}" for r, m in node.squashed.items())
    if replaced:
        replaced = f"\n{text(baseline_label(node))} of:{replaced}"
    parts = [
        f'<g class="{" ".join(classes)}" data-revision="{text(node.revision)}">',
        f"<title>{text(node.revision)}: {text(node.message)}{replaced}</title>",
        shape,
        f'<text class="id" x="{text_x}" y="{y + 4}">{text(node.revision)}</text>',
    ]
    cursor = text_x + CHAR * (len(node.revision) + 1)
    tags = [(label, "label") for label in node.branch_labels]
    if node.phase:
        tags.append((node.phase, node.phase))
    if node.squashed:
        tags.append((baseline_label(node), "baseline"))
    for tag, kind in tags:
        width = CHAR * len(tag) + 10
        parts.append(f'<rect class="tag {kind}" x="{cursor}" y="{y - 9}" width="{width}" height="18" rx="9"/>')
        parts.append(f'<text class="tag-text" x="{cursor + 5}" y="{y + 4}">{text(tag)}</text>')
        cursor += width + 6
    parts.append(f'<text class="message" x="{cursor}" y="{y + 4}">{text(clip(node.message, MESSAGE_CHARS))}</text>')
    if mark:
        label, names = mark
        parts.append(
            f'<text class="here" x="{left - 8}" y="{y + 4}" text-anchor="end" data-names="{text(names)}">'
            f"<title>{text(names)}</title>{text(label)}</text>"
        )
    return "".join(parts) + "</g>"


def baseline_label(node: Node) -> str:
    """``baseline (squashed 4 revisions)``: a revision that replaced others (``multidb squash``)."""
    count = len(node.squashed)
    return f"baseline (squashed {count} revision{'s' if count != 1 else ''})"


def _row_text(node: Node) -> str:
    extra = [node.phase] if node.phase else []
    extra += [baseline_label(node)] if node.squashed else []
    tags = " ".join([*node.branch_labels, *extra])
    return f"{node.revision} {tags}   {clip(node.message, MESSAGE_CHARS)}"


def _edges(graph: DatabaseGraph, plan: Layout, xy) -> str:
    paths = []
    for node in graph.nodes:
        for parent in node.parents:
            if (node.revision, parent) not in plan.lane:
                continue
            (cx, cy), (px, py) = xy(node.revision), xy(parent)
            lx = px + (plan.lane[(node.revision, parent)] - plan.column[parent]) * COL
            half = ROW / 2
            d = (
                f"M{px},{py} C{px},{py + half} {lx},{py} {lx},{py + half} "
                f"L{lx},{cy - half} C{lx},{cy} {cx},{cy - half} {cx},{cy}"
            )
            paths.append(f'<path class="edge" data-from="{text(parent)}" data-to="{text(node.revision)}" d="{d}"/>')
    return "".join(paths)


def _dependencies(graph: DatabaseGraph, xy, index: int) -> str:
    """``depends_on`` lines: dashed, bowing to the left of the lanes, with an arrow at the dependent."""
    found = []
    for node in graph.nodes:
        for dep in node.depends_on:
            if dep not in {n.revision for n in graph.nodes}:
                continue
            (x1, y1), (x2, y2) = xy(dep), xy(node.revision)
            bow = min(x1, x2) - 14 - 0.15 * abs(y2 - y1) ** 0.8
            found.append(
                f'<path class="depends" data-from="{text(dep)}" data-to="{text(node.revision)}" '
                f'd="M{x1},{y1} C{bow},{y1} {bow},{y2} {x2 - 8},{y2}" marker-end="url(#dep-{index})"/>'
            )
    return "".join(found)


def _footer(graph: DatabaseGraph) -> list[str]:
    if graph.error:
        return [f"targets unknown: {graph.error}"]
    if not graph.fleet:
        if not graph.positions:
            return []
        p = graph.positions[0]
        if p.state == "unknown":
            return [f"{p.name}: unknown: {p.error}"]
        if p.state == "ahead of code":
            return [f"{p.name}: ahead of code: at {', '.join(p.current)}, which these revision files do not have"]
        if p.state == "squashed away":
            return [f"{p.name}: squashed away: {p.error}"]
        held = f" ({len(p.contract_pending)} wait for the contract phase)" if p.contract_pending else ""
        return [f"{p.name}: {p.state}, {len(p.pending)} pending{held}"]
    return summary_lines(graph.summary) if graph.summary else []


def summary_lines(summary: FleetSummary) -> list[str]:
    states = ", ".join(f"{n} {'failed' if s == 'unknown' else s}" for s, n in by_count(summary.states.items()))
    lines = [f"{summary.targets} targets: {states}"]
    if summary.at_revision:
        lines.append("at " + ", ".join(f"{rev}: {n}" for rev, n in summary.at_revision.items()))
    failed = list(summary.failed.items())
    lines += [f"failed {name}: {error}" for name, error in failed[:SHOWN_FAILURES]]
    if len(failed) > SHOWN_FAILURES:
        lines.append(f"and {len(failed) - SHOWN_FAILURES} more failed (the HTML page lists every one)")
    return lines


def by_count(items: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    return sorted(items, key=lambda kv: -kv[1])

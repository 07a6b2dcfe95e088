"""``multidb graph``'s documents: one standalone SVG file, or one self-contained HTML page (inline SVG and
CSS, no script, nothing fetched from the network). The drawing itself is :mod:`multidb.graph`'s."""

from __future__ import annotations

from collections.abc import Sequence

from .graph import CHAR, DatabaseGraph, by_count, section_svg, text

STYLE = """
svg.graph { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; background: #fff; }
.title { font-weight: bold; font-size: 14px; fill: #111; }
.edge { fill: none; stroke: #8a8f98; stroke-width: 2; }
.depends { fill: none; stroke: #7c3aed; stroke-width: 1.5; stroke-dasharray: 5 4; }
.dep-head { fill: #7c3aed; }
.rev .shape { fill: #4b5563; stroke: #1f2937; stroke-width: 1.5; }
.rev.applied .shape { fill: #2563eb; stroke: #1e3a8a; }
.rev.pending .shape, .rev.held .shape { fill: #fff; stroke: #2563eb; stroke-dasharray: 3 2; }
.rev.held .shape { stroke: #dc2626; }
.rev.current .shape { stroke: #f59e0b; stroke-width: 4; }
.id { fill: #111; }
.message { fill: #374151; }
.tag { fill: #e5e7eb; stroke: #6b7280; }
.tag.label { fill: #dbeafe; stroke: #2563eb; }
.tag.expand { fill: #dcfce7; stroke: #16a34a; }
.tag.contract { fill: #fee2e2; stroke: #dc2626; }
.tag.baseline { fill: #fef3c7; stroke: #d97706; }
.tag-text { fill: #111; }
.here { fill: #b45309; font-weight: bold; }
.summary { fill: #111; }
"""

PAGE_STYLE = """
body { font: 14px system-ui, sans-serif; margin: 24px; color: #111; }
section { margin: 0 0 28px; overflow-x: auto; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 8px 0 20px; align-items: center; }
.legend svg { vertical-align: middle; }
table { border-collapse: collapse; margin: 6px 0; }
td, th { border: 1px solid #d1d5db; padding: 3px 8px; text-align: left; font-size: 13px; }
.unknown { color: #b91c1c; }
"""

LEGEND = [
    ('<rect class="shape" x="3" y="3" width="14" height="14"/>', "rev base", "base (first revision of a branch)"),
    ('<circle class="shape" cx="10" cy="10" r="7"/>', "rev", "revision"),
    ('<path class="shape" d="M10,1 L19,10 L10,19 L1,10 z"/>', "rev merge", "merge point"),
    ('<circle class="shape" cx="10" cy="10" r="7"/>', "rev applied", "applied to the database"),
    ('<circle class="shape" cx="10" cy="10" r="7"/>', "rev pending", "pending"),
    ('<circle class="shape" cx="10" cy="10" r="7"/>', "rev held", "pending, waits for the contract phase"),
    ('<circle class="shape" cx="10" cy="10" r="7"/>', "rev current", "where a database or target stands"),
]


def svg_document(graphs: Sequence[DatabaseGraph]) -> str:
    """Every database's graph in one standalone SVG file, one below the other."""
    parts, y, width = [], 0, 0
    for i, graph in enumerate(graphs):
        svg, w, h = section_svg(graph, i)
        parts.append(svg.replace("<svg ", f'<svg x="0" y="{y}" ', 1))
        y, width = y + h, max(width, w)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" viewBox="0 0 {width} {y}">'
        f"<style>{STYLE}</style>" + "".join(parts) + "</svg>\n"
    )


def html_page(graphs: Sequence[DatabaseGraph], title: str) -> str:
    """One self-contained page: a legend, then each database's graph and, for fleets, a summary table."""
    sections = []
    for i, graph in enumerate(graphs):
        svg, _, _ = section_svg(graph, i, details=False)
        sections.append(f'<section data-database="{text(graph.name)}">{svg}{_fleet_table(graph)}</section>')
    legend = "".join(
        f'<span><svg class="graph" width="20" height="20"><g class="{cls}">{shape}</g></svg> {text(words)}</span>'
        for shape, cls, words in LEGEND
    )
    tags = "".join(
        f'<span><svg class="graph" width="{CHAR * len(t) + 12}" height="20"><rect class="tag {t}" x="1" y="1" '
        f'width="{CHAR * len(t) + 10}" height="18" rx="9"/><text class="tag-text" x="6" y="14">{t}</text></svg> '
        f"{words}</span>"
        for t, words in (("label", "branch label"), ("expand", "expand step"), ("contract", "contract step"))
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{text(title)}</title><style>{PAGE_STYLE}{STYLE}</style></head><body>"
        f"<h1>{text(title)}</h1>"
        f'<div class="legend">{legend}{tags}<span>- - ▶ depends_on</span></div>'
        + "".join(sections)
        + "</body></html>\n"
    )


def _fleet_table(graph: DatabaseGraph) -> str:
    summary = graph.summary
    if summary is None:
        return ""
    rows = "".join(f"<tr><td>{text(rev)}</td><td>{n}</td></tr>" for rev, n in summary.at_revision.items())
    rows += "".join(
        f"<tr><td>{text('failed' if s == 'unknown' else s)}</td><td>{n}</td></tr>"
        for s, n in by_count(summary.states.items())
        if s not in ("at head", "behind", "expanded")
    )
    failed = "".join(
        f'<tr class="unknown"><td>{text(name)}</td><td>{text(error)}</td></tr>'
        for name, error in summary.failed.items()
    )
    table = f'<table class="fleet-summary"><tr><th>revision or state</th><th>targets</th></tr>{rows}</table>'
    if failed:
        table += f'<table class="failed"><tr><th>failed target</th><th>error</th></tr>{failed}</table>'
    return table

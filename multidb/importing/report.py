"""What ``multidb import`` prints: text for people, plain data for ``--json``. No URL value ever appears."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .run import ImportReport
from .writing import variables


def _rel(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def as_text(report: ImportReport) -> str:
    plan = report.plan
    src = plan.source
    files = " and ".join(_rel(p) for p in src.files)
    lines = [f"imported {files} (shape: {src.shape}) into {_rel(plan.config_path)}", ""]
    rows = [("DATABASE", "URL", "BASES")]
    for db in plan.databases:
        bases = ", ".join(f"{b.label}: {_rel(b.path)}" for b in db.bases)
        rows.append((db.name, "${" + db.url_variable + "}", bases))
    lines += _table(rows)
    if report.split is not None:
        lines += ["", f"split {_rel(src.databases[0].version_locations[0])} into one history per database:"]
        for name, revs in report.split.written.items():
            lines.append(f"  {name}: {len(revs)} revisions in {_rel(report.split.folders[name])}")
        lines.append(f"revision map (old -> new, per database): {_rel(report.map_path)}" if report.map_path else "")
    if report.split is not None and src.flask:
        lines += [
            "",
            "not replayed: the old env.py needs your Flask app; compare 'flask db upgrade' and "
            "'multidb upgrade --all' on empty databases",
        ]
    lines += ["", "set before running multidb:"] + [f"  {line}" for line in variables(plan)]
    if plan.findings:
        lines += ["", "not carried over from env.py (and the multidb setting that replaces it):"]
        lines += [f"  {_rel(f.env)}:{f.line}: {f.what} -> {f.replacement}" for f in plan.findings]
    if plan.notes:
        lines += ["", "notes:"] + [f"  - {note}" for note in plan.notes]
    return "\n".join(lines)


def comparison_text(verification: list) -> str:
    """The replay's comparison: one row per database and dialect, then each difference."""
    lines = ["", "replayed from empty, the old history against the split ones:"]
    rows = [("DATABASE", "DIALECT", "SCHEMA")]
    rows += [(c.database, c.dialect, "same" if c.same else f"{len(c.differences)} differences") for c in verification]
    lines += _table(rows)
    lines += [f"  {c.database} on {c.dialect}: {d}" for c in verification for d in c.differences]
    return "\n".join(lines)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def as_data(report: ImportReport) -> dict[str, Any]:
    plan = report.plan
    return {
        "ini": str(plan.source.ini) if plan.source.has_ini else None,
        "pyproject": str(plan.source.toml) if plan.source.toml else None,
        "shape": plan.source.shape,
        "config": str(plan.config_path),
        "databases": [
            {
                "name": db.name,
                "url": "${" + db.url_variable + "}",
                "bases": [{"label": b.label, "path": str(b.path), "labelled": b.labelled} for b in db.bases],
            }
            for db in plan.databases
        ],
        "env": [
            {"file": str(f.env), "line": f.line, "what": f.what, "replacement": f.replacement} for f in plan.findings
        ],
        "notes": list(plan.notes),
        "split": None
        if report.split is None
        else {
            name: {"folder": str(report.split.folders[name]), "revisions": revs}
            for name, revs in report.split.written.items()
        },
        "map": str(report.map_path) if report.map_path else None,
        "verification": [
            {"database": c.database, "dialect": c.dialect, "differences": list(c.differences)}
            for c in report.verification
        ],
    }


def stamped_text(results: list) -> str:
    rows = [("DATABASE", "FROM", "TO", "RESULT")]
    rows += [(s.name, ",".join(s.before) or "(none)", ",".join(s.after) or "(none)", s.result) for s in results]
    return "\n".join(_table(rows))

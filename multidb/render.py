"""Text rendering of command results: tables and revision lines. No click, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .results import DatabaseInfo, RevisionInfo, RunResult, Status

if TYPE_CHECKING:
    from .commands.validate import Validation
    from .deploy_plan import DatabasePlan
    from .lint import LintResult


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain left-aligned table with a header line."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in [headers, *rows]]
    return "\n".join(lines)


def revs(revisions: Sequence[str]) -> str:
    return ", ".join(revisions) if revisions else "(none)"


def databases(infos: Sequence[DatabaseInfo]) -> str:
    rows = []
    for info in infos:
        bases = ", ".join(f"{b['label']} ({b['path']})" for b in info.bases)
        rows.append([info.name, info.dialect, info.url, bases, ", ".join(info.depends_on) or "-"])
    return table(["DATABASE", "DIALECT", "URL", "BASES", "DEPENDS ON"], rows)


def statuses(items: Sequence[Status], targets: bool = True) -> str:
    """One row per database; fleet targets one row each, or (``targets=False``) a summary per fleet."""
    rows, notes = [], []
    fleets: dict[str, list[Status]] = {}
    for s in items:
        if "/" in s.name and not targets:
            fleets.setdefault(s.name.split("/", 1)[0], []).append(s)
            continue
        if s.state == "error":
            rows.append([s.name, "?", "?", "?", s.state])
        else:
            rows.append([s.name, revs(s.current), revs(s.heads), _pending(s), s.state])
        if s.error:  # error, interrupted, squashed away: the long message goes under the table, its state in it
            notes.append(f"{s.name}: {s.state}: {s.error}")
    text = table(["DATABASE", "CURRENT", "HEADS", "PENDING", "STATE"], rows) if rows else ""
    summaries = [fleet_summary(name, group) for name, group in fleets.items()]
    edited = [f"{line} (see 'multidb validate')" for s in items for line in s.edited]
    return "\n".join(part for part in [text, *notes, *summaries, *edited] if part)


def plans(items: Sequence[DatabasePlan]) -> str:
    """``plan``: per database its pending revisions, each statement with its lock and table size, and lint findings."""
    lines = []
    for p in items:
        server = f" {p.server_version}" if p.server_version else ""
        lines.append(f"{p.name} ({p.dialect}{server}): {len(p.revisions)} pending revision(s), from {revs(p.current)}")
        for r in p.revisions:
            lines.append(f"  {r.revision} ({r.path})")
            for s in r.statements:
                lines.append("    " + " ".join(s.sql.split()))
                detail = _statement_detail(s)
                if detail:
                    lines.append(f"      {detail}")
            lines += [f"    lint: {f.severity} {f.rule} (line {f.line}): {f.message}; fix: {f.fix}" for f in r.findings]
    return "\n".join(lines)


def _statement_detail(s) -> str:
    parts = []
    table = s.table or "its table (not found in the database)"  # e.g. DROP INDEX of an index it lacks
    locks = ([f"{s.lock} on {table}"] if s.lock else []) + [f"{o.lock} on {o.table}" for o in s.other_locks]
    if locks:
        parts.append(f"lock {' and '.join(locks)}" + (f", {s.effect}" if s.effect else ""))
    if s.rows is not None or s.bytes is not None:
        size = f"~{s.rows} rows" if s.rows is not None else "rows unknown"
        parts.append(size + (f", {s.bytes} bytes" if s.bytes is not None else "") + f" in {s.table}")
    return "; ".join(parts)


def lint_results(items: Sequence[LintResult]) -> str:
    """``lint``: each finding with its fix, then a summary line per database."""
    lines = []
    for item in items:
        for f in item.findings:
            lines += [f"{f.database}: {f.revision}: {f.describe()}", f"  fix: {f.fix}"]
        warnings = len(item.findings) - item.errors
        checked = f"{len(item.revisions)} revision(s) checked for {item.dialect}"
        lines.append(f"{item.name}: {checked}: {item.errors} error(s), {warnings} warning(s)")
    return "\n".join(lines)


_RECORDED = "applied revision(s) without a checksum recorded as they are now (applied before multidb kept a ledger)"


def validations(items: Sequence[Validation]) -> str:
    """``validate``: one line per database, then one per revision edited or deleted since it was applied."""
    lines = []
    for v in items:
        if v.error:
            lines.append(f"{v.name}: error: {v.error}")
        elif v.unrecorded and not v.changed:
            lines.append(
                f"{v.name}: {len(v.unrecorded)} applied revision(s) have no checksum (applied before multidb kept "
                "a ledger), so an edit to them cannot be seen; the next upgrade, downgrade or stamp records them, "
                f"or 'multidb validate {v.name} --accept' now"
            )
        elif v.changed:
            what = "accepted (the ledger now holds the files as they are)" if v.accepted else "changed since applied"
            lines.append(f"{v.name}: {len(v.changed)} revision(s) {what}:")
            lines += [f"  {c.describe().split(': ', 1)[1]}" for c in v.changed]
        elif v.accepted:
            what = f"{len(v.recorded)} {_RECORDED}" if v.recorded else "the ledger now holds the files as they are"
            lines.append(f"{v.name}: accepted: {what}")
        else:
            lines.append(f"{v.name}: ok: every applied revision matches its file")
        if v.recorded and v.changed:
            lines.append(f"  {len(v.recorded)} {_RECORDED}")
        lines += [f"  info: {c.describe().split(': ', 1)[1]}" for c in v.squashed]
        if v.squashed and v.accepted:
            lines.append("  info: the ledger now holds the baseline instead of the revisions it replaced")
    return "\n".join(lines)


def _pending(s: Status) -> str:
    if s.contract_pending:
        return f"{len(s.pending)} ({len(s.contract_pending)} contract)"
    return str(len(s.pending))


def fleet_summary(name: str, group: Sequence[Status]) -> str:
    """``tenants: 20 targets: 18 at head, 1 behind, 1 failed`` and the failures, one per line."""
    counts: dict[str, int] = {}
    for s in group:
        key = "failed" if s.state == "error" else s.state
        counts[key] = counts.get(key, 0) + 1
    parts = ", ".join(f"{n} {state}" for state, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    lines = [f"{name}: {len(group)} targets: {parts}"]
    lines += [f"  {s.name}: {s.error}" for s in group if s.state in ("error", "interrupted", "squashed away")]
    behind = [s.name for s in group if s.state not in ("at head", "error")]
    if behind:
        more = f" and {len(behind) - 10} more" if len(behind) > 10 else ""
        lines.append(f"  not at head: {', '.join(behind[:10])}{more}")
    return "\n".join(lines)


def currents(items: Sequence[Status]) -> str:
    lines = []
    for s in items:
        if s.state == "error":
            lines.append(f"{s.name}: error: {s.error}")
            continue
        marks = [f"{rev} (head)" if rev in s.heads else rev for rev in s.current]
        lines.append(f"{s.name}: {', '.join(marks) if marks else '(none)'}")
    return "\n".join(lines)


def run_results(results: Sequence[RunResult]) -> str:
    """A row per database; fleet targets summed up per fleet, with each failed target and its error."""
    if results and all(r.result == "sql written" for r in results):
        return "\n".join(f"{r.name}: wrote {r.output}" for r in results)
    fleets: dict[str, list[RunResult]] = {}
    rows = []
    for r in results:
        if "/" in r.name:
            fleets.setdefault(r.name.split("/", 1)[0], []).append(r)
        else:
            rows.append([r.name, revs(r.before), revs(r.after) if r.after_known else "(unknown)", _result(r)])
    parts = [table(["DATABASE", "FROM", "TO", "RESULT"], rows)] if rows else []
    for name, group in fleets.items():
        counts: dict[str, int] = {}
        for r in group:
            counts[r.result] = counts.get(r.result, 0) + 1
        summary = ", ".join(f"{n} {result}" for result, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        parts.append(f"{name}: {len(group)} targets: {summary}")
        parts += [f"  {r.name}: failed: {_without_name(r)}" for r in group if r.result == "failed"]
    return "\n".join(parts)


def _without_name(r: RunResult) -> str:
    error = r.error or ""
    return error[len(r.name) + 2 :] if error.startswith(f"{r.name}: ") else error


def _result(r: RunResult) -> str:
    if r.result == "failed":
        return f"failed: {r.error}"
    if r.applied and r.result in ("upgraded", "downgraded"):
        return f"{r.result} ({len(r.applied)} revision{'s' if len(r.applied) != 1 else ''})"
    return r.result


def revision_line(info: RevisionInfo) -> str:
    """``down -> rev (label) (head), message`` as Alembic's history shows it."""
    down = ", ".join(info.down_revision) if info.down_revision else "<base>"
    marks = []
    if info.branch_labels:
        marks.append(f"({', '.join(info.branch_labels)})")
    for flag, word in ((info.is_head, "head"), (info.is_branch_point, "branchpoint"), (info.is_merge, "mergepoint")):
        if flag:
            marks.append(f"({word})")
    if info.squashed:
        count = len(info.squashed)
        marks.append(f"(baseline: squashed {count} revision{'s' if count != 1 else ''})")
    mark = " " + " ".join(marks) if marks else ""
    return f"{down} -> {info.revision}{mark}, {info.message}"


def revision_detail(info: RevisionInfo) -> str:
    lines = [
        f"Rev: {info.revision}{' (head)' if info.is_head else ''}",
        f"Parent: {', '.join(info.down_revision) or '<base>'}",
    ]
    if info.branch_labels:
        lines.append(f"Branch names: {', '.join(info.branch_labels)}")
    if info.depends_on:
        lines.append(f"Also depends on: {', '.join(info.depends_on)}")
    if info.squashed:
        lines.append(f"Baseline of: {', '.join(info.squashed)} (multidb squash)")
    lines.append(f"Path: {info.path}")
    lines.append("")
    lines.extend("    " + line for line in (info.doc or info.message).splitlines())
    return "\n".join(lines)

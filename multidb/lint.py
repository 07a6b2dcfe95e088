"""A migration linter: each revision is rendered offline for its database's dialect, and the
operations it sends to Alembic's dialect implementation are checked against rules.

Nothing connects: the revision runs in Alembic's offline mode (as ``upgrade --sql`` does), and a
recorder on the migration context's implementation sees every operation with the line of the
revision file that asked for it (operations inside ``batch_alter_table`` are seen where the batch
ends). See docs/safe-deploys.md for each rule, why it exists and its fix.
"""

from __future__ import annotations

import ast
import io
import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Database, Project
from .errors import MultiDBError

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # "error" or "warning"
    why: str
    fix: str


RULES = {
    r.id: r
    for r in (
        Rule(
            "pg-index-not-concurrent",
            "error",
            "CREATE INDEX without CONCURRENTLY on an existing table blocks every write to it while the index builds",
            "op.create_index(..., postgresql_concurrently=True) inside `with op.get_context().autocommit_block():`",
        ),
        Rule(
            "not-null-without-default",
            "error",
            "a NOT NULL column without a default fails on a table with rows, or rewrites it (MariaDB, SQLite rebuild)",
            "add it nullable (or with server_default=...), backfill, then set NOT NULL in a later revision",
        ),
        Rule(
            "pg-set-not-null-scans",
            "warning",
            "SET NOT NULL on an existing PostgreSQL column scans the whole table under an ACCESS EXCLUSIVE lock",
            "first add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it in a later revision, then SET NOT NULL",
        ),
        Rule(
            "type-change-rewrites",
            "warning",
            "changing a column's type rewrites the table (and its indexes) under an exclusive lock",
            "add a column of the new type, backfill it in batches, switch the code, then drop the old column",
        ),
        Rule(
            "mariadb-ddl-with-dml",
            "warning",
            "MariaDB/MySQL commit each DDL statement: a failure after it leaves the data step half done",
            "move the data change into a revision of its own",
        ),
        Rule(
            "no-downgrade",
            "warning",
            "a revision without a downgrade cannot be rolled back, and downgrade silently does nothing",
            "write downgrade(), or raise multidb.Irreversible in it to say it cannot be undone",
        ),
        Rule(
            "not-rendered",
            "warning",
            "the revision could not be rendered offline, so it was not checked",
            "make the revision render with 'multidb upgrade DB --sql' (e.g. copy_from= for SQLite batches)",
        ),
    )
}
SEVERITIES = ("error", "warning")
_ALLOW = re.compile(r"#\s*multidb:\s*allow=([A-Za-z0-9_,-]+)")
_WATCHED = (
    "create_table",
    "drop_table",
    "rename_table",
    "add_column",
    "drop_column",
    "alter_column",
    "create_index",
    "drop_index",
    "add_constraint",
    "drop_constraint",
    "execute",
    "bulk_insert",
)
_DML = ("INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE")


@dataclass(frozen=True)
class Finding:
    database: str
    revision: str
    rule: str
    severity: str
    path: str
    line: int
    message: str
    fix: str

    def describe(self) -> str:
        return f"{self.path}:{self.line}: {self.severity} {self.rule}: {self.message}"


@dataclass(frozen=True)
class LintResult:
    """One database: the revisions checked (oldest first) and what was found."""

    name: str
    dialect: str
    revisions: tuple[str, ...]
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")


@dataclass
class _Op:
    name: str
    args: tuple
    kwargs: dict
    line: int


def lint_database(project: Project, db: Database, revisions: list[Script], allow: tuple[str, ...] = ()) -> LintResult:
    """Check ``revisions`` of ``db`` (rendered for its URL's dialect); ``allow``: rules silenced for all."""
    from .runner import load_history

    script = load_history(project, db)
    findings: list[Finding] = []
    for rev in revisions:
        findings.extend(f for f in lint_revision(project, db, script, rev) if f.rule not in allow)
    return LintResult(db.name, db.dialect, tuple(r.revision for r in revisions), tuple(findings))


def lint_revision(project: Project, db: Database, script: ScriptDirectory, rev: Script) -> list[Finding]:
    """The findings of one revision, less those its file silences with ``# multidb: allow=RULE reason``."""
    from .runner import relative

    path = str(rev.path)
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    silenced = {rule for match in _ALLOW.finditer(text) for rule in match.group(1).split(",")}
    shown = relative(path)

    def finding(rule: str, line: int, message: str) -> Finding:
        r = RULES[rule]
        return Finding(db.name, rev.revision, rule, r.severity, shown, line, message, r.fix)

    found = []
    ops, failure = _record(project, db, script, rev)
    if failure is not None:
        found.append(finding("not-rendered", 1, failure))
    found += _check_ops(db, ops, finding)
    line = _missing_downgrade(text)
    if line:
        found.append(finding("no-downgrade", line, "downgrade() does nothing"))
    return [f for f in found if f.rule not in silenced]


def _record(project: Project, db: Database, script: ScriptDirectory, rev: Script) -> tuple[list[_Op], str | None]:
    """Run the revision offline, recording each operation and its line; (ops, why it could not render)."""
    from . import alembic_private
    from .runner import run

    ops: list[_Op] = []
    parents = [p for p in _parents(rev)]

    def steps(_heads: Any, context: Any) -> list:
        _watch(context.impl, str(rev.path), ops)
        found = alembic_private.upgrade_steps(script, rev.revision, tuple(parents))
        return [s for s in found if s.revision.revision == rev.revision]

    try:
        run(project, db, steps, buffer=io.StringIO(), starting_rev=parents or None, destination_rev=rev.revision)
    except MultiDBError as e:
        return ops, e.lines()[0]
    return ops, None


def _parents(rev: Script) -> list[str]:
    down = rev.down_revision
    if down is None:
        return []
    return [down] if isinstance(down, str) else list(down)


def _watch(impl: Any, path: str, ops: list[_Op]) -> None:
    """Record each watched call on ``impl`` (this context's own object) before it renders its SQL."""
    target = str(Path(path).resolve())

    def wrap(name: str, original: Any) -> Any:
        def recording(*args: Any, **kwargs: Any) -> Any:
            ops.append(_Op(name, args, kwargs, _line(target)))
            return original(*args, **kwargs)

        return recording

    for name in _WATCHED:
        original = getattr(impl, name, None)
        if original is not None:
            setattr(impl, name, wrap(name, original))


def _line(path: str) -> int:
    for frame in reversed(traceback.extract_stack()):
        if frame.filename == path or str(Path(frame.filename).resolve()) == path:
            return frame.lineno or 1
    return 1


def _check_ops(db: Database, ops: list[_Op], finding: Any) -> list[Finding]:
    found = []
    created: set[str] = set()
    postgresql = db.dialect == "postgresql"
    ddl = dml = None
    for op in ops:
        kind = _kind(op)
        if kind == "ddl" and ddl is None:
            ddl = op
        if kind == "dml" and dml is None:
            dml = op
        if op.name == "create_table":
            created.add(op.args[0].name)
        elif op.name == "create_index" and postgresql:
            index = op.args[0]
            table = index.table.name if index.table is not None else "?"
            concurrent = index.dialect_kwargs.get("postgresql_concurrently") or op.kwargs.get("postgresql_concurrently")
            if table not in created and not concurrent:
                found.append(
                    finding("pg-index-not-concurrent", op.line, f"index {index.name} on {table} without CONCURRENTLY")
                )
        elif op.name == "add_column":
            table, column = op.args[0], op.args[1]
            if table not in created and not column.nullable and column.server_default is None:
                found.append(
                    finding("not-null-without-default", op.line, f"column {table}.{column.name} NOT NULL, no default")
                )
        elif op.name == "alter_column":
            found += _altered(db, op, created, finding)
    if db.dialect in ("mysql", "mariadb") and ddl is not None and dml is not None:
        found.append(finding("mariadb-ddl-with-dml", dml.line, "a data change in a revision that also changes DDL"))
    return found


def _altered(db: Database, op: _Op, created: set[str], finding: Any) -> list[Finding]:
    table, column = op.args[0], op.args[1]
    if table in created:
        return []
    found = []
    new, old = op.kwargs.get("type_"), op.kwargs.get("existing_type")
    if new is not None and not _widens(db, old, new):
        was = f" from {old}" if old is not None else ""
        found.append(finding("type-change-rewrites", op.line, f"column {table}.{column} type{was} to {new}"))
    tightened = op.kwargs.get("nullable") is False and op.kwargs.get("existing_nullable") is not False
    if db.dialect == "postgresql" and tightened:
        found.append(finding("pg-set-not-null-scans", op.line, f"column {table}.{column} SET NOT NULL"))
    return found


def _widens(db: Database, old: Any, new: Any) -> bool:
    """A longer VARCHAR (or VARCHAR to unlimited) on PostgreSQL changes only the catalog."""
    import sqlalchemy as sa

    if db.dialect != "postgresql" or old is None:
        return False
    if type(old) is not type(new) or not isinstance(new, sa.String):
        return False
    return new.length is None or (old.length is not None and new.length >= old.length)


def _kind(op: _Op) -> str | None:
    if op.name == "bulk_insert":
        return "dml"
    if op.name != "execute":
        return "ddl"
    statement = op.args[0] if op.args else op.kwargs.get("sql")
    import sqlalchemy as sa

    if isinstance(statement, sa.sql.dml.UpdateBase):
        return "dml"
    words = str(statement).lstrip().split(None, 1)
    first = words[0].upper() if words else ""
    if first in _DML:
        return "dml"
    return "ddl" if first in ("CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE") else None


def _missing_downgrade(text: str) -> int | None:
    """The line of a ``downgrade()`` that does nothing (only ``pass``, ``...`` or a docstring), or 1 if none."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "downgrade":
            empty = all(
                isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
                for s in node.body
            )
            return node.lineno if empty else None
    return 1


def select_revisions(
    script: ScriptDirectory, heads: tuple[str, ...] | None, since: str | None, everything: bool
) -> list[Script]:
    """The revisions to check, oldest first: all, those after ``since``, or those pending from ``heads``."""
    from . import alembic_private

    if everything:
        start: tuple[str, ...] = ()
    elif since is not None:
        start = (since,)
    else:
        start = heads or ()
    return [step.revision for step in alembic_private.upgrade_steps(script, "heads", start)]


def lint(
    project: Project,
    names: tuple[str, ...] = (),
    all_: bool = False,
    since: str | None = None,
    everything: bool = False,
) -> list[LintResult]:
    """Lint each database's revisions: pending ones (read from the database), those after ``since``, or all.

    A database that cannot be read falls back to its ``lint_since`` (when the config sets one).
    """
    from .errors import DatabaseError
    from .runner import current_heads, load_history, revision_errors, unknown_heads
    from .squashed import refuse

    results = []
    for db in project.select(names, all_):
        script = load_history(project, db)
        heads = None
        start = since
        if not everything and since is None:
            try:
                heads = current_heads(db)
            except DatabaseError:
                if db.lint_since is None:
                    raise
                start = db.lint_since
            else:
                refuse(db.name, script, unknown_heads(script, heads))  # at a revision a baseline replaced
        with revision_errors(db):
            revisions = select_revisions(script, heads, start, everything)
        results.append(lint_database(project, db, revisions, db.lint_allow))
    return results

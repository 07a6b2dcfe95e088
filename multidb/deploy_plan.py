"""``multidb plan`` (and ``upgrade --plan``): what an upgrade would do, changing nothing.

Per database: the pending revisions in order, each with its SQL rendered offline for the database's
dialect (one entry per statement), on PostgreSQL the table lock each statement takes and whether it
rewrites or scans the table, the table's size read from the live database, and the revision's lint
findings.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from .config import Database, Project
from .lint import Finding, lint_revision
from .table_sizes import TableSizes

# PostgreSQL's table-level lock per statement (first match wins), and what the statement does to the rows
_PG_LOCKS = (
    (r"^CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b", "SHARE UPDATE EXCLUSIVE", "scans (writes go on)"),
    (r"^CREATE\s+(UNIQUE\s+)?INDEX\b", "SHARE", "scans (writes wait)"),
    (r"^DROP\s+INDEX\s+CONCURRENTLY\b", "SHARE UPDATE EXCLUSIVE", ""),
    (r"^ALTER\s+TABLE\b.*\bVALIDATE\s+CONSTRAINT\b", "SHARE UPDATE EXCLUSIVE", "scans"),
    (r"^ALTER\s+TABLE\b.*\bFOREIGN\s+KEY\b.*\bNOT\s+VALID\b", "SHARE ROW EXCLUSIVE", ""),
    (r"^ALTER\s+TABLE\b.*\bFOREIGN\s+KEY\b", "SHARE ROW EXCLUSIVE", "scans"),
    (r"^ALTER\s+TABLE\b.*\bALTER\s+(COLUMN\s+)?[\w\"]+\s+(SET\s+DATA\s+)?TYPE\b", "ACCESS EXCLUSIVE", "rewrites"),
    # a column whose value is computed per row: a volatile default, a serial or identity, a stored generated column
    (
        r"^ALTER\s+TABLE\b.*\bADD\s+(COLUMN\s+)?.*(\bDEFAULT\b.*\b(random|clock_timestamp|timeofday|gen_random_uuid"
        r"|uuid_generate_v[14]|nextval)\s*\(|\b(SMALL|BIG)?SERIAL\b|\bGENERATED\b.*\b(IDENTITY|STORED)\b)",
        "ACCESS EXCLUSIVE",
        "rewrites",
    ),
    (r"^ALTER\s+TABLE\b.*\bSET\s+NOT\s+NULL\b", "ACCESS EXCLUSIVE", "scans"),
    (r"^ALTER\s+TABLE\b.*\bADD\s+CONSTRAINT\b.*\bNOT\s+VALID\b", "ACCESS EXCLUSIVE", ""),
    (r"^ALTER\s+TABLE\b.*\bADD\s+CONSTRAINT\b", "ACCESS EXCLUSIVE", "scans"),
    (r"^(ALTER|DROP|TRUNCATE)\s+TABLE\b", "ACCESS EXCLUSIVE", ""),
    (r"^DROP\s+INDEX\b", "ACCESS EXCLUSIVE", ""),
    (r"^(UPDATE|DELETE|INSERT|MERGE)\b", "ROW EXCLUSIVE", ""),
)
_TABLE = re.compile(r"\b(?:TABLE(?:\s+IF\s+(?:NOT\s+)?EXISTS)?|ON|INTO|UPDATE|FROM)\s+(?:ONLY\s+)?([`\"\w.]+)", re.I)


@dataclass(frozen=True)
class Statement:
    sql: str
    table: str | None
    lock: str | None  # PostgreSQL's lock level on ``table``; None elsewhere or when it takes none
    effect: str  # "rewrites", "scans", ... or ""
    rows: int | None  # the table's row estimate (PostgreSQL, MariaDB) or count (SQLite), read now
    bytes: int | None


@dataclass(frozen=True)
class PlannedRevision:
    revision: str
    path: str
    statements: tuple[Statement, ...]
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class DatabasePlan:
    name: str
    dialect: str
    current: tuple[str, ...]
    revisions: tuple[PlannedRevision, ...]
    server_version: str | None = None  # the live server's version the SQL was rendered for


def plan(project: Project, names: tuple[str, ...] = (), all_: bool = False) -> list[DatabasePlan]:
    """The plan of ``upgrade`` (to heads) for each database; reads each database, changes nothing."""
    from .lint import select_revisions
    from .runner import check_known, current_heads, load_history, relative, revision_errors

    found = []
    for db in project.select(names, all_):
        script = load_history(project, db)
        heads = current_heads(db)
        check_known(db, script, heads)
        with revision_errors(db):
            pending = select_revisions(script, heads, None, False)
        revisions = []
        sizes = TableSizes(db)  # a SQLite file not created yet: no table, nothing opened
        server = _version(sizes.conn) if db.dialect != "sqlite" else None
        try:
            for rev in pending:
                statements = [_statement(db, sql, sizes) for sql in _render_or_none(project, db, script, rev, sizes)]
                findings = lint_revision(project, db, script, rev, sizes)
                revisions.append(PlannedRevision(rev.revision, relative(rev.path), tuple(statements), tuple(findings)))
        finally:
            sizes.close()
        found.append(DatabasePlan(db.name, db.dialect, heads, tuple(revisions), server))
    return found


def _render_or_none(project: Project, db: Database, script: Any, rev: Any, sizes: TableSizes) -> list[str]:
    """The revision's statements; none when it does not render offline (it reads the database, say): its
    lint finding ``not-rendered`` says why, and the plan goes on with the revisions after it."""
    from .errors import MigrationError

    try:
        return _render(project, db, script, rev, sizes.conn)
    except MigrationError:
        return []


def _version(live: Any) -> str | None:
    info = getattr(getattr(live, "dialect", None), "server_version_info", None)
    return ".".join(str(part) for part in info) if info else None


def _render(project: Project, db: Database, script: Any, rev: Any, live: Any = None) -> list[str]:
    """The revision's statements as ``upgrade --sql`` writes them (multidb's own bookkeeping left out),
    for the server behind ``live`` (a connection to the database) when there is one: the offline
    dialect learns its version and features from it, as an online run's dialect would."""
    from . import alembic_private
    from .environment import bookkeeping_tables
    from .runner import run

    parents = [rev.down_revision] if isinstance(rev.down_revision, str) else list(rev.down_revision or ())
    sent: list[str] = []

    def steps(_heads: Any, context: Any) -> list:
        if live is not None and db.dialect != "sqlite":  # (SQLite's version is the library's, not a server's)
            context.dialect.initialize(live)  # reads the server's version and features; changes nothing
            live.rollback()
        original = context.impl.static_output

        def keep(text: str) -> None:
            sent.append(text)
            original(text)

        context.impl.static_output = keep
        found = alembic_private.upgrade_steps(script, rev.revision, tuple(parents))
        return [s for s in found if s.revision.revision == rev.revision]

    run(project, db, steps, buffer=io.StringIO(), starting_rev=parents or None, destination_rev=rev.revision)
    own = bookkeeping_tables(db)
    statements = []
    for text in sent:
        sql = text.strip().rstrip(";").strip()
        if not sql or sql.startswith("--") or sql.upper() in ("BEGIN", "COMMIT"):
            continue
        if _table_of(sql) in own:
            continue
        statements.append(sql)
    return statements


def _table_of(sql: str) -> str | None:
    match = _TABLE.search(sql)
    if not match:
        return None
    return match.group(1).strip('`"').split(".")[-1].strip('`"')


def _statement(db: Database, sql: str, sizes: TableSizes) -> Statement:
    table = _table_of(sql)
    lock, effect = pg_lock(sql) if db.dialect == "postgresql" else (None, "")
    rows, size = sizes.of(table) if table else (None, None)
    return Statement(sql, table, lock, effect, rows, size)


def pg_lock(sql: str) -> tuple[str | None, str]:
    """PostgreSQL's table lock for one statement, and whether it rewrites or scans the table."""
    flat = " ".join(sql.split())
    for pattern, level, what in _PG_LOCKS:
        if re.search(pattern, flat, re.I):
            return level, what
    return None, ""

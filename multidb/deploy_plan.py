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

_AEL, _SRE, _SUE = "ACCESS EXCLUSIVE", "SHARE ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE"

# PostgreSQL's table-level lock per statement (first match wins), what the statement does to the rows, and the other
# existing tables it locks in a mode that blocks writes: ("references", mode) the tables its REFERENCES clauses name,
# ("foreign keys dropped", mode) the tables at the other end of the foreign keys it drops (read from the live
# database, or from the plan's earlier statements), ("foreign keys retyped", mode) those at the other end of the keys
# on a column whose type changes (PostgreSQL drops and adds them again). An effect TYPE or DEFAULT is decided per
# statement: a type change or a computed default rewrites the table or not depending on the column's current type or
# the function's volatility; an effect WHERE: an UPDATE or DELETE without a WHERE reads every row, one with a WHERE
# reads what the query planner picks; KEYED: a column added with a REFERENCES is checked against the rows when it has
# a DEFAULT clause (even NULL), not without one; NOT_NULL: SET NOT NULL reads the rows unless a valid CHECK constraint
# proves the column is not null (PostgreSQL 12+); KEY_INDEX: a PRIMARY KEY USING INDEX reads them to set its columns
# NOT NULL, unless they are already; PERSISTENCE: SET LOGGED or UNLOGGED rewrites the table, unless it is so already.
# A column added with a CHECK, UNIQUE or PRIMARY KEY of its own is checked against the rows, or indexed: it scans
# (when nothing else rewrites). Checked against pg_locks, relfilenode and the table's sequential scans by
# tests/test_plan_truth.py.
TYPE, DEFAULT, WHERE = "<type change>", "<default>", "<where>"
KEYED, NOT_NULL, KEY_INDEX = "<new column's key>", "<not null>", "<primary key on an index>"
PERSISTENCE = "<logged or not>"
_PG_LOCKS: tuple[tuple[str, str | None, str, tuple[tuple[str, str], ...]], ...] = (
    (r"^COMMENT\s+ON\s+(TABLE|COLUMN)\b", _SUE, "", ()),
    (r"^CREATE\s+(OR\s+REPLACE\s+)?(CONSTRAINT\s+)?TRIGGER\b", _SRE, "", ()),
    (r"^DROP\s+TRIGGER\b", _AEL, "", ()),
    (r"^ALTER\s+TABLE\s+(ONLY\s+)?[\w.\"]+\s+(ENABLE|DISABLE)\s+((ALWAYS|REPLICA)\s+)?TRIGGER\b[^,]*$", _SRE, "", ()),
    (r"^CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\b", _SUE, "scans (writes go on)", ()),
    (r"^CREATE\s+(UNIQUE\s+)?INDEX\b", "SHARE", "scans (writes wait)", ()),
    (r"^CREATE\s+TABLE\b.*\bREFERENCES\b", None, "", (("references", _SRE),)),  # (the new table: no one waits)
    (r"^DROP\s+INDEX\s+CONCURRENTLY\b", _SUE, "", ()),
    # REINDEX builds each index again from the rows; CLUSTER writes the table again in the index's order
    (r"^REINDEX\s+(\([^)]*\)\s*)?(TABLE|INDEX)\s+CONCURRENTLY\b", _SUE, "scans (writes go on)", ()),
    (r"^REINDEX\s+(\([^)]*\)\s*)?(TABLE|INDEX)\b", "SHARE", "scans (writes wait)", ()),
    (r"^CLUSTER\s+(VERBOSE\s+)?[\w.\"]+", _AEL, "rewrites", ()),
    (r"^ALTER\s+TABLE\b.*\bVALIDATE\s+CONSTRAINT\b", _SUE, "scans", ()),
    (
        r"^ALTER\s+TABLE\b.*\bADD\s+(CONSTRAINT\s+\S+\s+)?FOREIGN\s+KEY\b.*\bNOT\s+VALID\b",
        _SRE,
        "",
        (("references", _SRE),),
    ),
    (r"^ALTER\s+TABLE\b.*\bADD\s+(CONSTRAINT\s+\S+\s+)?FOREIGN\s+KEY\b", _SRE, "scans", (("references", _SRE),)),
    (
        r"^ALTER\s+TABLE\b.*\bALTER\s+(COLUMN\s+)?[\w\"]+\s+(SET\s+DATA\s+)?TYPE\b",
        _AEL,
        TYPE,
        (("foreign keys retyped", _AEL),),
    ),
    # a column whose value is computed per row: a volatile default, a serial or identity, a stored generated column
    (
        r"^ALTER\s+TABLE\b.*\bADD\s+(COLUMN\s+)?.*(\b(SMALL|BIG)?SERIAL\b|\bGENERATED\b.*\b(IDENTITY|STORED)\b)",
        _AEL,
        "rewrites",
        (),
    ),
    (r"^ALTER\s+TABLE\b.*\bADD\s+(COLUMN\s+)?.*\bREFERENCES\b", _AEL, KEYED, (("references", _SRE),)),
    (r"^ALTER\s+TABLE\b.*\bADD\s+(COLUMN\s+)?.*\bDEFAULT\b.*\(", _AEL, DEFAULT, ()),
    (r"^ALTER\s+TABLE\b.*\bSET\s+NOT\s+NULL\b", _AEL, NOT_NULL, ()),
    (r"^ALTER\s+TABLE\b.*\bADD\s+(CONSTRAINT\b|CHECK\b).*\bNOT\s+VALID\b", _AEL, "", ()),
    (r"^ALTER\s+TABLE\b.*\bADD\s+(CONSTRAINT\s+\S+\s+)?UNIQUE\s+USING\s+INDEX\b", _AEL, "", ()),
    (r"^ALTER\s+TABLE\b.*\bADD\s+(CONSTRAINT\s+\S+\s+)?PRIMARY\s+KEY\s+USING\s+INDEX\b", _AEL, KEY_INDEX, ()),
    # a table constraint, named or not (Alembic's add_column(unique=True) writes ADD UNIQUE (c))
    (r"^ALTER\s+TABLE\b.*\bADD\s+(CONSTRAINT\b|UNIQUE\b|PRIMARY\s+KEY\b|CHECK\b|EXCLUDE\b)", _AEL, "scans", ()),
    (r"^ALTER\s+TABLE\b.*\bSET\s+(UN)?LOGGED\b", _AEL, PERSISTENCE, ()),
    # one subcommand that only changes statistics or storage settings
    (
        r"^ALTER\s+TABLE\s+(ONLY\s+)?[\w.\"]+\s+(ALTER\s+(COLUMN\s+)?[\w\"]+\s+SET\s+STATISTICS\s+-?\d+"
        r"|(SET|RESET)\s*\((?![^()]*user_catalog_table)[^()]*\)|CLUSTER\s+ON\s+[\w\"]+|SET\s+WITHOUT\s+CLUSTER)$",
        _SUE,
        "",
        (),
    ),
    (r"^(DROP\s+TABLE|ALTER\s+TABLE\b.*\bDROP\s+(COLUMN|CONSTRAINT))\b", _AEL, "", (("foreign keys dropped", _AEL),)),
    (r"^(ALTER|TRUNCATE)\s+TABLE\b", _AEL, "", ()),
    (r"^DROP\s+INDEX\b", _AEL, "", ()),
    (r"^(UPDATE|DELETE)\b", "ROW EXCLUSIVE", WHERE, ()),
    (r"^(INSERT|MERGE)\b", "ROW EXCLUSIVE", "", ()),
)
_TABLE = re.compile(
    r"^COMMENT\s+ON\s+(?:TABLE\s+([`\"\w.]+)|COLUMN\s+([`\"\w.]+)\.[`\"\w]+)"
    r"|^(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:CONSTRAINT\s+)?|DROP\s+)TRIGGER\b.*?\bON\s+(?:ONLY\s+)?([`\"\w.]+)"
    r"|^CLUSTER\s+(?:VERBOSE\s+)?([`\"\w.]+)"
    r"|^REINDEX\s+(?:\([^)]*\)\s*)?TABLE\s+(?:CONCURRENTLY\s+)?([`\"\w.]+)"
    r"|\b(?:TABLE(?:\s+IF\s+(?:NOT\s+)?EXISTS)?|ON|INTO|UPDATE|FROM)\s+(?:ONLY\s+)?([`\"\w.]+)",
    re.I,
)
_NAME = r'("[^"]+"|[\w]+)(?:\.("[^"]+"|[\w]+))?'
_REFERENCES = re.compile(r"\bREFERENCES\s+" + _NAME, re.I)
_INDEX_NAME = re.compile(
    r"^(?:CREATE\s+(?:UNIQUE\s+)?INDEX|DROP\s+INDEX|REINDEX\s+(?:\([^)]*\)\s*)?INDEX)\s+(?:CONCURRENTLY\s+)?"
    r"(?:IF\s+(?:NOT\s+)?EXISTS\s+)?" + _NAME,
    re.I,
)
_CONSTRAINT = re.compile(r"\bADD\s+CONSTRAINT\s+" + _NAME + r"\s+FOREIGN\s+KEY\s*\(([^)]*)\)", re.I)
_DROPPED = re.compile(r"\bDROP\s+(COLUMN|CONSTRAINT)\s+(?:IF\s+EXISTS\s+)?(\"[^\"]+\"|\w+)", re.I)
_TYPE_CHANGE = re.compile(
    r"\bALTER\s+(?:COLUMN\s+)?(\"[^\"]+\"|\w+)\s+(?:SET\s+DATA\s+)?TYPE\s+(.+?)(?:\s+COLLATE\s+(\S+))?"
    r"(\s+USING\s+.+?)?(?=,\s*(?:ALTER|ADD|DROP|RENAME|SET|VALIDATE)\b|$)",
    re.I,
)
_QUOTED = r'("[^"]+"|\w+)'
_ADD_COLUMN = (
    r"\bADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?!CONSTRAINT\b|FOREIGN\b|UNIQUE\b|PRIMARY\b|CHECK\b|EXCLUDE\b)"
    + _QUOTED
)
_ADDED = re.compile(_ADD_COLUMN, re.I)
_COLUMN_CHANGE = re.compile(  # a column added, retyped or renamed
    _ADD_COLUMN
    + r"|\bALTER\s+(?:COLUMN\s+)?"
    + _QUOTED
    + r"\s+(?:SET\s+DATA\s+)?TYPE\b|\bRENAME\s+(?:COLUMN\s+)?(?!TO\b)"
    + _QUOTED
    + r"\s+TO\s+"
    + _QUOTED,
    re.I,
)
_DEFAULT_CLAUSE = re.compile(r"(?<!SET )\bDEFAULT\b", re.I)  # (not a foreign key's ON DELETE SET DEFAULT)
_SET_NOT_NULL = re.compile(r"\bALTER\s+(?:COLUMN\s+)?" + _QUOTED + r"\s+SET\s+NOT\s+NULL\b", re.I)
_DROP_NOT_NULL = re.compile(r"\bALTER\s+(?:COLUMN\s+)?" + _QUOTED + r"\s+DROP\s+NOT\s+NULL\b", re.I)
_CHECK = re.compile(r"\bADD\s+CONSTRAINT\s+" + _QUOTED + r"\s+CHECK\b(.*)", re.I)
_VALIDATE = re.compile(r"\bVALIDATE\s+CONSTRAINT\s+" + _QUOTED, re.I)
_USING_INDEX = re.compile(r"\bUSING\s+INDEX\s+" + _NAME, re.I)
_COLUMN_CONSTRAINT = re.compile(r"\bCHECK\s*\(|\bUNIQUE\b|\bPRIMARY\s+KEY\b", re.I)
_CALL = re.compile(r"(?<!::)(?<![\w.])([a-z_][\w$]*)\s*\(", re.I)
# known to PostgreSQL's catalogue: without the live database, defaults calling these are known volatile or not
_VOLATILE = {"random", "clock_timestamp", "timeofday", "gen_random_uuid", "nextval"} | {
    "uuid_generate_v1",
    "uuid_generate_v4",
}
_NOT_VOLATILE = {"now", "statement_timestamp", "transaction_timestamp", "current_setting", "lower", "upper", "md5"}
_NOT_CALLS = (  # words before a parenthesis in a DEFAULT clause that are no function calls
    {"check", "references", "cast", "coalesce", "nullif", "greatest", "least", "row", "array", "as", "in", "not"}
    | {"varchar", "char", "character", "varying", "numeric", "decimal", "timestamp", "time", "interval", "bit"}
    | {"foreign", "key", "unique", "primary", "collate", "and", "or"}
)


@dataclass(frozen=True)
class Statement:
    sql: str
    table: str | None
    lock: str | None  # PostgreSQL's lock level on ``table``; None elsewhere or when it takes none
    effect: str  # "rewrites", "may rewrite", "scans", ... or ""
    rows: int | None  # the table's row estimate (PostgreSQL, MariaDB) or count (SQLite), read now
    bytes: int | None
    # PostgreSQL: the other existing tables the statement locks in a mode that blocks writes, in order
    other_locks: tuple[OtherLock, ...] = ()


@dataclass(frozen=True)
class OtherLock:
    table: str
    lock: str


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
        catalog = Catalog(sizes.conn if db.dialect == "postgresql" else None)
        linted = Catalog(catalog.conn)  # lint's own, fed op by op (the plan's has seen the whole revision)
        try:
            for rev in pending:
                rendered = _render_or_none(project, db, script, rev, sizes)
                statements = [_statement(db, sql, sizes, catalog) for sql in rendered]
                findings = lint_revision(project, db, script, rev, sizes, linted)
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
        if table_of(sql) in own:
            continue
        statements.append(sql)
    return statements


def table_of(sql: str) -> str | None:
    match = _TABLE.search(" ".join(sql.split()))
    if not match:
        return None
    return _bare(next(group for group in match.groups() if group))


def _bare(name: str) -> str:
    """``"public"."items"`` -> ``items``."""
    return name.strip('`"').split(".")[-1].strip('`"')


def _statement(db: Database, sql: str, sizes: TableSizes, catalog: Catalog) -> Statement:
    table = table_of(sql)
    lock, effect, others = (None, "", ())
    if db.dialect == "postgresql":
        table = catalog.index_table(sql) or table
        lock, effect, others = pg_locks(sql, catalog, table)
        catalog.saw(sql, table)
    rows, size = sizes.of(table) if table else (None, None)
    return Statement(sql, table, lock, effect, rows, size, others)


def pg_lock(sql: str) -> tuple[str | None, str]:
    """PostgreSQL's table lock for one statement, and whether it rewrites or scans the table (judged from the
    SQL alone: where that depends on a column's type or a function, "may rewrite")."""
    lock, effect, _ = pg_locks(sql, Catalog(None), table_of(sql))
    return lock, effect


def pg_locks(sql: str, catalog: Catalog, table: str | None) -> tuple[str | None, str, tuple[OtherLock, ...]]:
    """PostgreSQL's lock on ``table`` (the statement's), the effect on its rows, and the other tables it locks."""
    flat = " ".join(sql.split())
    for pattern, level, what, also in _PG_LOCKS:
        if re.search(pattern, flat, re.I | re.S):
            if what == TYPE:
                what = _type_change(flat, catalog, table)
            elif what == DEFAULT:
                what = _added_default(flat, catalog)
            elif what == WHERE:
                what = "" if _has_where(flat) else "scans"
            elif what == KEYED:
                what = _added_default(flat, catalog) or ("scans" if _DEFAULT_CLAUSE.search(flat) else "")
            elif what == NOT_NULL:
                what = "" if catalog.not_null_proven(flat, table) else "scans"
            elif what == KEY_INDEX:
                what = "" if catalog.index_columns_not_null(flat) else "scans"
            elif what == PERSISTENCE:
                what = "" if catalog.persistence_kept(flat, table) else "rewrites"
            if not what and _column_constrained(flat):
                what = "scans"
            others: list[OtherLock] = []
            for how, mode in also:
                if how == "references":
                    found = _references(flat)
                elif how == "foreign keys retyped":
                    found = catalog.foreign_keys_retyped(flat, table)
                else:
                    found = catalog.foreign_keys_dropped(flat, table)
                others += [OtherLock(t, mode) for t in found if t != table and OtherLock(t, mode) not in others]
            return level, what, tuple(others)
    return None, "", ()


def _column_constrained(sql: str) -> bool:
    """Whether a column the statement adds has a CHECK, UNIQUE or PRIMARY KEY of its own (in its definition, up
    to the statement's next action)."""
    for added in _ADDED.finditer(sql):
        rest = sql[added.end() :]
        end = re.search(r",\s*(?:ADD|ALTER|DROP|RENAME|SET|VALIDATE|OWNER|ENABLE|DISABLE)\b", rest, re.I)
        if _COLUMN_CONSTRAINT.search(rest[: end.start()] if end else rest):
            return True
    return False


def _has_where(sql: str) -> bool:
    """Whether the statement has a WHERE of its own (not one in a subquery, in parentheses, or in a string)."""
    from .lint_sql import tokens

    depth = 0
    for token in tokens(sql, "postgresql"):
        if token.kind == "symbol" and token.text in "()":
            depth += 1 if token.text == "(" else -1
        elif depth == 0 and token.is_("WHERE"):
            return True
    return False


def _proves_not_null(check: str, column: str) -> bool:
    """Whether a CHECK expression (as written, or as pg_get_constraintdef shows it) says ``column IS NOT NULL``
    in a conjunction: none with an OR or a NOT of a parenthesis is read (it may or may not prove it)."""
    if re.search(r"\bOR\b|\bNOT\s*\(", check, re.I):
        return False
    return re.search(r'(?<![\w"])"?' + re.escape(column) + r'"?\s+IS\s+NOT\s+NULL\b', check, re.I) is not None


def _references(sql: str) -> list[str]:
    return [_bare(m.group(2) or m.group(1)) for m in _REFERENCES.finditer(sql)]


# a type change that keeps the stored bytes: PostgreSQL changes the catalog only (a relabel, or a length or
# precision that only grows); anything else between the types below rewrites the table and its indexes
_ALIASES = {
    "character varying": "varchar",
    "int": "integer",
    "int4": "integer",
    "int8": "bigint",
    "int2": "smallint",
    "decimal": "numeric",
    "float8": "double precision",
    "float": "double precision",
    "float4": "real",
    "bool": "boolean",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
    "time without time zone": "time",
    "character": "bpchar",
    "char": "bpchar",
}
_KNOWN_TYPES = {
    "varchar",
    "text",
    "bpchar",
    "integer",
    "bigint",
    "smallint",
    "numeric",
    "real",
    "double precision",
    "boolean",
} | {"date", "timestamp", "timestamptz", "time", "uuid", "json", "jsonb", "bytea"}


def _type(text: str) -> tuple[str, tuple[int, ...] | None]:
    """``VARCHAR(100)`` -> ``("varchar", (100,))``; ``character varying`` -> ``("varchar", None)``."""
    match = re.fullmatch(r"\s*([a-z_ ]+?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*", text.lower())
    if not match:
        return text.strip().lower(), None
    base = _ALIASES.get(match.group(1), match.group(1))
    args = tuple(int(g) for g in match.group(2, 3) if g is not None)
    return base, args or None


def _keeps_bytes(old: tuple[str, tuple[int, ...] | None], new: tuple[str, tuple[int, ...] | None]) -> bool | None:
    """Whether PostgreSQL changes the type without a rewrite: True, False, or None when it cannot be told."""
    if old == new:
        return True
    (was, before), (now, after) = old, new
    if was not in _KNOWN_TYPES or now not in _KNOWN_TYPES:
        return None
    if was in ("varchar", "text") and now in ("varchar", "text"):
        if now == "text" or after is None:
            return True
        return was == "varchar" and before is not None and after[0] >= before[0]
    if was == now == "numeric":
        if after is None:
            return True
        return before is not None and len(before) == len(after) and after[0] >= before[0] and before[1:] == after[1:]
    if {was, now} == {"timestamp", "timestamptz"}:
        return None  # no rewrite when the session's TimeZone is UTC (PostgreSQL 12+), a rewrite otherwise
    return False


def pg_keeps_rows(old: str, new: str) -> bool | None:
    """Whether PostgreSQL changes a column from type ``old`` to ``new`` (as DDL writes them, ``VARCHAR(50)``)
    without rewriting the table: True, False, or None when that cannot be told (lint uses it too)."""
    return _keeps_bytes(_type(old), _type(new))


def _type_change(sql: str, catalog: Catalog, table: str | None) -> str:
    verdicts = set()
    for match in _TYPE_CHANGE.finditer(sql):
        column, new, collation, using = match.group(1).strip('"'), _type(match.group(2)), match.group(3), match.group(4)
        old = catalog.column_type(table, column)
        keeps = None if old is None else _keeps_bytes(_type(old), new)
        if using and keeps:
            keeps = None  # a USING expression may compute every value, or simplify to the column itself
        if keeps and (catalog.checked(table, column) or catalog.recollated_index(table, column, collation)):
            # PostgreSQL adds the column's CHECK constraints again (it checks the rows), builds its indexes again
            # for another collation
            verdicts.add("scans")
        else:
            verdicts.add("may rewrite" if keeps is None else "" if keeps else "rewrites")
    for verdict in ("rewrites", "may rewrite", "scans"):
        if verdict in verdicts:
            return verdict
    return ""


def _added_default(sql: str, catalog: Catalog) -> str:
    """A column added with a default: PostgreSQL 11+ stores a non-volatile default once; a volatile one is
    computed for each row, rewriting the table."""
    default = re.search(r"\bDEFAULT\b(.*)", sql, re.I | re.S)
    if not default:
        return ""
    verdict = ""
    expression = re.sub(r"\bREFERENCES\s+\S+\s*(\([^)]*\))?", "", default.group(1), flags=re.I)
    for name in {m.group(1).lower() for m in _CALL.finditer(expression)} - _NOT_CALLS:
        volatile = catalog.volatile(name)
        if volatile:
            return "rewrites"
        if volatile is None:
            verdict = "may rewrite"
    return verdict


class Catalog:
    """What plan reads from the live PostgreSQL database beyond the statements (which table an index is on, a
    column's type, the foreign keys a drop removes, a function's volatility), with what the plan's earlier
    statements changed: for those, the live database is out of date. ``conn`` None: nothing is read."""

    def __init__(self, conn: Any):
        self.conn = conn
        self.indexes: dict[str, str] = {}  # created by an earlier statement: index -> table
        self.keys: dict[str, list[tuple[str | None, str, str]]] = {}  # table -> (constraint, columns, referenced)
        self.changed: set[tuple[str, str | None]] = set()  # (table, column or None: all) changed earlier
        self.functions: set[str] = set()  # functions created or replaced earlier in the plan
        # CHECK constraints added or validated earlier in the plan: (table, name) -> (expression, valid)
        self.checks: dict[tuple[str, str], tuple[str, bool]] = {}
        self.dropped: set[tuple[str, str]] = set()  # constraints dropped earlier in the plan
        self.nullable: set[tuple[str, str]] = set()  # columns whose NOT NULL an earlier statement drops

    def _read(self, sql: str, **params: Any) -> list[tuple]:
        import sqlalchemy as sa
        from sqlalchemy.exc import DBAPIError

        if self.conn is None:
            return []
        try:
            return [tuple(row) for row in self.conn.execute(sa.text(sql), params)]
        except DBAPIError:
            return []
        finally:
            self.conn.rollback()

    def saw(self, sql: str, table: str | None) -> None:
        """Remember what a statement of the plan creates or changes, for the statements after it."""
        flat = " ".join(sql.split())
        index = _INDEX_NAME.match(flat)
        if index and flat.upper().startswith("CREATE") and table:
            self.indexes[_bare(index.group(2) or index.group(1))] = table
        if table and re.match(r"^CREATE\s+TABLE\b", flat, re.I):
            self.changed.add((table, None))
            self.keys.setdefault(table, []).extend((None, "", target) for target in _references(flat))
        elif table and re.match(r"^ALTER\s+TABLE\b", flat, re.I):
            renamed = re.search(r"\bRENAME\s+TO\s+" + _NAME, flat, re.I)
            if renamed:
                self.changed.add((_bare(renamed.group(2) or renamed.group(1)), None))
            for match in _COLUMN_CHANGE.finditer(flat):
                self.changed.update((table, _bare(name)) for name in match.groups() if name)
            for match in _CONSTRAINT.finditer(flat):
                target = _REFERENCES.search(flat, match.end())
                if target:
                    name = _bare(match.group(2) or match.group(1))
                    self.keys.setdefault(table, []).append(
                        (name, match.group(3), _bare(target.group(2) or target.group(1)))
                    )
            self._saw_checks(flat, table)
            added = _ADDED.search(flat)
            if added and not _CONSTRAINT.search(flat):
                self.keys.setdefault(table, []).extend((None, added.group(1), target) for target in _references(flat))
        function = re.match(r"^CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+" + _NAME, flat, re.I)
        if function:
            self.functions.add(_bare(function.group(2) or function.group(1)).lower())

    def _saw_checks(self, flat: str, table: str) -> None:
        check = _CHECK.search(flat)
        if check:
            expression = check.group(2)
            valid = not re.search(r"\bNOT\s+VALID\b", expression, re.I)
            self.checks[(table, _bare(check.group(1)))] = (expression, valid)
        validated = _VALIDATE.search(flat)
        if validated:
            key = (table, _bare(validated.group(1)))
            found = [self.checks[key][0]] if key in self.checks else [r[0] for r in self._live_checks(*key)]
            if found:
                self.checks[key] = (found[0], True)
        for match in _DROP_NOT_NULL.finditer(flat):
            self.nullable.add((table, _bare(match.group(1))))
        for dropped in _DROPPED.finditer(flat):
            if dropped.group(1).upper() == "CONSTRAINT":
                key = (table, _bare(dropped.group(2)))
                self.checks.pop(key, None)
                self.dropped.add(key)

    def _live_checks(self, table: str, name: str | None = None) -> list[tuple]:
        """(definition, name) of the table's CHECK constraints in the live database: the valid ones, or the one
        named."""
        where = "conname = :n" if name else "convalidated"
        return self._read(
            "SELECT pg_get_constraintdef(oid), conname FROM pg_constraint "
            f"WHERE conrelid = to_regclass(:t) AND contype = 'c' AND {where}",
            t=table,
            n=name,
        )

    def not_null_proven(self, sql: str, table: str | None) -> bool:
        """Whether a valid CHECK constraint proves every column a ``SET NOT NULL`` names is not null: PostgreSQL
        12+ then sets it without reading the rows."""
        columns = [_bare(match.group(1)) for match in _SET_NOT_NULL.finditer(sql)]
        if table is None or not columns:
            return False
        proofs = [expression for (t, _), (expression, valid) in self.checks.items() if t == table and valid]
        if (table, None) not in self.changed:
            proofs += [
                definition
                for definition, name in self._live_checks(table)
                if (table, name) not in self.dropped and (table, name) not in self.checks
            ]
        return all(
            any(_proves_not_null(proof, column) for proof in proofs) or self._not_null(table, column)
            for column in columns
        )

    def _not_null(self, table: str, column: str) -> bool:
        """Whether the live column is NOT NULL (and no earlier statement of the plan changed that)."""
        if {(table, None), (table, column)} & self.changed or (table, column) in self.nullable:
            return False
        found = self._read(
            "SELECT attnotnull FROM pg_attribute WHERE attrelid = to_regclass(:t) AND attname = :c "
            "AND attnum > 0 AND NOT attisdropped",
            t=table,
            c=column,
        )
        return bool(found and found[0][0])

    def persistence_kept(self, sql: str, table: str | None) -> bool:
        """Whether the live table is already as SET LOGGED / UNLOGGED makes it (PostgreSQL then does nothing)."""
        if table is None or (table, None) in self.changed:
            return False
        wanted = "u" if re.search(r"\bSET\s+UNLOGGED\b", sql, re.I) else "p"
        found = self._read("SELECT relpersistence FROM pg_class WHERE oid = to_regclass(:t)", t=table)
        return bool(found) and found[0][0] == wanted

    def checked(self, table: str | None, column: str) -> bool:
        """Whether a valid CHECK constraint of the table uses the column (live, or added earlier in the plan)."""
        if table is None:
            return False
        uses = re.compile(r'(?<![\w"])"?' + re.escape(column) + r'"?(?![\w"])', re.I)
        if any(t == table and valid and uses.search(e) for (t, _), (e, valid) in self.checks.items()):
            return True
        if {(table, None), (table, column)} & self.changed:
            return False
        found = self._read(
            "SELECT k.conname FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid "
            "AND a.attnum = ANY(k.conkey) WHERE k.conrelid = to_regclass(:t) AND k.contype = 'c' "
            "AND k.convalidated AND a.attname = :c",
            t=table,
            c=column,
        )
        return any((table, name) not in self.dropped for (name,) in found)

    def recollated_index(self, table: str | None, column: str, collation: str | None) -> bool:
        """Whether the live column has an index and ``collation`` is another than its own."""
        if table is None or collation is None:
            return False
        found = self._read(
            "SELECT coalesce(c.collname, ''), EXISTS (SELECT 1 FROM pg_depend d JOIN pg_class i ON i.oid = d.objid "
            "AND i.relkind = 'i' WHERE d.refobjid = a.attrelid AND d.refobjsubid = a.attnum) "
            "FROM pg_attribute a LEFT JOIN pg_collation c ON c.oid = a.attcollation "
            "WHERE a.attrelid = to_regclass(:t) AND a.attname = :c AND a.attnum > 0 AND NOT a.attisdropped",
            t=table,
            c=column,
        )
        return bool(found) and found[0][1] and found[0][0] != collation.strip('"')

    def index_columns_not_null(self, sql: str) -> bool:
        """Whether the columns of the live index a ``PRIMARY KEY USING INDEX`` takes are all NOT NULL already."""
        match = _USING_INDEX.search(sql)
        if not match or _bare(match.group(2) or match.group(1)) in self.indexes:
            return False
        found = self._read(
            "SELECT bool_and(a.attnotnull) FROM pg_index i JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indexrelid = to_regclass(:i)",
            i=".".join(m for m in match.group(1, 2) if m),
        )
        return bool(found and found[0][0])

    def index_table(self, sql: str) -> str | None:
        """The table of the index a ``DROP INDEX`` drops or a ``REINDEX INDEX`` builds (the statement does not say)."""
        flat = " ".join(sql.split())
        match = _INDEX_NAME.match(flat)
        if not match or not flat.upper().startswith(("DROP", "REINDEX")):
            return None
        name = _bare(match.group(2) or match.group(1))
        if name in self.indexes:
            return self.indexes[name]
        found = self._read(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
            "WHERE i.indexrelid = to_regclass(:i)",
            i=".".join(m for m in match.group(1, 2) if m),
        )
        return found[0][0] if found else None

    def column_type(self, table: str | None, column: str) -> str | None:
        if table is None or {(table, None), (table, column)} & self.changed:
            return None
        found = self._read(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = to_regclass(:t) AND attname = :c AND attnum > 0 AND NOT attisdropped",
            t=table,
            c=column,
        )
        return found[0][0] if found else None

    def volatile(self, function: str) -> bool | None:
        """Whether a function of that name is volatile; None when that cannot be told."""
        if function in self.functions:
            return None
        if self.conn is None:
            return True if function in _VOLATILE else False if function in _NOT_VOLATILE else None
        kinds = {
            row[0] for row in self._read("SELECT DISTINCT provolatile FROM pg_proc WHERE proname = :n", n=function)
        }
        if not kinds:
            return None
        return True if kinds == {"v"} else False if "v" not in kinds else None

    def foreign_keys_dropped(self, sql: str, table: str | None) -> list[str]:
        """The tables at the other end of the foreign keys a ``DROP TABLE``, ``DROP COLUMN`` or ``DROP
        CONSTRAINT`` removes: PostgreSQL drops their triggers there too, under ACCESS EXCLUSIVE."""
        if table is None:
            return []
        dropped = _DROPPED.search(sql) if not re.match(r"^DROP\s+TABLE", sql, re.I) else None
        if dropped is None:
            return self._keys(table, "table", None)
        return self._keys(table, dropped.group(1).lower(), dropped.group(2).strip('"'))

    def foreign_keys_retyped(self, sql: str, table: str | None) -> list[str]:
        """The tables at the other end of the foreign keys on the columns an ``ALTER COLUMN ... TYPE`` changes:
        PostgreSQL drops each key and adds it again, under ACCESS EXCLUSIVE on both tables."""
        found: list[str] = []
        for match in _TYPE_CHANGE.finditer(sql) if table else ():
            found += [t for t in self._keys(table, "column", match.group(1).strip('"')) if t not in found]
        return found

    def _keys(self, table: str, kind: str, name: str | None) -> list[str]:
        """The tables at the other end of the table's foreign keys: all (kind "table"), the constraint named, or
        those on the column named (either end)."""
        earlier = self.keys.get(table, [])
        if kind == "table":
            where, params = "conrelid = to_regclass(:t) OR confrelid = to_regclass(:t)", {}
            found = [ref for _, _, ref in earlier]
        elif kind == "constraint":
            where, params = "conrelid = to_regclass(:t) AND conname = :n", {"n": name}
            found = [ref for key, _, ref in earlier if key == name]
        else:
            column = name
            where = (
                "(conrelid = to_regclass(:t) AND (SELECT attnum FROM pg_attribute WHERE attrelid = to_regclass(:t) "
                "AND attname = :n) = ANY(conkey)) OR (confrelid = to_regclass(:t) AND (SELECT attnum FROM "
                "pg_attribute WHERE attrelid = to_regclass(:t) AND attname = :n) = ANY(confkey))"
            )
            params = {"n": column}
            found = [ref for _, columns, ref in earlier if column in [c.strip(' "') for c in columns.split(",")]]
        rows = self._read(
            "SELECT DISTINCT c.relname FROM pg_constraint k JOIN pg_class c "
            "ON c.oid = CASE WHEN k.conrelid = to_regclass(:t) THEN k.confrelid ELSE k.conrelid END "
            f"WHERE k.contype = 'f' AND ({where})",
            t=table,
            **params,
        )
        return found + sorted(row[0] for row in rows)

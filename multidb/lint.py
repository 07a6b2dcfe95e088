"""A migration linter: each revision is rendered offline for its database's dialect, and the
operations it sends to Alembic's dialect implementation are checked against rules.

The revision runs in Alembic's offline mode (as ``upgrade --sql`` does), and a recorder on the
migration context's implementation sees every operation with the line of the revision file that
asked for it (operations inside ``batch_alter_table`` are seen where the batch ends). Two kinds of
rules look further: ``contract-before-expand`` compares drops and renames with the database's models
(``metadata:``), and ``unbatched-update`` / ``sqlite-batch-rebuild-large`` with the live tables'
sizes, when a caller (``lint``'s default mode, ``plan``) passes them; only the sizes need a
connection. SQL text given to ``op.execute`` is read (multidb.lint_sql) into the records the ``op.*``
call making the same change produces, so each rule has one implementation for both. See
docs/safe-deploys.md for each rule, why it exists and its fix.
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

    from .table_sizes import TableSizes


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
            "pg-fk-not-valid",
            "error",
            "a foreign key added to an existing PostgreSQL table scans it under SHARE ROW EXCLUSIVE on both tables",
            'op.execute("ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES p (id) NOT VALID"), '
            'then op.execute("ALTER TABLE t VALIDATE CONSTRAINT fk") in a later revision',
        ),
        Rule(
            "contract-before-expand",
            "error",
            "the models still declare what the revision drops or renames, so the code being deployed still reads it",
            'change the code (models) to stop using it first; drop or rename it in a later, phase = "contract" '
            "revision",
        ),
        Rule(
            "rename-breaks-running-code",
            "warning",
            "a renamed table or column breaks the code still running while the deploy goes on (it reads the old name)",
            "add the new one and copy the data (expand), switch the code, then drop the old one in a "
            'phase = "contract" revision; or mark this revision phase = "contract" if no running code uses the name',
        ),
        Rule(
            "unbatched-update",
            "warning",
            "one UPDATE or DELETE over a large table locks its rows for the whole statement and bloats the log",
            "multidb.data.update_in_batches(table, values, where=...) for an UPDATE, "
            "multidb.data.delete_in_batches(table, where=...) for a DELETE (online=True in a revision of its own)",
        ),
        Rule(
            "sqlite-batch-rebuild-large",
            "warning",
            "SQLite batch mode recreates the table: every row is copied while the whole database is locked",
            "rebuild it in a maintenance window, or make the change one SQLite does in place (ADD COLUMN, RENAME)",
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
            "make the revision render with 'multidb upgrade DB --sql' (e.g. copy_from= for SQLite batches; "
            "reads of the database skipped when context.is_offline_mode())",
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
# the execution option multidb.data's batch helpers put on the one statement they hand over under --sql
BATCHED = "multidb_batched"


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
class Op:
    """One operation a revision calls (Alembic's impl method name and arguments) and its line; lint_sql makes
    the same records from SQL text."""

    name: str
    args: tuple
    kwargs: dict
    line: int


@dataclass(frozen=True)
class _Known:
    """What the rules know beyond the revision's operations."""

    models: Any  # the database's models (environment.Models: imported when first read), or None: none named
    contract: bool  # the revision says phase = "contract"
    sizes: TableSizes | None  # the live database's tables, or None: no database at hand
    large: int  # lint_large_table_rows
    default_schema: str | None = None  # the schema a name without one is in (public, main, the URL's database)
    # CHECK constraints of the live database (PostgreSQL) and those the revisions linted before added,
    # validated or dropped: a valid CHECK (col IS NOT NULL) makes SET NOT NULL skip its scan
    catalog: Any = None


@dataclass
class _Rebuild:
    """A table recreated: by Alembic's batch mode (``batch``), or by hand (a new table created, the old one
    dropped, the new one renamed to the old name); the table as it was (None if not seen) and as it will be."""

    table: str
    old: Any
    new: Any
    batch: bool = True


def lint_database(
    project: Project,
    db: Database,
    revisions: list[Script],
    allow: tuple[str, ...] = (),
    sizes: TableSizes | None = None,
) -> LintResult:
    """Check ``revisions`` of ``db`` (rendered for its URL's dialect); ``allow``: rules silenced for all;
    ``sizes``: the live database's tables as they are before ``revisions`` (None: no database at hand)."""
    from .deploy_plan import Catalog
    from .runner import load_history

    script = load_history(project, db)
    findings: list[Finding] = []
    catalog = Catalog(sizes.conn if sizes is not None and db.dialect == "postgresql" else None)
    for rev in revisions:
        found = lint_revision(project, db, script, rev, sizes, catalog)
        findings.extend(f for f in found if f.rule not in allow)
    return LintResult(db.name, db.dialect, tuple(r.revision for r in revisions), tuple(findings))


def lint_revision(
    project: Project,
    db: Database,
    script: ScriptDirectory,
    rev: Script,
    sizes: TableSizes | None = None,
    catalog: Any = None,
) -> list[Finding]:
    """The findings of one revision, less those its file silences with ``# multidb: allow=RULE reason``.

    ``sizes`` reads the live database's table sizes (the rules about large tables); without it those
    rules fall back to what the SQL shows, or stay silent. The models (``metadata:`` in the config) are
    imported when the revision drops or renames a table or column. ``catalog``: a
    :class:`~multidb.deploy_plan.Catalog` carried from the revisions linted before this one.
    """
    from .environment import Models
    from .phases import is_contract
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
        found.append(finding("not-rendered", _failed_line(failure, path), failure.lines()[0]))
    models = Models(project, db) if db.metadata else None  # imported when a drop or rename asks
    known = _Known(models, is_contract(rev), sizes, db.lint_large_table_rows, _default_schema(db), catalog)
    found += _check_ops(db, ops, finding, known)
    line = _missing_downgrade(text)
    if line:
        found.append(finding("no-downgrade", line, "downgrade() does nothing"))
    return [f for f in found if f.rule not in silenced]


def _record(
    project: Project, db: Database, script: ScriptDirectory, rev: Script
) -> tuple[list[Op], MultiDBError | None]:
    """Run the revision offline, recording each operation and its line; (ops, why it could not render)."""
    from . import alembic_private
    from .runner import run

    ops: list[Op] = []
    parents = [p for p in _parents(rev)]

    def steps(_heads: Any, context: Any) -> list:
        _watch(context.impl, str(rev.path), ops)
        found = alembic_private.upgrade_steps(script, rev.revision, tuple(parents))
        return [s for s in found if s.revision.revision == rev.revision]

    try:
        run(project, db, steps, buffer=io.StringIO(), starting_rev=parents or None, destination_rev=rev.revision)
    except MultiDBError as e:
        return ops, e
    return ops, None


def _failed_line(failure: MultiDBError, path: str) -> int:
    """The line of the revision's own file where rendering it failed (1 when the error names none there)."""
    where = getattr(failure, "revision_file", None) or ""
    file, _, line = where.rpartition(", line ")
    return int(line) if file == path and line.isdigit() else 1


def _parents(rev: Script) -> list[str]:
    down = rev.down_revision
    if down is None:
        return []
    return [down] if isinstance(down, str) else list(down)


def _watch(impl: Any, path: str, ops: list[Op]) -> None:
    """Record each watched call on ``impl`` (this context's own object) before it renders its SQL."""
    target = str(Path(path).resolve())

    def wrap(name: str, original: Any) -> Any:
        def recording(*args: Any, **kwargs: Any) -> Any:
            ops.append(Op(name, args, kwargs, _line(target)))
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


def _default_schema(db: Database) -> str | None:
    if db.dialect == "postgresql":
        return db.schema or "public"
    if db.dialect == "sqlite":
        return "main"
    from sqlalchemy.engine import make_url

    return make_url(db.url).database  # MariaDB/MySQL: the database is the schema


def _read_sql_text(db: Database, ops: list[Op]) -> list[Op]:
    """``ops`` with each ``op.execute`` of SQL text replaced by the records of its statements: those of the
    same change made through ``op.*`` where the statement is one lint reads (see multidb.lint_sql)."""
    from . import lint_sql

    found = []
    for op in ops:
        text = _text(op.args[0] if op.args else op.kwargs.get("sql")) if op.name == "execute" else None
        found += [op] if text is None else lint_sql.records(text, db.dialect, op.line)
    return found


def _check_ops(db: Database, ops: list[Op], finding: Any, known: _Known) -> list[Finding]:
    found = []
    ops = _read_sql_text(db, ops)
    created: set[str] = set()
    rebuilds, parts = _rebuilds(ops)
    postgresql = db.dialect == "postgresql"
    ddl = dml = None
    for index, op in enumerate(ops):
        kind = _kind(op)
        if kind == "ddl" and ddl is None:
            ddl = op
        if kind == "dml" and dml is None:
            dml = op
        if index in parts:  # the drop and rename that end a batch rebuild: seen with its create_table
            continue
        if op.name == "create_table":
            if index in rebuilds:
                found += _rebuilt(db, op, rebuilds[index], created, finding, known)
            created.add(op.args[0].name)
        elif op.name == "create_index" and postgresql:
            index_ = op.args[0]
            table = index_.table.name if index_.table is not None else "?"
            concurrent = index_.dialect_kwargs.get("postgresql_concurrently") or op.kwargs.get(
                "postgresql_concurrently"
            )
            if table not in created and not concurrent:
                found.append(
                    finding("pg-index-not-concurrent", op.line, f"index {index_.name} on {table} without CONCURRENTLY")
                )
        elif op.name == "add_column":
            table, column = op.args[0], op.args[1]
            if table not in created and not column.nullable and column.server_default is None:
                found.append(
                    finding("not-null-without-default", op.line, f"column {table}.{column.name} NOT NULL, no default")
                )
            if postgresql and table not in created and column.foreign_keys and op.kwargs.get("inline_references"):
                target = next(iter(column.foreign_keys)).target_fullname
                found.append(
                    finding(
                        "pg-fk-not-valid",
                        op.line,
                        f"column {table}.{column.name} REFERENCES {target} without NOT VALID",
                    )
                )
        elif op.name == "alter_column":
            found += _altered(db, op, created, finding, known)
        elif op.name == "add_constraint" and postgresql:
            found += _foreign_key(op, created, finding)
            _saw_check(op, known)
        elif op.name in ("drop_table", "drop_column", "rename_table"):
            found += _contracted(op, created, finding, known)
        elif op.name == "execute":
            found += _executed(op, created, finding, known)
            text = _text(op.args[0] if op.args else op.kwargs.get("sql"))
            if postgresql and known.catalog is not None and text is not None:
                from .deploy_plan import table_of

                known.catalog.saw(text, table_of(text))
    if db.dialect in ("mysql", "mariadb") and ddl is not None and dml is not None:
        found.append(finding("mariadb-ddl-with-dml", dml.line, "a data change in a revision that also changes DDL"))
    return found


def _rebuilds(ops: list[Op]) -> tuple[dict[int, _Rebuild], set[int]]:
    """Tables recreated (by batch mode, or by hand: create, drop the old, rename the new to its name), by
    the index of the ``create_table`` of the new table, and the indices of the ``drop_table`` and
    ``rename_table`` that finish each rebuild."""
    from . import alembic_private

    found: dict[int, _Rebuild] = {}
    parts: set[int] = set()
    for i, op in enumerate(ops):
        if op.name != "create_table":
            continue
        temp = op.args[0]
        batch = alembic_private.batch_temp_table(temp.name)
        rename = next((j for j in range(i + 1, len(ops)) if _renames(ops[j], temp.name)), None)
        if rename is None:
            continue
        target = ops[rename].args[1]
        drop = next(
            (j for j in range(i + 1, rename) if ops[j].name == "drop_table" and ops[j].args[0].name == target), None
        )
        if drop is None and not batch:  # a new table given another name: no rebuild
            continue
        parts.add(rename)
        if drop is not None:
            parts.add(drop)
        found[i] = _Rebuild(target, ops[drop].args[0] if drop is not None else None, temp, batch)
    return found, parts


def _renames(op: Op, name: str) -> bool:
    return op.name == "rename_table" and len(op.args) >= 2 and op.args[0] == name


def _rebuilt(db: Database, op: Op, rebuild: _Rebuild, created: set[str], finding: Any, known: _Known) -> list:
    table = rebuild.table
    if table in created:
        return []
    found = []
    what = "batch rebuild" if rebuild.batch else "rebuild"
    kept = {c.name for c in rebuild.new.columns}
    if rebuild.old is not None and rebuild.old.columns:
        lost = [c.name for c in rebuild.old.columns if c.name not in kept]
    elif rebuild.old is not None and kept:  # the old table's columns not seen (a drop_table): the models'
        lost = [c for c in _declared_columns(known, table, rebuild.new.schema) if c not in kept]
    else:
        lost = []
    still = [c for c in lost if _declared(known, table, rebuild.new.schema, c)]
    if still:
        columns = ", ".join(f"{table}.{c}" for c in still)
        found.append(
            finding(
                "contract-before-expand",
                op.line,
                f"{what} of {table} leaves out {columns}, which the models still declare",
            )
        )
    if db.dialect == "sqlite" and known.sizes is not None:
        rows = known.sizes.rows(table, rebuild.new.schema, known.large)
        if rows is not None and rows >= known.large:
            found.append(finding("sqlite-batch-rebuild-large", op.line, f"{what} of {table}, {_size(rows, known)}"))
    return found


def _size(rows: int, known: _Known) -> str:
    """A table's size against the threshold (a SQLite count stops at it)."""
    count = f"~{rows}" if rows > known.large else f"at least {known.large}"
    return f"{count} rows (lint_large_table_rows: {known.large})"


def _declared(known: _Known, table: str, schema: str | None, column: str | None = None) -> bool:
    """Whether the models declare ``table`` (and ``column`` in it)."""
    found = _model_table(known, table, schema)
    return found is not None and (column is None or column in found.c)


def _declared_columns(known: _Known, table: str, schema: str | None) -> list[str]:
    found = _model_table(known, table, schema)
    return [c.name for c in found.columns] if found is not None else []


def _model_table(known: _Known, table: str, schema: str | None) -> Any:
    """The models' ``table`` (None: not declared, or no models); a table named in the database's default
    schema is also the models' table of no schema."""
    if known.models is None:
        return None
    tables = known.models.tables
    found = tables.get(f"{schema}.{table}" if schema else table)
    if found is None and schema is not None and schema == known.default_schema:
        found = tables.get(table)
    return found


def _contracted(op: Op, created: set[str], finding: Any, known: _Known) -> list[Finding]:
    """``drop_table``, ``drop_column`` and ``rename_table``: against the models, and renames in any case."""
    schema = op.kwargs.get("schema")
    if op.name == "drop_table":
        table = op.args[0]
        if table.name not in created and _declared(known, table.name, table.schema):
            text = f"table {table.name} is dropped, but the models still declare it"
            return [finding("contract-before-expand", op.line, text)]
    elif op.name == "drop_column":
        table, column = op.args[0], op.args[1].name
        if table not in created and _declared(known, table, schema, column):
            text = f"column {table}.{column} is dropped, but the models still declare it"
            return [finding("contract-before-expand", op.line, text)]
    elif op.name == "rename_table":
        old, new = op.args[0], op.args[1]
        if old not in created:
            return _renamed(op, f"table {old}", new, _declared(known, old, schema), finding, known)
    return []


def _renamed(op: Op, what: str, new: str, declared: bool, finding: Any, known: _Known) -> list[Finding]:
    if declared:
        return [
            finding("contract-before-expand", op.line, f"{what} is renamed to {new}, but the models still declare it")
        ]
    if not known.contract:
        return [finding("rename-breaks-running-code", op.line, f"{what} is renamed to {new}")]
    return []


def _foreign_key(op: Op, created: set[str], finding: Any) -> list[Finding]:
    import sqlalchemy as sa

    constraint = op.args[0]
    if not isinstance(constraint, sa.ForeignKeyConstraint) or constraint.dialect_kwargs.get("postgresql_not_valid"):
        return []
    table = getattr(constraint.parent, "name", "?")
    if table in created:
        return []
    target = constraint.elements[0].target_fullname.rsplit(".", 1)[0] if constraint.elements else "?"
    name = constraint.name or "(unnamed)"
    return [finding("pg-fk-not-valid", op.line, f"foreign key {name} on {table} -> {target} without NOT VALID")]


def _executed(op: Op, created: set[str], finding: Any, known: _Known) -> list[Finding]:
    """``op.execute`` of an UPDATE or DELETE (SQL text was read into the same records by _read_sql_text)."""
    change = _data_change(op.args[0] if op.args else op.kwargs.get("sql"))
    if change is None:
        return []
    verb, schema, table, where = change
    if table in created:
        return []
    return _unbatched(op, verb, schema, table, where, finding, known)


def _unbatched(
    op: Op, verb: str, schema: str | None, table: str, where: bool, finding: Any, known: _Known
) -> list[Finding]:
    rows = known.sizes.rows(table, schema, known.large) if known.sizes is not None else None
    if rows is not None:
        if rows < known.large:
            return []
        text = f"{verb} on {table}, {_size(rows, known)}, outside multidb.data's batch helpers"
        return [finding("unbatched-update", op.line, text)]
    if where:
        return []
    return [finding("unbatched-update", op.line, f"{verb} of every row of {table} (no WHERE); table size unknown")]


def _text(statement: Any) -> str | None:
    """The SQL of a statement given as text (a string or ``sa.text()``), else None."""
    import sqlalchemy as sa

    if isinstance(statement, str):
        return statement
    if isinstance(statement, sa.TextClause):
        return statement.text
    return None


def _data_change(statement: Any) -> tuple[str, str | None, str, bool] | None:
    """(UPDATE or DELETE, schema, table, has a WHERE) of a statement changing rows, None for anything
    else and for the statements of multidb.data's batch helpers."""
    import sqlalchemy as sa

    if isinstance(statement, (sa.Update, sa.Delete)):
        if statement.get_execution_options().get(BATCHED):
            return None
        table = statement.table
        verb = "UPDATE" if isinstance(statement, sa.Update) else "DELETE"
        return verb, getattr(table, "schema", None), table.name, statement.whereclause is not None
    return None


def _altered(db: Database, op: Op, created: set[str], finding: Any, known: _Known) -> list[Finding]:
    table, column = op.args[0], op.args[1]
    if table in created:
        return []
    found = []
    renamed = op.kwargs.get("name")  # the impl's name for alter_column(new_column_name=...)
    if renamed and renamed != column:
        declared = _declared(known, table, op.kwargs.get("schema"), column)
        found += _renamed(op, f"column {table}.{column}", renamed, declared, finding, known)
    new, old = op.kwargs.get("type_"), op.kwargs.get("existing_type")
    if new is not None and not _widens(db, old, new):
        was = f" from {old}" if old is not None else ""
        found.append(finding("type-change-rewrites", op.line, f"column {table}.{column} type{was} to {new}"))
    tightened = op.kwargs.get("nullable") is False and op.kwargs.get("existing_nullable") is not False
    if db.dialect == "postgresql" and tightened and not _not_null_proven(table, column, known):
        found.append(finding("pg-set-not-null-scans", op.line, f"column {table}.{column} SET NOT NULL"))
    return found


def _not_null_proven(table: str, column: str, known: _Known) -> bool:
    """Whether a valid CHECK says the column IS NOT NULL (the live database's, or one the revisions linted
    before added and validated), or the live column is NOT NULL already: PostgreSQL 12+ then skips the scan,
    the last step of this rule's own recipe."""
    if known.catalog is None:
        return False
    return known.catalog.not_null_proven(f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL", table)


def _saw_check(op: Op, known: _Known) -> None:
    """``op.create_check_constraint``: the CHECK it adds (``postgresql_not_valid``: not valid yet), for the
    SET NOT NULL after it."""
    import sqlalchemy as sa

    constraint = op.args[0] if op.args else None
    if known.catalog is None or not isinstance(constraint, sa.CheckConstraint) or constraint.table is None:
        return  # (an unnamed CHECK is kept under the name SQLAlchemy gives it: proof enough while valid)
    not_valid = " NOT VALID" if constraint.dialect_kwargs.get("postgresql_not_valid") else ""
    table = constraint.table.name
    known.catalog.saw(
        f"ALTER TABLE {table} ADD CONSTRAINT {constraint.name} CHECK ({constraint.sqltext}){not_valid}", table
    )


def _widens(db: Database, old: Any, new: Any) -> bool:
    """A change PostgreSQL makes in the catalog only (a longer VARCHAR, VARCHAR to TEXT, more NUMERIC
    precision): the same rule as ``plan``'s (:func:`multidb.deploy_plan.pg_keeps_rows`)."""
    if db.dialect != "postgresql" or old is None:
        return False
    from sqlalchemy.dialects import postgresql

    from .deploy_plan import pg_keeps_rows

    dialect = postgresql.dialect()
    try:
        before, after = old.compile(dialect=dialect), new.compile(dialect=dialect)
    except Exception:  # a type PostgreSQL cannot render: say nothing is known
        return False
    return pg_keeps_rows(before, after) is True


def _kind(op: Op) -> str | None:
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

    A database that cannot be read falls back to its ``lint_since`` (when the config sets one). Only
    the pending revisions are checked against the live tables' sizes (they run on the tables as they
    are now); ``since``, ``everything`` and the ``lint_since`` fallback read no table.
    """
    from .errors import DatabaseError
    from .runner import current_heads, load_history, revision_errors, unknown_heads
    from .squashed import refuse
    from .table_sizes import TableSizes

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
        sizes = TableSizes(db) if heads is not None else None
        try:
            results.append(lint_database(project, db, revisions, db.lint_allow, sizes))
        finally:
            if sizes is not None:
                sizes.close()
    return results

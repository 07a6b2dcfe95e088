"""The baseline revision file: autogenerate's tables, then what autogenerate cannot see.

The body is generic (one for every dialect) unless the verification found a dialect on which it differs
from the old history; that dialect then gets its own ``_create_tables_<dialect>()``, rendered from its own
replay with its own types.
"""

from __future__ import annotations

import datetime
import decimal
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..frozen import variable_name
from .capture import Rows, State, autoincrement_column
from .plan import Squash
from .project_types import Rendering, RenderItem, use_model_types

INDENT = "    "


@dataclass(frozen=True)
class Tables:
    """Autogenerate's rendering of the tables: the body of ``upgrade()`` and of ``downgrade()``, and the
    imports they need beyond ``sa`` and ``op`` (a project's ``render_item``'s, its own types' modules)."""

    upgrade: str
    downgrade: str
    enum_names: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()


def render_tables(metadata: Any, empty_connection: Any, rendering: Rendering | None = None) -> Tables:
    """Autogenerate's comparison of an empty database (``empty_connection``) with ``metadata``, written
    with the project's rendering settings (``rendering``) as ``revision --autogenerate`` writes them."""
    from alembic.autogenerate import produce_migrations, render_python_code
    from alembic.runtime.migration import MigrationContext

    rendering = rendering or Rendering()
    enums = enum_names(metadata)  # the replay's: a project type over an Enum is still that enum
    use_model_types(metadata, rendering.types, empty_connection.dialect)
    context = MigrationContext.configure(empty_connection, opts={"compare_type": True})
    script = produce_migrations(context, metadata)
    _no_index_drops_before_table_drops(script.downgrade_ops)
    item = RenderItem(rendering.options.get("render_item"), _render_item)
    prefix = rendering.options.get("user_module_prefix")
    up, down = (
        render_python_code(ops, migration_context=context, render_item=item, user_module_prefix=prefix)
        for ops in (script.upgrade_ops, script.downgrade_ops)
    )
    imports = item.imports | rendering.module_imports(up + down)
    imports = {i for i in imports if not i.startswith("from sqlalchemy.dialects import")}  # _dialect_imports
    return Tables(_clean(up), _clean(down), enums, tuple(sorted(imports)))


def _no_index_drops_before_table_drops(downgrade: Any) -> None:
    """Dropping a table drops its indexes; dropping one first fails on MariaDB when it backs a foreign key."""
    from alembic.operations import ops

    dropped = {o.table_name for o in downgrade.ops if isinstance(o, ops.DropTableOp)}
    kept = []
    for o in downgrade.ops:
        if isinstance(o, ops.ModifyTableOps) and o.table_name in dropped:
            o.ops = [inner for inner in o.ops if not isinstance(inner, ops.DropIndexOp)]
            if not o.ops:
                continue
        if isinstance(o, ops.DropIndexOp) and o.table_name in dropped:
            continue
        kept.append(o)
    downgrade.ops = kept


def _render_item(kind: str, obj: Any, _context: Any) -> str | bool:
    """``sa.func.now()`` as itself: autogenerate would compile it for the dialect at hand (``now()`` on
    PostgreSQL, which SQLite does not know)."""
    import sqlalchemy as sa

    if kind == "server_default" and isinstance(getattr(obj, "arg", None), sa.sql.functions.now):
        return "sa.func.now()"
    return False


def enum_names(metadata: Any) -> tuple[str, ...]:
    import sqlalchemy as sa

    names = {c.type.name for t in metadata.tables.values() for c in t.columns if isinstance(c.type, sa.Enum)}
    return tuple(sorted(n for n in names if n))


def _clean(code: str) -> str:
    """Autogenerate's body without its "please adjust" comments, indented once."""
    lines, inside = [], False
    for line in code.splitlines():
        if "###" in line:
            continue
        if inside and line == f"{INDENT})":
            inside = False
        elif inside:
            line = INDENT + line  # the arguments of op.create_table(, one level in
        lines.append(line)
        inside = inside or (line.startswith(f"{INDENT}op.create_table(") and not line.endswith(")"))
    text = "\n".join(lines).strip("\n")
    return text if text.strip() else f"{INDENT}pass"


@dataclass
class Imports:
    modules: set[str] = field(default_factory=set)

    def of(self, value: Any) -> str:
        """``value`` as Python source, noting the module it needs."""
        if isinstance(value, datetime.datetime | datetime.date | datetime.time | datetime.timedelta):
            self.modules.add("import datetime")  # repr: datetime.datetime(2026, 1, 1, 0, 0)
        elif isinstance(value, decimal.Decimal):
            self.modules.add("from decimal import Decimal")  # repr: Decimal('1.50')
        elif isinstance(value, uuid.UUID):
            self.modules.add("from uuid import UUID")
        elif isinstance(value, memoryview):
            return repr(bytes(value))
        return repr(value)


def rows_code(
    metadata: Any, rows: Mapping[str, Rows], imports: Imports, pg_next_ids: Mapping[str, int] | None = None
) -> tuple[str, list[tuple[str, str, int]]]:
    """``op.bulk_insert`` per table holding rows (in foreign key order), and the PostgreSQL sequences to
    set afterwards: ``(table, column, next id)`` where the baseline would leave a serial's sequence
    elsewhere than the old revisions left it (``pg_next_ids``: their replay's next ids on PostgreSQL).

    Ids numbered 1..n in order are left out: every database numbers them the same way.
    """
    parts: list[str] = []
    resets: list[tuple[str, str, int]] = []
    for table in metadata.sorted_tables:
        found = rows.get(table.name)
        if found is None or not found.rows:
            continue
        columns, values = list(found.columns), [list(r) for r in found.rows]
        auto = autoincrement_column(table)
        if auto is not None and auto.name in columns:
            at = columns.index(auto.name)
            natural = [r[at] for r in values] == list(range(1, len(values) + 1))
            if natural:
                columns.pop(at)
                for r in values:
                    r.pop(at)
            wanted = (pg_next_ids or {}).get(table.name)
            if wanted is not None and (not natural or wanted != len(values) + 1):
                resets.append((table.name, auto.name, wanted))
        parts.append(_bulk_insert(table, columns, values, imports))
    return "\n".join(parts), resets


def _bulk_insert(table: Any, columns: list[str], values: list[list[Any]], imports: Imports) -> str:
    name = f"{variable_name(table.name)}_table"
    cols = ", ".join(f"sa.column({c!r}, {_generic_type(table.c[c].type)})" for c in columns)
    lines = [f"{INDENT}{name} = sa.table({table.name!r}, {cols})", f"{INDENT}op.bulk_insert("]
    lines.append(f"{INDENT * 2}{name},")
    lines.append(f"{INDENT * 2}[")
    for row in values:
        pairs = ", ".join(f"{c!r}: {imports.of(v)}" for c, v in zip(columns, row, strict=True))
        lines.append(f"{INDENT * 3}{{{pairs}}},")
    lines.append(f"{INDENT * 2}],")
    lines.append(f"{INDENT})")
    return "\n".join(lines)


def _generic_type(type_: Any) -> str:
    """The generic type class a row's values bind with (``sa.DateTime()``); lengths do not matter here."""
    import sqlalchemy as sa

    try:
        generic = type_.as_generic()
    except NotImplementedError:
        return "sa.types.NullType()"
    name = type(generic).__name__
    return f"sa.{name}()" if getattr(sa, name, None) is type(generic) and name != "Enum" else "sa.String()"


def postgresql_code(
    state: State, column_enums: tuple[str, ...], resets: list[tuple[str, str, int]]
) -> tuple[list[str], list[str]]:
    """PostgreSQL's statements before the tables (extensions, enum types no column uses, standalone
    sequences) and after the rows (sequence resets); plain SQL, so ``--sql`` renders them too."""
    from sqlalchemy.dialects import postgresql

    quote = postgresql.dialect().identifier_preparer.quote
    before = [f"CREATE EXTENSION IF NOT EXISTS {quote(name)}" for name in state.extensions]
    for name, labels in sorted(state.enums.items()):
        if name not in column_enums:
            values = ", ".join("'" + label.replace("'", "''") + "'" for label in labels)
            before.append(f"CREATE TYPE {quote(name)} AS ENUM ({values})")
    after = []
    for name, (start, step, next_value) in sorted(state.sequences.items()):
        before.append(f"CREATE SEQUENCE {quote(name)} START WITH {start} INCREMENT BY {step}")
        if next_value != start:  # the old revisions used it: it goes on where they left it
            after.append(f"SELECT setval('{quote(name)}', {next_value - step}, true)")
    for table, column, next_id in resets:  # where the old revisions left it: the next insert gets next_id
        called = "true" if next_id > 1 else "false"
        value = next_id - 1 if next_id > 1 else 1
        after.append(f"SELECT setval(pg_get_serial_sequence('{quote(table)}', '{column}'), {value}, {called})")
    return before, after


def postgresql_drops(state: State, column_enums: tuple[str, ...]) -> list[str]:
    from sqlalchemy.dialects import postgresql

    quote = postgresql.dialect().identifier_preparer.quote
    drops = [f"DROP SEQUENCE IF EXISTS {quote(name)}" for name in sorted(state.sequences)]
    drops += [f"DROP TYPE IF EXISTS {quote(name)}" for name in sorted({*state.enums, *column_enums})]
    return drops


@dataclass(frozen=True)
class Baseline:
    """Everything the file is made of."""

    squash: Squash
    when: datetime.datetime
    dialects: tuple[str, ...]
    tables: Tables  # the generic body
    per_dialect: Mapping[str, Tables]  # dialects whose replay the generic body does not match
    rows: str
    imports: frozenset[str]
    pg_before: tuple[str, ...] = ()
    pg_after: tuple[str, ...] = ()
    pg_drops: tuple[str, ...] = ()
    views: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # dialect -> CREATE VIEW statements
    view_drops: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # dialect -> DROP VIEW, in order


def view_code(dialect: str, views: Mapping[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A dialect's ``CREATE VIEW`` statements (``views``: name -> statement, in creation order) and the
    ``DROP VIEW`` statements that undo them, last made first."""
    from sqlalchemy.engine import make_url

    quote = make_url(f"{dialect}://").get_dialect()().identifier_preparer.quote
    return tuple(views.values()), tuple(f"DROP VIEW {quote(name)}" for name in reversed(views))


def file_text(b: Baseline) -> str:
    s = b.squash
    first, last = s.ids[0], s.ids[-1]
    stamp = b.when.strftime("%Y-%m-%d %H:%M UTC")
    out = [
        f'"""squashed baseline: the schema at {s.revision}',
        "",
        f"Written by 'multidb squash {s.database} --to {s.revision}' on {stamp}. It replaces the",
        f"{len(s.ids)} revisions from {first} to {last} (multidb_squashed below lists them, oldest first):",
        "it creates the schema and the reference rows they made, as a replay of them showed it. A database",
        f"already at {s.revision} or past it has nothing to do; the replay and this file were compared on",
        f"{', '.join(b.dialects)} before the old files were removed (git keeps them).",
        "",
        f"Revision ID: {s.revision}",
        "Revises:",
        f"Create Date: {b.when.strftime('%Y-%m-%d %H:%M:%S.%f')}",
        "",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        *_imports(b),
        "import sqlalchemy as sa",
        "from alembic import op",
        *_dialect_imports(b),
        "",
        "# revision identifiers, used by Alembic and multidb",
        f"revision = {_q(s.revision)}",
        "down_revision = None",
        f"branch_labels = ({', '.join(_q(label) for label in s.branch_labels)},)"
        if s.branch_labels
        else "branch_labels = None",
        "depends_on = None",
    ]
    if s.phase:
        out += ["", f"phase = {_q(s.phase)}"]
    out += ["", "# the revisions this baseline replaces (revision id -> its message), oldest first"]
    out += ["multidb_squashed = {", *[f"    {_q(rev)}: {_q(msg)}," for rev, msg in s.replaced], "}", ""]
    out += _functions(b)
    return "\n".join(line.rstrip() for line in out).rstrip("\n") + "\n"


def _q(text: str) -> str:
    """A double-quoted Python string literal (JSON's escapes are Python's too)."""
    import json

    return json.dumps(text, ensure_ascii=False)


def _imports(b: Baseline) -> list[str]:
    found = sorted({*b.imports, *b.tables.imports, *(i for t in b.per_dialect.values() for i in t.imports)})
    return [*found, ""] if found else []


def _dialect_imports(b: Baseline) -> list[str]:
    text = "\n".join([b.tables.upgrade, *(t.upgrade for t in b.per_dialect.values())])
    found = [name for name in ("mysql", "postgresql", "sqlite", "mssql", "oracle") if f"{name}." in text]
    return [f"from sqlalchemy.dialects import {', '.join(found)}"] if found else []


def _functions(b: Baseline) -> list[str]:
    up = []
    if b.pg_before:
        up += [f'{INDENT}if _dialect() == "postgresql":', f"{INDENT * 2}_create_postgresql_objects()"]
    up.append(f"{INDENT}_create_tables()")
    views = {d: v for d, v in b.views.items() if v}
    if views:
        up.append(f"{INDENT}_create_views()")
    if b.rows:
        up.append(f"{INDENT}_insert_reference_rows()")
    if b.pg_after:
        up += [f'{INDENT}if _dialect() == "postgresql":', f"{INDENT * 2}_reset_sequences()"]
    down = [f"{INDENT}_drop_views()"] if views else []
    down.append(f"{INDENT}_drop_tables()")
    if b.pg_drops:
        down += [f'{INDENT}if _dialect() == "postgresql":', f"{INDENT * 2}_drop_postgresql_objects()"]
    out = ["", "def upgrade() -> None:", *up, "", "", "def downgrade() -> None:", *down, ""]
    out += _section("_create_tables", b.tables.upgrade, {d: t.upgrade for d, t in b.per_dialect.items()})
    out += _section("_drop_tables", b.tables.downgrade, {d: t.downgrade for d, t in b.per_dialect.items()})
    if views:
        out += _view_function("_create_views", views, b.dialects)
        out += _view_function("_drop_views", {d: b.view_drops.get(d, ()) for d in views}, ())
    if b.rows:
        out += ["", "def _insert_reference_rows() -> None:", b.rows, ""]
    if b.pg_before:
        out += _sql_function("_create_postgresql_objects", b.pg_before)
    if b.pg_after:
        out += _sql_function("_reset_sequences", b.pg_after)
    if b.pg_drops:
        out += _sql_function("_drop_postgresql_objects", b.pg_drops, "extensions stay: other schemas may use them")
    if b.pg_before or b.pg_after or b.pg_drops or b.per_dialect or views:  # (only when something asks which dialect)
        out += [
            "",
            "def _dialect() -> str:",
            f"{INDENT}dialect = op.get_context().dialect",
            f'{INDENT}return "mariadb" if getattr(dialect, "is_mariadb", False) else dialect.name',
        ]
    return out


def _section(name: str, generic: str, per_dialect: Mapping[str, str]) -> list[str]:
    out = ["", f"def {name}() -> None:"]
    for dialect in sorted(per_dialect):
        helper = f"{name}_{dialect}"
        out += [
            f'{INDENT}if _dialect() == "{dialect}":  # the generic body differs there',
            f"{INDENT * 2}return {helper}()",
        ]
    out += [generic, ""]
    for dialect, body in sorted(per_dialect.items()):
        out += ["", f"def {name}_{dialect}() -> None:", body, ""]
    return out


def _view_function(name: str, statements: Mapping[str, tuple[str, ...]], verified: tuple[str, ...]) -> list[str]:
    """``name()`` running each dialect's own statements; with ``verified`` (the dialects the squash was
    compared on), a dialect that is none of them gets an error rather than a database without the views."""
    out = ["", f"def {name}() -> None:", f"{INDENT}dialect = _dialect()"]
    for i, (dialect, lines) in enumerate(sorted(statements.items())):
        out.append(f'{INDENT}{"el" if i else ""}if dialect == "{dialect}":')
        out += [f"{INDENT * 2}op.execute({no_binds(s)!r})" for s in lines]
    others = tuple(d for d in verified if d not in statements)
    if verified:
        out.append(f"{INDENT}elif dialect not in {others!r}:" if others else f"{INDENT}else:")
        message = (
            f"this squashed baseline has the views of {', '.join(verified)} only (the dialects its squash was "
            "verified on), not {dialect}'s: write them here, or squash again with that dialect too"
        )
        out.append(f"{INDENT * 2}raise NotImplementedError(f{message!r})")
    return [*out, ""]


_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")  # what sa.text() takes for a bind parameter


def no_binds(statement: str) -> str:
    """``statement`` for ``op.execute()``, which makes it a ``sa.text()``: a colon that would start a bind
    parameter (``'10:30'``, ``'a:b'``) escaped, so that the statement runs as the dialect reported it."""
    return _BIND.sub(lambda m: "\\:" + m.group(1), statement)


def _sql_function(name: str, statements: tuple[str, ...], comment: str | None = None) -> list[str]:
    out = ["", f"def {name}() -> None:"]
    if comment:
        out.append(f"{INDENT}# {comment}")
    out += [f"{INDENT}op.execute({no_binds(s)!r})" for s in statements]
    return [*out, ""]

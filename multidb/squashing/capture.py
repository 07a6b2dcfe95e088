"""What a database holds after its history was replayed: the parts a baseline must recreate.

:func:`read_state` reads everything the verification compares (the schema as the plugin's parity code
reflects it, plus what autogenerate does not see: server default texts, PostgreSQL enums, standalone
sequences and extensions, the rows in the tables, the next value of each autoincrement key, the views).
:func:`schema_metadata` reflects the tables into a fresh ``MetaData`` for autogenerate to render.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..testing import parity

_NOW = {"now()", "current_timestamp", "current_timestamp()", "localtimestamp", "localtimestamp()"}
_CAST = re.compile(r"^\(?(.*?)\)?::[a-z_ ]+(\([0-9, ]+\))?(\[\])?$", re.DOTALL)


def normal_default(text: str | None) -> str | None:
    """A server default as it reads on every dialect: PostgreSQL's casts dropped, ``now()`` and
    ``CURRENT_TIMESTAMP`` spelled one way (``now()``), SQLite's and MariaDB's parentheses removed."""
    if text is None:
        return None
    value = str(text).strip()
    while True:
        found = _CAST.match(value)
        if not found:
            break
        value = found.group(1).strip()
    while value.startswith("(") and value.endswith(")") and _balanced(value[1:-1]):
        value = value[1:-1].strip()
    if value.lower() in _NOW:
        return "now()"
    if value.upper() == "NULL":
        return None
    return value


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def rendered_default(text: str | None) -> str | None:
    """A reflected server default as the baseline writes it: ``now()`` for every spelling of the current
    time, a PostgreSQL literal without its cast (``'a'::character varying`` -> ``'a'``), else as reflected."""
    if text is None or normal_default(text) is None:
        return None
    if normal_default(text) == "now()":
        return "now()"
    value = str(text).strip()
    found = _CAST.match(value)
    if found and _LITERAL.fullmatch(found.group(1).strip()):
        return found.group(1).strip()
    return value


_LITERAL = re.compile(r"'(?:[^']|'')*'|-?[0-9]+(\.[0-9]+)?|true|false", re.IGNORECASE)


def is_time_default(text: str | None) -> bool:
    return normal_default(text) == "now()"


@dataclass(frozen=True)
class Rows:
    """The rows of one table, sorted; ``columns`` names the values of each row."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    skipped: tuple[str, ...] = ()  # columns left out of the comparison: their value is the time of insertion


@dataclass(frozen=True)
class State:
    """What the verification compares between the old history and the baseline, on one dialect."""

    schema: parity.Snapshot
    defaults: dict[str, str] = field(default_factory=dict)  # "table.column" -> normalised default
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sequences: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (start, increment)
    extensions: tuple[str, ...] = ()
    rows: dict[str, Rows] = field(default_factory=dict)
    next_ids: dict[str, int] = field(default_factory=dict)  # table -> next autoincrement value
    views: dict[str, str] = field(default_factory=dict)  # name -> its CREATE VIEW, in an order that creates them
    comments: dict[str, str] = field(default_factory=dict)  # "table t" / "column t.c" -> its comment


def read_state(connection: Any, keep: Callable[[str], bool]) -> State:
    """Everything :class:`State` holds, for the tables ``keep`` accepts."""
    import sqlalchemy as sa

    inspector = sa.inspect(connection)
    names = [n for n in inspector.get_table_names() if keep(n)]
    schema = parity.snapshot(connection, exclude=[n for n in inspector.get_table_names() if not keep(n)])
    standalone = sequences(connection)
    defaults = {}
    for name in names:
        for col in inspector.get_columns(name):
            text = normal_default(col.get("default"))
            if text is not None and not serial_default(text, standalone):
                defaults[f"{name}.{col['name']}"] = text
    metadata = sa.MetaData()
    tables = [sa.Table(n, metadata, autoload_with=connection) for n in names]
    return State(
        schema=schema,
        defaults=defaults,
        enums=enums(connection),
        sequences=standalone,
        extensions=extensions(connection),
        rows={t.name: rows(connection, t) for t in tables},
        next_ids=next_ids(connection, tables),
        views=views(connection, keep),
        comments=comments(connection, names),
    )


def comments(connection: Any, tables: Iterable[str]) -> dict[str, str]:
    """The comments of the tables and of their columns (where the dialect has comments)."""
    import sqlalchemy as sa

    if not connection.dialect.supports_comments:
        return {}
    inspector = sa.inspect(connection)
    found = {}
    for table in tables:
        text = inspector.get_table_comment(table).get("text")
        if text:
            found[f"table {table}"] = text
        for column in inspector.get_columns(table):
            if column.get("comment"):
                found[f"column {table}.{column['name']}"] = column["comment"]
    return found


def views(connection: Any, keep: Callable[[str], bool]) -> dict[str, str]:
    """The plain views of the default schema that ``keep`` accepts, each as the ``CREATE VIEW`` statement
    that makes it again on this dialect, built from what the dialect reports: SQLite's own text, PostgreSQL's
    ``pg_get_viewdef()`` (with the view's options), MariaDB's ``SHOW CREATE VIEW`` without its ``DEFINER``.
    A view comes after the views its statement names (else in the order the database lists them)."""
    import sqlalchemy as sa

    name = connection.dialect.name
    quote = connection.dialect.identifier_preparer.quote
    found: dict[str, str] = {}
    if name == "sqlite":
        listed = connection.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY rowid"))
        found = {view: sql for view, sql in listed if keep(view)}
    elif name == "postgresql":
        listed = connection.execute(
            sa.text(
                "SELECT c.relname, pg_get_viewdef(c.oid), c.reloptions FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'v' AND n.nspname = current_schema() "
                "AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass "
                "AND e.objid = c.oid AND e.deptype = 'e') ORDER BY c.oid"
            )
        )
        for view, definition, options in listed:
            if keep(view):
                given = f" WITH ({', '.join(options)})" if options else ""
                found[view] = f"CREATE VIEW {quote(view)}{given} AS {definition.strip().rstrip(';')}"
    elif name in ("mysql", "mariadb"):
        listed = connection.execute(
            sa.text("SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1")
        )
        for view in [v for (v,) in listed if keep(v)]:
            statement = connection.execute(sa.text(f"SHOW CREATE VIEW {quote(view)}")).one()[1]
            found[view] = _DEFINER.sub("", statement, count=1)
    return {view: found[view] for view in _creation_order(found)}


_DEFINER = re.compile(r"\bDEFINER=(`(?:[^`]|``)*`|[^ @]+)@(`(?:[^`]|``)*`|\S+)\s+")


def _creation_order(statements: Mapping[str, str]) -> list[str]:
    """The views in an order that creates each after those its statement names (a word of its text);
    the given order otherwise, and for a cycle (a column named like a view, say)."""
    names = list(statements)
    needs = {
        view: {other for other in names if other != view and re.search(rf"(?<![\w$]){re.escape(other)}(?![\w$])", text)}
        for view, text in statements.items()
    }
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [v for v in names if v not in ordered and needs[v] <= set(ordered)]
        ordered.append(ready[0] if ready else next(v for v in names if v not in ordered))
    return ordered


def enums(connection: Any) -> dict[str, tuple[str, ...]]:
    """PostgreSQL's named enum types of the current schema, with their labels in order."""
    if connection.dialect.name != "postgresql":
        return {}
    import sqlalchemy as sa

    return {e["name"]: tuple(e["labels"]) for e in sa.inspect(connection).get_enums() if e.get("visible", True)}


def sequences(connection: Any) -> dict[str, tuple[int, int, int]]:
    """PostgreSQL's sequences that no column owns (a serial's or an identity's are the table's):
    ``name -> (start, increment, the value nextval() gives next)``."""
    if connection.dialect.name != "postgresql":
        return {}
    import sqlalchemy as sa

    found = connection.execute(
        sa.text(
            "SELECT c.relname, s.seqstart, s.seqincrement FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid "
            "WHERE c.relkind = 'S' AND n.nspname = current_schema() AND NOT EXISTS "
            "(SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) ORDER BY 1"
        )
    ).all()
    quote = connection.dialect.identifier_preparer.quote
    result = {}
    for name, start, step in found:
        last, called = connection.execute(sa.text(f"SELECT last_value, is_called FROM {quote(name)}")).one()
        result[name] = (int(start), int(step), int(last) + int(step) if called else int(last))
    return result


_NEXTVAL = re.compile(r"^nextval\('\"?([^'\"]+)\"?'(::regclass)?\)$", re.IGNORECASE)


def serial_default(text: str | None, standalone: Mapping[str, Any]) -> bool:
    """Whether a default is a serial's ``nextval()`` (of a sequence the column owns, which its table's
    autoincrement key recreates), not one of a standalone sequence (kept as written)."""
    found = _NEXTVAL.match(str(text or "").strip())
    return found is not None and found.group(1).split(".")[-1] not in standalone


def extensions(connection: Any) -> tuple[str, ...]:
    """PostgreSQL extensions installed in the database (plpgsql, always there, left out)."""
    if connection.dialect.name != "postgresql":
        return ()
    import sqlalchemy as sa

    found = connection.execute(sa.text("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1"))
    return tuple(found.scalars())


def rows(connection: Any, table: Any) -> Rows:
    """The table's rows ordered by primary key (else by every column)."""
    import sqlalchemy as sa

    skipped = tuple(c.name for c in table.columns if c.server_default is not None and _time_default(c))
    columns = [c for c in table.columns if c.name not in skipped]
    order = list(table.primary_key.columns) or columns
    found = connection.execute(sa.select(*columns).order_by(*order)).all()
    return Rows(tuple(c.name for c in columns), tuple(tuple(r) for r in found), skipped)


def _time_default(column: Any) -> bool:
    arg = getattr(column.server_default, "arg", None)
    return is_time_default(str(getattr(arg, "text", arg)))


def autoincrement_column(table: Any) -> Any:
    """The table's single integer primary key column, when the database numbers it (else None)."""
    import sqlalchemy as sa

    pk = list(table.primary_key.columns)
    if len(pk) != 1 or not isinstance(pk[0].type, sa.Integer) or pk[0].autoincrement is False:
        return None
    return pk[0]


def next_ids(connection: Any, tables: Iterable[Any]) -> dict[str, int]:
    """The value the next insert into each table would get for its autoincrement key."""
    import sqlalchemy as sa

    found = {}
    name = connection.dialect.name
    for table in tables:
        column = autoincrement_column(table)
        if column is None:
            continue
        value = None
        if name == "postgresql":
            seq = connection.execute(
                sa.text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
            ).scalar()
            if seq:
                last, called = connection.execute(sa.text(f"SELECT last_value, is_called FROM {seq}")).one()
                value = int(last) + 1 if called else int(last)
        elif name in ("mysql", "mariadb"):
            value = connection.execute(
                sa.text(
                    "SELECT auto_increment FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() AND table_name = :t"
                ),
                {"t": table.name},
            ).scalar()
        elif name == "sqlite" and sa.inspect(connection).has_table("sqlite_sequence"):
            value = connection.execute(
                sa.text("SELECT seq + 1 FROM sqlite_sequence WHERE name = :t"), {"t": table.name}
            ).scalar()
        if value is not None:
            found[table.name] = int(value)
    return found


def schema_metadata(connection: Any, keep: Callable[[str], bool], generic: bool) -> Any:
    """The kept tables as a new ``MetaData`` for autogenerate: dialect options dropped, server defaults
    normalised and, with ``generic``, every type that has one replaced by its generic type
    (``VARCHAR(100)`` -> ``String(100)``), so that one body fits every dialect."""
    import sqlalchemy as sa

    reflected = sa.MetaData()
    reflected.reflect(connection, only=lambda name, _md: keep(name))
    target = sa.MetaData()
    mysql = connection.dialect.name in ("mysql", "mariadb")
    counting = sqlite_autoincrement(connection)
    standalone = set(sequences(connection))
    for table in reflected.sorted_tables:
        _copy(table, target, generic, mysql, table.name in counting, standalone)
    return target


def sqlite_autoincrement(connection: Any) -> set[str]:
    """SQLite tables declared with ``AUTOINCREMENT`` (ids never reused), which SQLAlchemy does not reflect.

    The baseline declares them with ``sqlite_autoincrement=True``, which the other dialects ignore.
    """
    if connection.dialect.name != "sqlite":
        return set()
    import sqlalchemy as sa

    found = connection.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    return {name for name, sql in found if sql and re.search(r"\bAUTOINCREMENT\b", sql, re.IGNORECASE)}


def _copy(
    table: Any, target: Any, generic: bool, mysql: bool, counting: bool = False, standalone: set[str] | None = None
) -> Any:
    import sqlalchemy as sa

    pk_names = {c.name for c in table.primary_key.columns}
    columns = [_column(c, generic, c.name in pk_names, standalone or set()) for c in table.columns]
    pk = [c.name for c in table.primary_key.columns]
    items: list[Any] = [sa.PrimaryKeyConstraint(*pk, name=_pk_name(table, mysql))] if pk else []
    fk_columns = set()
    for constraint in table.constraints:
        if isinstance(constraint, sa.ForeignKeyConstraint):
            fk_columns.add((constraint.name, tuple(c.name for c in constraint.columns)))
            items.append(
                sa.ForeignKeyConstraint(
                    [c.name for c in constraint.columns],
                    [f"{e.column.table.name}.{e.column.name}" for e in constraint.elements],
                    name=constraint.name,
                    ondelete=constraint.ondelete,
                    onupdate=constraint.onupdate,
                )
            )
        elif isinstance(constraint, sa.UniqueConstraint):
            items.append(sa.UniqueConstraint(*[c.name for c in constraint.columns], name=constraint.name))
        elif isinstance(constraint, sa.CheckConstraint):
            items.append(sa.CheckConstraint(sa.text(str(constraint.sqltext)), name=constraint.name))
    options = {"sqlite_autoincrement": True} if counting else {}
    copy = sa.Table(table.name, target, *columns, *items, comment=table.comment, **options)
    for index in sorted(table.indexes, key=lambda ix: ix.name or ""):
        names = tuple(getattr(e, "name", None) for e in index.expressions)
        if mysql and (index.name, names) in fk_columns:
            continue  # the index InnoDB makes behind a foreign key: the foreign key makes it again
        exprs = [copy.c[n] if n in copy.c else sa.text(str(e)) for n, e in zip(names, index.expressions, strict=True)]
        sa.Index(index.name, *exprs, unique=bool(index.unique))
    return copy


def _pk_name(table: Any, mysql: bool) -> str | None:
    name = table.primary_key.name
    return None if mysql and name == "PRIMARY" else name


def _column(column: Any, generic: bool, in_pk: bool, standalone: set[str]) -> Any:
    import sqlalchemy as sa

    type_ = column.type
    if generic:
        with contextlib.suppress(NotImplementedError):  # a type with no generic form stays as it is
            type_ = type_.as_generic()
    if isinstance(type_, sa.Enum) and getattr(column.type, "name", None):
        type_ = sa.Enum(*column.type.enums, name=column.type.name)
    default = column.server_default
    text = rendered_default(str(default.arg.text if hasattr(default.arg, "text") else default.arg)) if default else None
    if text == "now()":
        server_default: Any = sa.func.now()
    else:
        server_default = sa.text(text) if text is not None else None
    if serial_default(text, dict.fromkeys(standalone)):
        server_default = None
    kwargs: dict[str, Any] = {"nullable": column.nullable, "comment": column.comment}
    if in_pk:
        kwargs["autoincrement"] = column.autoincrement
    if column.computed is not None:
        kwargs["server_default"] = None
        return sa.Column(column.name, type_, sa.Computed(column.computed.sqltext, column.computed.persisted), **kwargs)
    if column.identity is not None:
        return sa.Column(column.name, type_, sa.Identity(always=column.identity.always), **kwargs)
    return sa.Column(column.name, type_, server_default=server_default, **kwargs)

"""Reflected schema snapshots and readable comparisons between two of them.

A :class:`Snapshot` is what SQLAlchemy's inspector sees of a database: tables, columns (type,
nullability, whether a server default exists), primary keys, indexes, unique constraints and
foreign keys. :func:`compare` lists the differences between two snapshots as sentences:

* ``exact=True`` (the same database before and after something, e.g. an upgrade and its downgrade):
  types are compared as the dialect renders them, and constraint names count;
* ``exact=False`` (two dialects, e.g. SQLite and PostgreSQL): types are compared by *affinity*
  (integer, string, text, numeric, datetime, boolean, binary, ...), names are ignored, and what one
  dialect adds by itself (MariaDB's index behind each foreign key, PostgreSQL's sequence defaults
  on serial columns, implicit NOT NULL of primary key columns) is left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Pairs of affinities that are the same thing on different dialects.
_EQUIVALENT = {frozenset({"uuid", "string"}), frozenset({"json", "text"})}
_NO_ACTION = {None, "", "NO ACTION", "RESTRICT"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    affinity: str
    nullable: bool
    has_default: bool


@dataclass(frozen=True)
class Index:
    name: str | None
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Unique:
    name: str | None
    columns: tuple[str, ...]


@dataclass(frozen=True)
class ForeignKey:
    name: str | None
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]
    ondelete: str | None


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, Column]
    primary_key: tuple[str, ...]
    indexes: frozenset[Index]
    uniques: frozenset[Unique]
    foreign_keys: frozenset[ForeignKey]


@dataclass(frozen=True)
class Snapshot:
    """The reflected schema of one database (the version table left out)."""

    dialect: str
    tables: dict[str, Table] = field(default_factory=dict)


def snapshot(connection: Any, exclude: Iterable[str] = (), schema: str | None = None) -> Snapshot:
    """Reflect every table of ``connection``'s database except those in ``exclude``."""
    import sqlalchemy as sa

    inspector = sa.inspect(connection)
    skip = set(exclude)
    tables = {}
    for name in sorted(inspector.get_table_names(schema=schema)):
        if name not in skip:
            tables[name] = _table(inspector, name, schema)
    return Snapshot(connection.dialect.name, tables)


def _table(inspector: Any, name: str, schema: str | None) -> Table:
    pk = inspector.get_pk_constraint(name, schema=schema) or {}
    pk_columns = tuple(pk.get("constrained_columns") or ())
    columns = {}
    for col in inspector.get_columns(name, schema=schema):
        default = col.get("default")
        serial = isinstance(default, str) and default.lower().startswith("nextval(")
        columns[col["name"]] = Column(
            name=col["name"],
            type=_type_text(col["type"]),
            affinity=affinity(col["type"]),
            nullable=bool(col.get("nullable", True)),
            has_default=default is not None and not serial and str(default).upper() != "NULL",
        )
    foreign_keys = frozenset(
        ForeignKey(
            name=fk.get("name"),
            columns=tuple(fk["constrained_columns"]),
            referred_table=fk["referred_table"],
            referred_columns=tuple(fk["referred_columns"]),
            ondelete=_ondelete(fk),
        )
        for fk in inspector.get_foreign_keys(name, schema=schema)
    )
    indexes: set[Index] = set()
    uniques: set[Unique] = set()
    for ix in inspector.get_indexes(name, schema=schema):
        cols = tuple(c for c in ix.get("column_names") or () if c is not None)
        if ix.get("unique"):
            uniques.add(Unique(ix.get("name"), cols))
        else:
            indexes.add(Index(ix.get("name"), cols))
    for uq in inspector.get_unique_constraints(name, schema=schema):
        uniques.add(Unique(uq.get("name"), tuple(uq["column_names"])))
    return Table(name, columns, pk_columns, frozenset(indexes), _dedupe(uniques), foreign_keys)


def _dedupe(uniques: set[Unique]) -> frozenset[Unique]:
    """A unique constraint that some dialects also report as a unique index counts once."""
    named = {u.columns for u in uniques if u.name}
    return frozenset(u for u in uniques if u.name or u.columns not in named)


def _ondelete(fk: dict) -> str | None:
    value = (fk.get("options") or {}).get("ondelete")
    value = value.upper() if isinstance(value, str) else value
    return None if value in _NO_ACTION else value


def _type_text(type_: Any) -> str:
    try:
        return str(type_)
    except Exception:  # a reflected type that cannot render on its own
        return repr(type_)


def affinity(type_: Any) -> str:
    """The family of a reflected type: ``integer``, ``string``, ``text``, ``numeric``, ``datetime``, ...

    MariaDB/MySQL report a boolean column as ``TINYINT(1)``, which counts as ``boolean``.
    A type SQLAlchemy does not know is named by its class (``other:INET``).
    """
    import sqlalchemy as sa

    from ..alembic_private import binary_type

    name = type(type_).__name__
    if name == "TINYINT" and getattr(type_, "display_width", None) == 1:
        return "boolean"
    if name.endswith(("TEXT", "CLOB")):  # MariaDB's LONGTEXT & co. are Strings to SQLAlchemy
        return "text"
    families: list[tuple[Any, str]] = [
        (sa.Boolean, "boolean"),
        (sa.Integer, "integer"),
        (sa.Numeric, "numeric"),
        (sa.Float, "numeric"),  # Float and Double (not a Numeric since SQLAlchemy 2.1)
        (sa.DateTime, "datetime"),
        (sa.Date, "date"),
        (sa.Time, "time"),
        (sa.Interval, "interval"),
        (binary_type(), "binary"),
        (sa.JSON, "json"),
        (sa.Uuid, "uuid"),
        (sa.Enum, "string"),
        (sa.Text, "text"),
        (sa.String, "string"),
    ]
    for cls, family in families:
        if isinstance(type_, cls):
            return family
    return "interval" if name == "INTERVAL" else f"other:{name}"


def compatible(left: str, right: str) -> bool:
    """Whether two affinities name the same kind of value."""
    return left == right or frozenset({left, right}) in _EQUIVALENT


@dataclass(frozen=True)
class Sides:
    """How the two snapshots are named in sentences: ``on sqlite`` / ``on postgresql``."""

    left: str
    right: str


def compare(left: Snapshot, right: Snapshot, sides: Sides, exact: bool) -> list[str]:
    """Every difference between two snapshots, one sentence each, tables in name order."""
    lines: list[str] = []
    for name in sorted(set(left.tables) | set(right.tables)):
        a, b = left.tables.get(name), right.tables.get(name)
        if a is None or b is None:
            where = sides.right if a is None else sides.left
            other = sides.left if a is None else sides.right
            lines.append(f"table {name} exists {where} but not {other}")
            continue
        lines += _compare_tables(a, b, left.dialect, right.dialect, sides, exact)
    return lines


def _compare_tables(a: Table, b: Table, dia_a: str, dia_b: str, sides: Sides, exact: bool) -> list[str]:
    lines = _compare_columns(a, b, sides, exact)
    if a.primary_key != b.primary_key:
        pk_a, pk_b = _cols(a.primary_key), _cols(b.primary_key)
        lines.append(f"table {a.name}: primary key is {pk_a} {sides.left} but {pk_b} {sides.right}")
    ix_a, ix_b = _indexes(a, exact), _indexes(b, exact)
    if not exact:
        ix_a, ix_b = (
            _without_implicit_fk_indexes(a, dia_a, ix_a, ix_b),
            _without_implicit_fk_indexes(b, dia_b, ix_b, ix_a),
        )
    lines += _compare_sets(a.name, "index", ix_a, ix_b, sides)
    lines += _compare_sets(a.name, "unique constraint", _uniques(a, exact), _uniques(b, exact), sides)
    lines += _compare_sets(a.name, "foreign key", _fks(a, exact), _fks(b, exact), sides)
    return lines


def _compare_columns(a: Table, b: Table, sides: Sides, exact: bool) -> list[str]:
    lines = []
    for name in list(a.columns) + [c for c in b.columns if c not in a.columns]:
        ca, cb = a.columns.get(name), b.columns.get(name)
        what = f"column {a.name}.{name}"
        if ca is None or cb is None:
            where, other = (sides.right, sides.left) if ca is None else (sides.left, sides.right)
            lines.append(f"{what} exists {where} but not {other}")
            continue
        if exact and ca.type != cb.type:
            lines.append(f"{what}: type is {ca.type} {sides.left} but {cb.type} {sides.right}")
        elif not exact and not compatible(ca.affinity, cb.affinity):
            lines.append(
                f"{what}: type is {ca.affinity} ({ca.type}) {sides.left} but {cb.affinity} ({cb.type}) {sides.right}"
            )
        in_pk = name in a.primary_key and name in b.primary_key
        if ca.nullable != cb.nullable and (exact or not in_pk):
            lines.append(f"{what}: {_null(ca.nullable)} {sides.left} but {_null(cb.nullable)} {sides.right}")
        if ca.has_default != cb.has_default:
            where = sides.left if ca.has_default else sides.right
            other = sides.right if ca.has_default else sides.left
            lines.append(f"{what}: has a server default {where} but not {other}")
    return lines


def _compare_sets(table: str, kind: str, a: dict[Any, str], b: dict[Any, str], sides: Sides) -> list[str]:
    lines = []
    for key in sorted(set(a) | set(b), key=repr):
        if key in a and key not in b:
            lines.append(f"{kind} {a[key]} on {table} exists {sides.left} but not {sides.right}")
        elif key in b and key not in a:
            lines.append(f"{kind} {b[key]} on {table} exists {sides.right} but not {sides.left}")
    return lines


def _indexes(table: Table, exact: bool) -> dict[Any, str]:
    found = {}
    for ix in table.indexes:
        key = (ix.name, ix.columns) if exact else ix.columns
        found[key] = f"{ix.name or '(unnamed)'} {_cols(ix.columns)}"
    return found


def _without_implicit_fk_indexes(
    table: Table, dialect: str, mine: dict[Any, str], other: dict[Any, str]
) -> dict[Any, str]:
    """Leave out the index InnoDB (MariaDB, MySQL) creates behind a foreign key that has none.

    It is recognized by its columns, which are the foreign key's, not by its name: it is named after
    the constraint when the constraint has a name, and after its first column when not (the
    constraint is then ``TABLE_ibfk_N``). An index on the same columns on the other side is kept, so
    that an explicit index on both sides still compares as equal.
    """
    if dialect not in ("mysql", "mariadb"):
        return mine
    fk_columns = {fk.columns for fk in table.foreign_keys}
    return {key: text for key, text in mine.items() if key not in fk_columns or key in other}


def _uniques(table: Table, exact: bool) -> dict[Any, str]:
    found = {}
    for uq in table.uniques:
        key = (uq.name, uq.columns) if exact else uq.columns
        found[key] = f"{uq.name + ' ' if uq.name else ''}{_cols(uq.columns)}"
    return found


def _fks(table: Table, exact: bool) -> dict[Any, str]:
    found = {}
    for fk in table.foreign_keys:
        target = (fk.columns, fk.referred_table, fk.referred_columns, fk.ondelete)
        key = (fk.name, *target) if exact else target
        ondelete = f" ON DELETE {fk.ondelete}" if fk.ondelete else ""
        label = f"{fk.name + ' ' if fk.name and exact else ''}{_cols(fk.columns)}"
        found[key] = f"{label} -> {fk.referred_table} {_cols(fk.referred_columns)}{ondelete}"
    return found


def _cols(columns: Iterable[str]) -> str:
    return "(" + ", ".join(columns) + ")"


def _null(nullable: bool) -> str:
    return "nullable" if nullable else "NOT NULL"

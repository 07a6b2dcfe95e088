"""Change the values of an enum column inside a revision file, the same call on every dialect.

Adding, renaming and removing values is one operation: say which values the column allows before
(``old``) and after (``new``), and where the rows holding a value go (``mapping``)::

    from multidb import enums

    OLD, NEW = ["open", "closed"], ["waiting", "done"]
    MAPPING = {"closed": "done", "open": "waiting"}

    def upgrade() -> None:
        enums.change_values("tickets", "status", old=OLD, new=NEW, mapping=MAPPING,
                            name="ticket_status", nullable=False)

    def downgrade() -> None:
        enums.change_values("tickets", "status", old=NEW, new=OLD, mapping=enums.invert(MAPPING),
                            name="ticket_status", nullable=False)

* **PostgreSQL** (a named ``ENUM`` type): pure renames use ``ALTER TYPE ... RENAME VALUE``, pure
  additions ``ALTER TYPE ... ADD VALUE``; anything else builds ``<name>_new``, converts the column
  with ``USING (CASE ...)``, drops the old type and renames the new one. All of it is transactional.
* **SQLite** (``VARCHAR``, with a ``CHECK`` when the Enum had ``create_constraint=True``): rows are
  updated through the mapping; a CHECK constraint is rebuilt in batch mode, first widened to old and
  new values, then narrowed to the new ones. Without a CHECK, a ``VARCHAR`` as long as the longest
  old value becomes as long as the longest new one (what the models' Enum declares), in batch mode.
  Never ``DROP TYPE``.
* **MariaDB/MySQL** (a native ``ENUM`` column): ``MODIFY`` to old and new values, update the rows,
  ``MODIFY`` to the new values, restating nullability and default. MariaDB commits DDL at once, so
  a failure after the first ``MODIFY`` leaves the column widened.

Online, a change is refused (:class:`UnmappedValuesError`, before anything is altered) when rows hold
a value that is neither in ``new`` nor a key of ``mapping``. Offline (``--sql``) there are no rows
to look at: on PostgreSQL the ``USING`` cast still fails on such a row when the script runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic import op

__all__ = ["UnmappedValuesError", "change_values", "drop_type", "invert"]


class UnmappedValuesError(RuntimeError):
    """Rows hold values that the change would leave without a place: nothing was changed."""


@dataclass(frozen=True)
class _Change:
    """One validated change of an enum column (``mapping`` holds only real moves)."""

    table: str
    column: str
    old: tuple[str, ...]
    new: tuple[str, ...]
    mapping: dict[str, str]
    name: str | None
    schema: str | None
    nullable: bool
    default: str | None

    @property
    def where(self) -> str:
        return f"{self.schema + '.' if self.schema else ''}{self.table}.{self.column}"

    @property
    def widened(self) -> tuple[str, ...]:
        """Old values, then the new ones: what the column allows while rows move."""
        return self.old + tuple(v for v in self.new if v not in self.old)


def change_values(
    table: str,
    column: str,
    *,
    old: Sequence[str],
    new: Sequence[str],
    mapping: Mapping[str, str] | None = None,
    name: str | None = None,
    schema: str | None = None,
    nullable: bool,
    default: str | None = None,
) -> None:
    """Make ``table.column`` allow exactly ``new`` (it allows ``old`` now), moving rows through ``mapping``.

    ``mapping`` maps old values to new ones (renames, and where the rows of a removed value go);
    its keys must be in ``old`` and its values in ``new``. ``name`` is the enum type's name
    (required on PostgreSQL, where the type lives in ``schema``). ``nullable`` and ``default``
    (a value of ``new``, or None for no server default) describe the column after the change: the
    default is set to exactly that, since the old one may name a removed value (except offline on
    SQLite, where the column's definition is left alone; see docs/enums.md).
    Raises :class:`UnmappedValuesError` online, before any change, when rows hold a value neither
    in ``new`` nor mapped; ValueError at once for arguments that contradict each other.
    """
    change = _validated(table, column, old, new, mapping or {}, name, schema, nullable, default)
    context = op.get_context()
    online = not context.as_sql
    if online:  # offline there are no rows to look at
        _refuse_unmapped(op.get_bind(), change)
    dialect = context.dialect.name
    if dialect == "postgresql":
        _postgresql(change, online)
    elif dialect in ("mysql", "mariadb"):
        _mysql(change)
    elif dialect == "sqlite":
        _sqlite(change, online)
    else:
        raise NotImplementedError(f"enums.change_values: {dialect} is not supported (postgresql, sqlite, mariadb)")


def invert(mapping: Mapping[str, str]) -> dict[str, str]:
    """The mapping for the downgrade: ``{new: old}``.

    Raises ValueError when two values map to one (a merge is lossy: the downgrade cannot know which
    row came from which value, so write its mapping by hand).
    """
    inverted: dict[str, str] = {}
    for before, after in mapping.items():
        if after in inverted:
            raise ValueError(
                f"enums.invert: {inverted[after]!r} and {before!r} both map to {after!r}, so the change "
                "cannot be undone row by row; write the downgrade's mapping by hand"
            )
        inverted[after] = before
    return inverted


def drop_type(name: str, *, schema: str | None = None) -> None:
    """``DROP TYPE IF EXISTS`` the enum type on PostgreSQL; nothing elsewhere (SQLite has no types).

    For the downgrade of a revision that created an enum column: ``op.drop_table`` leaves the type.
    """
    dialect = op.get_context().dialect
    if dialect.name == "postgresql":
        _execute(f"DROP TYPE IF EXISTS {_qualified(dialect, name, schema)}")


# --- checks --------------------------------------------------------------------------------------


def _validated(
    table: str,
    column: str,
    old: Sequence[str],
    new: Sequence[str],
    mapping: Mapping[str, str],
    name: str | None,
    schema: str | None,
    nullable: bool,
    default: str | None,
) -> _Change:
    where = f"enums.change_values({table}.{column})"
    for label, values in (("old", old), ("new", new)):
        if isinstance(values, str) or not values or len(set(values)) != len(values):
            raise ValueError(f"{where}: {label}= must be a non-empty list of distinct values")
    if strays := [k for k in mapping if k not in old]:
        raise ValueError(f"{where}: mapping keys {strays} are not in old={list(old)}")
    if strays := [v for v in mapping.values() if v not in new]:
        raise ValueError(f"{where}: mapping values {strays} are not in new={list(new)}")
    if default is not None and default not in new:
        raise ValueError(f"{where}: default={default!r} is not in new={list(new)}")
    moves = {k: v for k, v in mapping.items() if k != v}
    return _Change(table, column, tuple(old), tuple(new), moves, name, schema, nullable, default)


def _column(change: _Change) -> sa.ColumnClause:
    return sa.table(change.table, sa.column(change.column), schema=change.schema).c[change.column]


def _refuse_unmapped(conn: Any, change: _Change) -> None:
    """Raise UnmappedValuesError if rows hold values neither in ``new`` nor mapped (one query)."""
    column = _column(change)
    value = sa.cast(column, sa.Text) if conn.dialect.name == "postgresql" else column
    allowed = sorted(set(change.new) | set(change.mapping))
    query = sa.select(value, sa.func.count()).where(column.is_not(None), value.not_in(allowed))
    found = conn.execute(query.group_by(value).order_by(value)).all()
    if found:
        held = ", ".join(f"{v!r} ({n} row{'s' if n != 1 else ''})" for v, n in found)
        raise UnmappedValuesError(
            f"{change.where}: rows hold values that are neither in new={list(change.new)} nor mapped: {held}; "
            "add them to mapping= (or keep them in new=)"
        )


# --- shared steps ---------------------------------------------------------------------------------


def _execute(sql: str) -> None:
    """Run literal SQL online or offline (colons escaped, so values like 'a:b' are not bind names)."""
    op.execute(sa.text(sql.replace(":", "\\:")))


def _literal(value: str) -> str:
    """A standard SQL string literal; ``%`` is left to ``text()``, which escapes it for the driver."""
    return "'" + value.replace("'", "''") + "'"


def _remap(change: _Change) -> None:
    """``UPDATE ... SET column = CASE column WHEN old THEN new ... END`` for the mapped rows only."""
    if not change.mapping:
        return
    column = _column(change)
    values = {change.column: sa.case(change.mapping, value=column)}
    op.execute(sa.update(column.table).where(column.in_(list(change.mapping))).values(values))


# --- PostgreSQL -----------------------------------------------------------------------------------


def _qualified(dialect: Any, name: str, schema: str | None) -> str:
    quoted = dialect.identifier_preparer.quote(name)
    return f"{dialect.identifier_preparer.quote_schema(schema)}.{quoted}" if schema else quoted


def _postgresql(change: _Change, online: bool) -> None:
    if not change.name:
        raise ValueError(f"enums.change_values({change.where}): name= (the enum type) is required on PostgreSQL")
    dialect = op.get_context().dialect
    if online:
        _check_labels(op.get_bind(), change)
    quote = dialect.identifier_preparer.quote
    type_name = _qualified(dialect, change.name, change.schema)
    table = _qualified(dialect, change.table, change.schema)
    if (renames := _renames(change)) is not None:
        for before, after in renames.items():
            _execute(f"ALTER TYPE {type_name} RENAME VALUE {_literal(before)} TO {_literal(after)}")
    elif (additions := _additions(change)) is not None:
        for value, where, anchor in additions:
            _execute(f"ALTER TYPE {type_name} ADD VALUE {_literal(value)} {where} {_literal(anchor)}")
    else:
        _rebuild_type(change, dialect, type_name, table)  # drops the default
        if change.default is None:
            return
    default = "DROP DEFAULT" if change.default is None else f"SET DEFAULT {_literal(change.default)}"
    _execute(f"ALTER TABLE {table} ALTER COLUMN {quote(change.column)} {default}")


def _check_labels(conn: Any, change: _Change) -> None:
    """Refuse when the type's values are not ``old`` (a fast path would keep the strays)."""
    type_name = _qualified(conn.dialect, change.name, change.schema)
    query = "SELECT enumlabel FROM pg_enum WHERE enumtypid = CAST(:t AS regtype) ORDER BY enumsortorder"
    labels = conn.execute(sa.text(query), {"t": type_name}).scalars().all()
    if set(labels) != set(change.old):
        raise ValueError(f"{change.where}: type {change.name} holds {labels}, but old={list(change.old)}")


def _renames(change: _Change) -> dict[str, str] | None:
    """The RENAME VALUE steps when the change only renames values in place (no swaps); else None."""
    if not change.mapping or len(change.new) != len(change.old):
        return None
    if list(change.new) != [change.mapping.get(v, v) for v in change.old]:
        return None
    if any(after in change.old for after in change.mapping.values()):
        return None
    return change.mapping


def _additions(change: _Change) -> list[tuple[str, str, str]] | None:
    """``(value, BEFORE|AFTER, anchor)`` steps when the change only adds values; else None.

    Not when rows move or the new default is a new value: PostgreSQL cannot use a value added by
    ``ADD VALUE`` before the transaction commits.
    """
    if change.mapping or tuple(v for v in change.new if v in change.old) != change.old:
        return None
    if change.default is not None and change.default not in change.old:
        return None
    steps = []
    for i, value in enumerate(change.new):
        if value not in change.old:
            steps.append((value, "AFTER", change.new[i - 1]) if i else (value, "BEFORE", change.old[0]))
    return steps


def _rebuild_type(change: _Change, dialect: Any, type_name: str, table: str) -> None:
    """``<name>_new`` with the new values, the column converted through the mapping, then the swap."""
    quote = dialect.identifier_preparer.quote
    new_type = _qualified(dialect, f"{change.name}_new", change.schema)
    column = quote(change.column)
    cases = " ".join(f"WHEN {_literal(k)} THEN {_literal(v)}" for k, v in change.mapping.items())
    text = f"{column}::text"
    using = f"(CASE {text} {cases} ELSE {text} END)::{new_type}" if cases else f"{text}::{new_type}"
    _execute(f"CREATE TYPE {new_type} AS ENUM ({', '.join(_literal(v) for v in change.new)})")
    _execute(f"ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT")  # the old default cannot be cast
    _execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {new_type} USING {using}")
    _execute(f"DROP TYPE {type_name}")
    _execute(f"ALTER TYPE {new_type} RENAME TO {quote(change.name)}")


# --- MariaDB / MySQL -------------------------------------------------------------------------------


def _mysql(change: _Change) -> None:
    """Widen the ENUM (only when values are added), move the rows, narrow it to ``new``."""
    if change.widened != change.old:
        _modify(change, change.widened)
    _remap(change)
    _modify(change, change.new)


def _modify(change: _Change, values: Sequence[str]) -> None:
    from sqlalchemy.dialects import mysql

    op.alter_column(
        change.table,
        change.column,
        type_=mysql.ENUM(*values),
        existing_nullable=change.nullable,
        existing_server_default=change.default,
        schema=change.schema,
    )


# --- SQLite ----------------------------------------------------------------------------------------


def _sqlite(change: _Change, online: bool) -> None:
    """A CHECK constraint: widen it, update the rows, narrow it (batch mode). Plain strings: update the
    rows, and rebuild the table only if its default is not ``default`` already or its ``VARCHAR`` was
    sized by the old values (see :func:`_resized`).

    Offline there is no table to read, so the column is taken to hold plain strings, left as it is.
    """
    check = _check_constraint(op.get_bind(), change) if online else None
    if check is None:
        _remap(change)
        if not online:
            return
        column = _reflected(op.get_bind(), change)
        resized = _resized(column.get("type"), change)
        if resized is not None or column.get("default") != _sql_default(change):
            with op.batch_alter_table(change.table, schema=change.schema) as batch:
                batch.alter_column(
                    change.column,
                    existing_nullable=change.nullable,
                    server_default=change.default,
                    **({"type_": resized} if resized is not None else {}),
                )
        return
    _retype(change, change.widened, check.get("name"))
    _remap(change)
    _retype(change, change.new, check.get("name"))


def _reflected(conn: Any, change: _Change) -> dict[str, Any]:
    columns = sa.inspect(conn).get_columns(change.table, schema=change.schema)
    return next((c for c in columns if c["name"] == change.column), {})


def _resized(current: Any, change: _Change) -> sa.String | None:
    """The column's new type when its ``VARCHAR(n)`` is what a non-native Enum of the old values makes
    (n = the longest old value) and the new values make another n; else None (a length the models
    chose, or no length, stays as it is)."""
    old, new = (max(len(v) for v in values) for values in (change.old, change.new))
    if isinstance(current, sa.String) and current.length == old != new:
        return sa.String(new)
    return None


def _sql_default(change: _Change) -> str | None:
    """``default`` as SQLite reflects it: a quoted literal."""
    return None if change.default is None else _literal(change.default)


def _check_constraint(conn: Any, change: _Change) -> dict[str, Any] | None:
    """The table's CHECK constraint on the column: named ``name``, or ``column IN (...)``."""
    pattern = re.compile(rf"""^\W*{re.escape(change.column)}\W*\s+IN\s*\(""", re.IGNORECASE)
    for check in sa.inspect(conn).get_check_constraints(change.table, schema=change.schema):
        if (change.name and check.get("name") == change.name) or pattern.match(check["sqltext"]):
            return check
    return None


def _retype(change: _Change, values: Sequence[str], constraint: str | None) -> None:
    """Rebuild the table with the column's CHECK allowing ``values`` (same constraint name)."""
    enum = sa.Enum(*values, name=constraint, create_constraint=True)
    with op.batch_alter_table(change.table, schema=change.schema) as batch:
        batch.alter_column(change.column, type_=enum, existing_nullable=change.nullable, server_default=change.default)

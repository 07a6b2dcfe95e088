"""Readable lines for Alembic's autogenerate differences (``compare_metadata`` output)."""

from __future__ import annotations

from typing import Any


def describe(diff: Any, expected: str = "the models") -> list[str]:
    """One readable line per difference; ``expected`` names what the database is compared with."""
    if isinstance(diff, list):
        return [line for item in diff for line in describe(item, expected)]
    kind = diff[0]
    handler = _HANDLERS.get(kind)
    if handler is None:
        return [f"{kind.replace('_', ' ')}: {diff[1:]!r}"]
    return [handler(*diff[1:]).replace("the models", expected).replace("models have", f"{expected} have")]


def _table_name(table: Any) -> str:
    return f"{table.schema}.{table.name}" if getattr(table, "schema", None) else table.name


def _qual(schema: str | None, table: str) -> str:
    return f"{schema}.{table}" if schema else table


def _column(col: Any) -> str:
    null = "NULL" if col.nullable else "NOT NULL"
    return f"{col.type} {null}"


def _cols(constraint: Any) -> str:
    return ", ".join(c.name for c in constraint.columns)


def _index(verb: str) -> Any:
    def fmt(index: Any) -> str:
        unique = "unique " if index.unique else ""
        return f"{verb} {unique}index {index.name} on {_table_name(index.table)} ({_cols(index)})"

    return fmt


def _constraint(verb: str) -> Any:
    def fmt(constraint: Any) -> str:
        kind = type(constraint).__name__.replace("Constraint", " constraint").lower()
        return (
            f"{verb} {kind} {constraint.name or '(unnamed)'} on {_table_name(constraint.table)} ({_cols(constraint)})"
        )

    return fmt


def _fk(verb: str) -> Any:
    def fmt(fk: Any) -> str:
        target = fk.referred_table.name if fk.referred_table is not None else "?"
        return f"{verb} foreign key {fk.name or '(unnamed)'} on {_table_name(fk.table)} ({_cols(fk)}) -> {target}"

    return fmt


def _modify(what: str) -> Any:
    def fmt(schema: str | None, table: str, column: str, _kw: Any, old: Any, new: Any) -> str:
        return f"column {_qual(schema, table)}.{column}: {what} differs: database has {old}, models have {new}"

    return fmt


_HANDLERS: dict[str, Any] = {
    "add_table": lambda t: f"table {_table_name(t)} is in the models but not in the database",
    "remove_table": lambda t: f"table {_table_name(t)} is in the database but not in the models",
    "add_column": lambda s, t, c: (
        f"column {_qual(s, t)}.{c.name} ({_column(c)}) is in the models but not in the database"
    ),
    "remove_column": lambda s, t, c: f"column {_qual(s, t)}.{c.name} is in the database but not in the models",
    "add_index": _index("add"),
    "remove_index": _index("remove"),
    "add_constraint": _constraint("add"),
    "remove_constraint": _constraint("remove"),
    "add_fk": _fk("add"),
    "remove_fk": _fk("remove"),
    "modify_type": _modify("type"),
    "modify_nullable": lambda s, t, c, _kw, old, new: (
        f"column {_qual(s, t)}.{c}: database has {'NULL' if old else 'NOT NULL'}, "
        f"models have {'NULL' if new else 'NOT NULL'}"
    ),
    "modify_default": _modify("server default"),
    "modify_comment": _modify("comment"),
}

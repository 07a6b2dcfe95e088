"""The objects of a replay that a baseline cannot carry: neither autogenerate nor the comparison sees them.

A baseline is rendered from the replay's tables and plain views in the default schema (and, on PostgreSQL,
its enums, standalone sequences and extensions). Anything else the old revisions made (a trigger, a function,
a MariaDB sequence, a table in another PostgreSQL schema, ...) would be missing from every database made
from the baseline while the comparison, which reads the same tables, still says equal. :func:`found` lists
them, so that the squash can refuse instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: keep(name, schema): whether a table-like object takes part (schema None: the default schema)
Keep = Callable[[str, "str | None"], bool]

_PG_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "S": "sequence", "f": "foreign table"}
_PG_PROCS = {"f": "function", "p": "procedure", "a": "aggregate", "w": "window function"}
_PG_TYPES = {"d": "domain", "c": "type", "r": "range type", "e": "enum"}
# not a system schema (pg_catalog, pg_toast, pg_temp_N, ...; a user cannot make a pg_ schema) nor an extension's
_PG_SCHEMA = (
    "{n}.nspname NOT LIKE 'pg\\_%' AND {n}.nspname <> 'information_schema' AND NOT EXISTS "
    "(SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_namespace'::regclass AND e.objid = {n}.oid "
    "AND e.deptype = 'e')"
)
# not made by an extension (CREATE EXTENSION's functions, types, ...)
_PG_OWN = (
    "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass AND e.objid = {oid} "
    "AND e.deptype = 'e')"
)


def found(connection: Any, keep: Keep) -> tuple[str, ...]:
    """What the database holds that a baseline cannot carry, each as ``kind name`` (``trigger t on files``)."""
    name = connection.dialect.name
    if name == "sqlite":
        return _sqlite(connection, keep)
    if name == "postgresql":
        return _postgresql(connection, keep)
    if name in ("mysql", "mariadb"):
        return _mysql(connection, keep)
    return ()


def _rows(connection: Any, query: str) -> list[tuple[Any, ...]]:
    import sqlalchemy as sa

    return [tuple(r) for r in connection.execute(sa.text(query)).all()]


def _sqlite(connection: Any, keep: Keep) -> tuple[str, ...]:
    rows = _rows(connection, "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
    return tuple(sorted(f"trigger {n} on {t}" for n, t in rows if keep(t, None)))


def _mysql(connection: Any, keep: Keep) -> tuple[str, ...]:
    here = "= DATABASE()"
    triggers = _rows(
        connection,
        f"SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA {here}",
    )
    routines = _rows(
        connection, f"SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA {here}"
    )
    sequences = _rows(
        connection,
        f"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA {here} AND TABLE_TYPE = 'SEQUENCE'",
    )
    events = _rows(connection, f"SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA {here}")
    return (
        *sorted(f"trigger {n} on {t}" for n, t in triggers if keep(t, None)),
        *sorted(f"{str(kind).lower()} {n}" for kind, n in routines),
        *sorted(f"sequence {n}" for (n,) in sequences if keep(n, None)),
        *sorted(f"event {n}" for (n,) in events),
    )


def _postgresql(connection: Any, keep: Keep) -> tuple[str, ...]:
    default = _rows(connection, "SELECT current_schema()")[0][0]
    schema_ok = _PG_SCHEMA.format(n="n")

    def named(schema: str, name: str) -> str:
        return name if schema == default else f"{schema}.{name}"

    def kept(schema: str, name: str) -> bool:
        return keep(name, None if schema == default else schema)

    relations = _rows(
        connection,
        "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {schema_ok} "
        f"AND {_PG_OWN.format(catalog='pg_class', oid='c.oid')} AND NOT (c.relkind = 'S' AND EXISTS "
        "(SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))) ORDER BY 1, 2",
    )
    found = []
    # in the default schema: materialized views (tables, views, enums and standalone sequences are the baseline's)
    for schema, name, kind in relations:
        if schema == default and kind == "m" and kept(schema, name):
            found.append(f"{_PG_KINDS[kind]} {name}")
    # what hangs on a table: (kind, catalog, its name column, its table column, which rows count)
    on_tables = (
        ("rule", "pg_rewrite", "rulename", "ev_class", "x.rulename <> '_RETURN'"),  # _RETURN: a view's own
        ("trigger", "pg_trigger", "tgname", "tgrelid", "NOT x.tgisinternal"),  # internal: a foreign key's
        ("policy", "pg_policy", "polname", "polrelid", "true"),
    )
    for kind, catalog, name_column, table_column, condition in on_tables:
        for schema, table, name in _rows(
            connection,
            f"SELECT n.nspname, c.relname, x.{name_column} FROM {catalog} x "
            f"JOIN pg_class c ON c.oid = x.{table_column} JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE {schema_ok} AND {condition} ORDER BY 3",
        ):
            if kept(schema, table):
                found.append(f"{kind} {name} on {named(schema, table)}")
    found += [
        f"row level security on {named(schema, table)}"
        for schema, table in _rows(
            connection,
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE c.relrowsecurity AND {schema_ok} ORDER BY 2",
        )
        if kept(schema, table)
    ]
    found += [
        f"event trigger {name}"
        for (name,) in _rows(
            connection,
            f"SELECT evtname FROM pg_event_trigger t WHERE {_PG_OWN.format(catalog='pg_event_trigger', oid='t.oid')} "
            "ORDER BY 1",
        )
    ]
    procs = _rows(
        connection,
        "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind FROM pg_proc p "
        f"JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {schema_ok} "
        f"AND {_PG_OWN.format(catalog='pg_proc', oid='p.oid')} ORDER BY p.prokind <> 'f', p.prokind, 1, 2, 3",
    )
    found += [f"{_PG_PROCS.get(kind, 'function')} {named(schema, name)}({args})" for schema, name, args, kind in procs]
    types = _rows(
        connection,
        "SELECT n.nspname, t.typname, t.typtype FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        f"WHERE {schema_ok} AND {_PG_OWN.format(catalog='pg_type', oid='t.oid')} AND (t.typtype IN ('d', 'r', 'e') "
        "OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c'))) "
        "ORDER BY t.typtype <> 'd', 1, 2",
    )
    # an enum of the default schema is the baseline's
    found += [
        f"{_PG_TYPES[kind]} {named(schema, name)}" for schema, name, kind in types if kind != "e" or schema != default
    ]
    found += [
        f"{_PG_KINDS[kind]} {schema}.{name}"
        for schema, name, kind in relations
        if schema != default and kept(schema, name)
    ]
    used = {schema for schema, *_ in relations} | {schema for schema, *_ in procs} | {schema for schema, *_ in types}
    empty = _rows(connection, f"SELECT n.nspname FROM pg_namespace n WHERE {schema_ok} ORDER BY 1")
    found += [f"schema {schema}" for (schema,) in empty if schema != default and schema not in used]
    return tuple(found)

"""The objects of a replay that a baseline cannot carry: neither autogenerate nor the comparison sees them.

A baseline is rendered from the replay's tables and plain views in the default schema (and, on PostgreSQL,
its enums, standalone sequences and extensions; the comments of the tables and their columns). Anything else
the old revisions made (a trigger, a function, a MariaDB sequence, a table in another PostgreSQL schema, a
SQLite virtual table, a grant, a publication, ...) would be missing from every database made from the baseline
while the comparison, which reads the same tables, still says equal. :func:`found` lists them, so that the
squash can refuse instead.
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


def query_rows(connection: Any, query: str) -> list[tuple[Any, ...]]:
    """The rows of a query without parameters, as tuples."""
    import sqlalchemy as sa

    return [tuple(r) for r in connection.execute(sa.text(query)).all()]


def _sqlite(connection: Any, keep: Keep) -> tuple[str, ...]:
    rows = query_rows(connection, "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
    virtual = query_rows(
        connection, "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'"
    )
    return (
        *sorted(f"virtual table {n}" for (n,) in virtual if keep(n, None)),
        *sorted(f"trigger {n} on {t}" for n, t in rows if keep(t, None)),
    )


def sqlite_shadow_tables(connection: Any) -> set[str]:
    """The tables SQLite made for its virtual tables (an FTS5 table's ``docs_data``, ``docs_idx``, ...):
    the virtual table's own, never an ordinary table of a baseline."""
    if connection.dialect.name != "sqlite":
        return set()
    listed = query_rows(connection, "PRAGMA main.table_list")
    if listed:  # it lists sqlite_schema at least
        return {name for _schema, name, kind, *_ in listed if kind == "shadow"}
    # SQLite before 3.37 ignores the pragma: a virtual table's shadow tables start with its name
    virtual = query_rows(connection, "SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'")
    tables = query_rows(connection, "SELECT name FROM sqlite_master WHERE type = 'table'")
    return {t for (t,) in tables for (v,) in virtual if t != v and t.startswith(f"{v}_")}


def _mysql(connection: Any, keep: Keep) -> tuple[str, ...]:
    here = "= DATABASE()"
    triggers = query_rows(
        connection,
        f"SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA {here}",
    )
    routines = query_rows(
        connection, f"SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA {here}"
    )
    sequences = query_rows(
        connection,
        f"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA {here} AND TABLE_TYPE = 'SEQUENCE'",
    )
    events = query_rows(connection, f"SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA {here}")
    return (
        *sorted(f"trigger {n} on {t}" for n, t in triggers if keep(t, None)),
        *sorted(f"{str(kind).lower()} {n}" for kind, n in routines),
        *sorted(f"sequence {n}" for (n,) in sequences if keep(n, None)),
        *sorted(f"event {n}" for (n,) in events),
        *_mysql_grants(connection, keep),
    )


def _mysql_grants(connection: Any, keep: Keep) -> list[str]:
    """Privileges granted on this database, its tables and columns."""
    from ..testing.dialects import mysql_grants

    found: dict[tuple[int, str, str], list[str]] = {}
    for grantee, _schema, table, column, privilege, _grantable in mysql_grants(connection):
        if not table or keep(table, None):
            order, where = (
                (2, f"column {table}.{column}") if column else (1, f"table {table}") if table else (0, "database")
            )
            found.setdefault((order, where, grantee), []).append(privilege)
    return [f"grant {', '.join(sorted(set(p)))} on {where} to {who}" for (_, where, who), p in sorted(found.items())]


def _postgresql(connection: Any, keep: Keep) -> tuple[str, ...]:
    default = query_rows(connection, "SELECT current_schema()")[0][0]
    schema_ok = _PG_SCHEMA.format(n="n")

    def named(schema: str, name: str) -> str:
        return name if schema == default else f"{schema}.{name}"

    def kept(schema: str, name: str) -> bool:
        return keep(name, None if schema == default else schema)

    relations = query_rows(
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
        for schema, table, name in query_rows(
            connection,
            f"SELECT n.nspname, c.relname, x.{name_column} FROM {catalog} x "
            f"JOIN pg_class c ON c.oid = x.{table_column} JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE {schema_ok} AND {condition} ORDER BY 3",
        ):
            if kept(schema, table):
                found.append(f"{kind} {name} on {named(schema, table)}")
    found += [
        f"row level security on {named(schema, table)}"
        for schema, table in query_rows(
            connection,
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE (c.relrowsecurity OR c.relforcerowsecurity) AND {schema_ok} ORDER BY 2",
        )
        if kept(schema, table)
    ]
    found += [
        f"event trigger {name}"
        for (name,) in query_rows(
            connection,
            f"SELECT evtname FROM pg_event_trigger t WHERE {_PG_OWN.format(catalog='pg_event_trigger', oid='t.oid')} "
            "ORDER BY 1",
        )
    ]
    procs = query_rows(
        connection,
        "SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind FROM pg_proc p "
        f"JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {schema_ok} "
        f"AND {_PG_OWN.format(catalog='pg_proc', oid='p.oid')} ORDER BY p.prokind <> 'f', p.prokind, 1, 2, 3",
    )
    found += [f"{_PG_PROCS.get(kind, 'function')} {named(schema, name)}({args})" for schema, name, args, kind in procs]
    types = query_rows(
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
    found += _pg_sequence_options(connection)
    found += _pg_privileges(connection, schema_ok, named, kept)
    found += [
        f"publication {name}" for (name,) in query_rows(connection, "SELECT pubname FROM pg_publication ORDER BY 1")
    ]
    found += _pg_comments(connection, schema_ok, default, kept)
    used = {schema for schema, *_ in relations} | {schema for schema, *_ in procs} | {schema for schema, *_ in types}
    empty = query_rows(connection, f"SELECT n.nspname FROM pg_namespace n WHERE {schema_ok} ORDER BY 1")
    found += [f"schema {schema}" for (schema,) in empty if schema != default and schema not in used]
    return tuple(found)


_PG_INT_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}


def _pg_sequence_options(connection: Any) -> list[str]:
    """Standalone sequences of the default schema with what the baseline's ``CREATE SEQUENCE`` (start and
    increment only) would not make: a type, bounds, a cache, ``CYCLE``."""
    found = []
    for name, type_, step, low, high, cache, cycle in query_rows(
        connection,
        "SELECT c.relname, format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, s.seqcache, "
        "s.seqcycle FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_sequence s ON s.seqrelid = c.oid WHERE c.relkind = 'S' AND n.nspname = current_schema() "
        f"AND {_PG_OWN.format(catalog='pg_class', oid='c.oid')} AND NOT EXISTS "
        "(SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) ORDER BY 1",
    ):
        top = _PG_INT_MAX.get(type_, _PG_INT_MAX["bigint"])
        lowest, highest = (1, top) if step > 0 else (-top - 1, -1)
        options = [f"AS {type_}"] if type_ != "bigint" else []
        options += [f"MINVALUE {low}"] if low != lowest else []
        options += [f"MAXVALUE {high}"] if high != highest else []
        options += [f"CACHE {cache}"] if cache != 1 else []
        options += ["CYCLE"] if cycle else []
        if options:
            found.append(f"sequence {name} {' '.join(options)}")
    return found


# in the order they are listed
_PG_ACL_KINDS = (
    "table",
    "view",
    "materialized view",
    "sequence",
    "foreign table",
    "column",
    "schema",
    "type",
    "database",
)
_PG_DEFAULT_ACL = {"r": "tables", "S": "sequences", "f": "functions", "T": "types", "n": "schemas"}


def _pg_privileges(connection: Any, schema_ok: str, named: Callable, kept: Callable) -> list[str]:
    """What ``GRANT`` and ``REVOKE`` changed: each object's privileges against those it gets when it is made
    (its owner's, ``acldefault()``, and what ``ALTER DEFAULT PRIVILEGES`` gave such objects), on the tables,
    views, sequences, their columns, the schemas, the enum types and the database; then ``ALTER DEFAULT
    PRIVILEGES`` itself. A default privilege set after an object was made is no revoke on it."""
    own_class = _PG_OWN.format(catalog="pg_class", oid="c.oid")
    kinds = (
        "CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' "
        "WHEN 'f' THEN 'foreign table' ELSE 'table' END"
    )
    # kind, schema, name, its table (for keep), acldefault()'s kind, pg_default_acl's kind, schema oid, owner, acl
    objects = (
        f"SELECT {kinds} AS kind, n.nspname AS schema, c.relname AS name, c.relname AS rel, "
        "CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END AS dk, CASE c.relkind WHEN 'S' THEN 'S' ELSE 'r' END AS ddk, "
        "n.oid AS nsp, c.relowner AS owner, c.relacl AS acl "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {schema_ok} AND {own_class} "
        "UNION ALL SELECT 'column', n.nspname, c.relname || '.' || a.attname, c.relname, 'c', NULL, NULL, "
        "c.relowner, a.attacl FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL AND {schema_ok} AND {own_class} "
        "UNION ALL SELECT 'schema', NULL, n.nspname, NULL, 'n', 'n', NULL, n.nspowner, n.nspacl "
        f"FROM pg_namespace n WHERE {schema_ok} "
        "UNION ALL SELECT 'type', n.nspname, t.typname, NULL, 'T', 'T', n.oid, t.typowner, t.typacl FROM pg_type t "
        f"JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype = 'e' AND {schema_ok} "
        f"AND {_PG_OWN.format(catalog='pg_type', oid='t.oid')} "
        "UNION ALL SELECT 'database', NULL, '', NULL, 'd', NULL, NULL, d.datdba, d.datacl FROM pg_database d "
        "WHERE d.datname = current_database()"
    )
    default_acl = (
        '(SELECT a.defaclacl FROM pg_default_acl a WHERE a.defaclrole = o.owner AND a.defaclobjtype = o.ddk::"char" '
        "AND a.defaclnamespace = {where})"
    )
    # what the object got when it was made: the global default privileges (else acldefault()), and its schema's
    made = (
        f'array_cat(coalesce({default_acl.format(where="0")}, acldefault(o.dk::"char", o.owner)), '
        f"coalesce({default_acl.format(where='o.nsp')}, '{{}}'::aclitem[]))"
    )
    grantee = "CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END"
    rows = query_rows(
        connection,
        f"WITH o AS ({objects}) "
        + " UNION ALL ".join(
            f"SELECT '{side}', o.kind, o.schema, o.name, o.rel, {grantee}, x.privilege_type, x.is_grantable "
            f"FROM o, aclexplode({acl}) x"
            for side, acl in (
                ("now", 'coalesce(o.acl, acldefault(o.dk::"char", o.owner))'),
                ("base", 'acldefault(o.dk::"char", o.owner)'),
                ("made", made),
            )
        ),
    )
    now, base, made_with = ({row[1:] for row in rows if row[0] == side} for side in ("now", "base", "made"))
    changed: dict[tuple[int, str, int, str], list[str]] = {}
    for verb, privileges in ((0, now - base - made_with), (1, (base & made_with) - now)):
        for kind, schema, name, rel, who, privilege, grantable in privileges:
            if rel is not None and not kept(schema, rel):
                continue
            what = f"{kind} {named(schema, name) if schema else name}".strip()
            label = f"{privilege} WITH GRANT OPTION" if grantable else privilege
            changed.setdefault((_PG_ACL_KINDS.index(kind), what, verb, who), []).append(label)
    found = [
        f"{'revoke' if verb else 'grant'} {', '.join(sorted(labels))} on {what} {'from' if verb else 'to'} {who}"
        for (_, what, verb, who), labels in sorted(changed.items())
    ]
    found += [
        f"default privileges on {_PG_DEFAULT_ACL.get(kind, kind)}{f' in schema {schema}' if schema else ''} of {role}"
        for role, schema, kind in query_rows(
            connection,
            "SELECT pg_get_userbyid(a.defaclrole), n.nspname, a.defaclobjtype FROM pg_default_acl a "
            "LEFT JOIN pg_namespace n ON n.oid = a.defaclnamespace ORDER BY 1, 2, 3",
        )
    ]
    return found


def _pg_comments(connection: Any, schema_ok: str, default: str, kept: Callable) -> list[str]:
    """``COMMENT ON`` anything but a kept table of the default schema or its columns (those the baseline
    writes, as ``comment=``): an index's, a constraint's, a view's, a sequence's, a type's, ..."""
    found = []
    for description, schema, table, relkind in query_rows(
        connection,
        "SELECT pg_describe_object(d.classoid, d.objoid, d.objsubid), n.nspname, c.relname, c.relkind "
        "FROM pg_description d "
        "LEFT JOIN pg_index i ON d.classoid = 'pg_class'::regclass AND i.indexrelid = d.objoid "
        "LEFT JOIN pg_constraint k ON d.classoid = 'pg_constraint'::regclass AND k.oid = d.objoid "
        "LEFT JOIN pg_class c ON c.oid = CASE WHEN d.classoid = 'pg_class'::regclass "
        "THEN coalesce(i.indrelid, d.objoid) ELSE k.conrelid END "
        "LEFT JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE d.classoid <> 'pg_extension'::regclass AND NOT EXISTS (SELECT 1 FROM pg_depend e "
        "WHERE e.classid = d.classoid AND e.objid = d.objoid AND e.deptype = 'e') "
        f"AND (c.oid IS NULL OR ({schema_ok})) ORDER BY 1",
    ):
        if table is not None and not kept(schema, table):
            continue
        if schema == default and relkind in ("r", "p") and not description.startswith(("index ", "constraint ")):
            continue  # the table's comment or a column's: the baseline's
        found.append(f"comment on {description}")
    return found

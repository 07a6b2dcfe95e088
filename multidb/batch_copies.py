"""Autogenerate writes each batch operation with its table's definition, for offline (``--sql``) SQLite.

On SQLite most batch operations rebuild the table: Alembic reads the table's definition from the
database, copies the rows into a new table and renames it. ``--sql`` has no database to read, so
Alembic needs the definition as ``batch_alter_table(copy_from=...)``. When autogenerate writes a
batch operation, this module writes that definition into the revision, as a frozen ``sa.Table``
next to the ``with`` block:

* in ``upgrade()``, the table as the database holds it when the revision is written (reflected: the
  state before the revision);
* in ``downgrade()``, the table as the models define it (the state the upgrade leaves).

The copy is passed only in offline runs (``copy_from=X if op.get_context().as_sql else None``): an
online run still reads the live table, as before, so a copy that misses something can never change
what an online migration does.

Only importing this module registers its renderer (``alembic.autogenerate.renderers``, Alembic's
documented hook for rendering an operation), and only for its own operation class.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import renderers
from alembic.operations import ops

from .frozen import as_table, variable_name

COPY_NOTE = {
    "upgrade": "# {table} as it stands before this revision: --sql (offline) SQL cannot read it from a database",
    "downgrade": "# {table} as this revision leaves it: --sql (offline) SQL cannot read it from a database",
}


class BatchWithCopy(ops.ModifyTableOps):
    """A batch operation that carries its table's definition (``copy``) and the direction it runs in."""

    def __init__(self, source: ops.ModifyTableOps, copy: Any, direction: str):
        super().__init__(source.table_name, source.ops, schema=source.schema)
        self.copy = copy
        self.direction = direction


def add_copies(migration_context: Any, directives: list) -> None:
    """``process_revision_directives``: give every batch operation of the new revisions its table."""
    opts = migration_context.opts
    if not opts.get("render_as_batch") or migration_context.connection is None:
        return
    models = opts.get("target_metadata")
    for script in directives:
        for upgrade_ops in script.upgrade_ops_list:
            _wrap(upgrade_ops, lambda op: _reflected(migration_context.connection, op), "upgrade")
        for downgrade_ops in script.downgrade_ops_list:
            _wrap(downgrade_ops, lambda op: _modelled(models, op), "downgrade")


def _wrap(container: Any, find: Any, direction: str) -> None:
    for i, op in enumerate(container.ops):
        if type(op) is ops.ModifyTableOps and op.ops:
            copy = find(op)
            if copy is not None and _copyable(copy):
                container.ops[i] = BatchWithCopy(op, copy, direction)


def _reflected(connection: Any, op: ops.ModifyTableOps) -> Any:
    import sqlalchemy as sa

    try:
        return sa.Table(op.table_name, sa.MetaData(), schema=op.schema, autoload_with=connection)
    except sa.exc.NoSuchTableError:
        return None


def _modelled(models: Any, op: ops.ModifyTableOps) -> Any:
    if models is None:
        return None
    key = f"{op.schema}.{op.table_name}" if op.schema else op.table_name
    return models.tables.get(key)


@renderers.dispatch_for(BatchWithCopy)
def _render(autogen_context: Any, op: BatchWithCopy) -> list[str]:
    plain = ops.ModifyTableOps(op.table_name, op.ops, schema=op.schema)
    lines = list(renderers.dispatch(plain)(autogen_context, plain))
    head = ") as batch_op:"
    if not lines or not lines[0].endswith(head):  # not rendered as a batch: nothing to copy
        return lines
    variable = f"{variable_name(op.table_name)}_table"
    create = ops.CreateTableOp.from_table(op.copy)
    code = renderers.dispatch(create)(autogen_context, create)
    definition = as_table(variable, code, "sa.MetaData()", [_index(ix) for ix in _indexes(op.copy)])
    lines[0] = lines[0][: -len(head)] + f", copy_from={variable} if op.get_context().as_sql else None{head}"
    return [COPY_NOTE[op.direction].format(table=op.table_name), definition, *lines]


def _copyable(table: Any) -> bool:
    """Whether every index of the table is named, on plain columns and whole (not partial): those are
    written as ``sa.Index(name, *columns, unique=...)``. Another index would be lost from the copy, so
    such a table gets none (``--sql`` then says how to give it)."""
    import sqlalchemy as sa

    for index in table.indexes:
        if not index.name or not all(isinstance(e, sa.Column) for e in index.expressions):
            return False
        if any(v is not None for k, v in index.dialect_kwargs.items() if k.endswith("_where")):
            return False
    return True


def _indexes(table: Any) -> list[Any]:
    return sorted(table.indexes, key=lambda ix: ix.name)


def _index(index: Any) -> str:
    columns = ", ".join(repr(e.name) for e in index.expressions)
    unique = ", unique=True" if index.unique else ""
    return f"sa.Index({index.name!r}, {columns}{unique})"

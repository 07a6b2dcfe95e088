"""Helpers for data migrations inside revision files.

Use them with table definitions copied into the revision (``multidb revision DB --data --tables``
writes them), never with the live models::

    from multidb import data

    def upgrade() -> None:
        data.update_in_batches(holdings, {"status": "active"}, where=holdings.c.status.is_(None))

* **Batched and set-based.** Rows are changed with ``UPDATE ... WHERE key > :low AND key <= :high``
  over ranges of the primary key (keyset, never ``OFFSET`` over the whole table), so memory stays
  flat however large the table grows, and each statement touches a bounded number of rows.
* **All or nothing by default.** The batches run inside the revision's transaction. On SQLite, which
  locks the whole file until that transaction ends anyway, a step without ``batch_size`` runs as one
  statement (batches would only add key-range probes).
* **Online mode** (``online=True``) commits batch by batch, each batch together with a checkpoint
  row in ``multidb_data_progress``; a step interrupted at row k continues from there on the next
  run. The revision is marked applied only after the step has finished. Put such a step in a
  revision of its own (no schema changes), since the revision's earlier work is committed first.
* **Keys that reach every row.** The batch key must be unique and NOT NULL (the primary key by
  default): a NULL key is in no key range, so its row would be skipped. Anything else is refused
  before a row changes.
* **Progress goes to a reporter, never to the screen.** The helpers print nothing; they report to
  :func:`multidb.reporting.current`, which the ``multidb`` command sets to draw a progress bar on a
  terminal (none in a pipe, under ``multidb --quiet`` or with ``MULTIDB_QUIET`` set).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from . import reporting, running

DEFAULT_BATCH_SIZE = 10_000
PROGRESS_TABLE = "multidb_data_progress"

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "copy_in_batches",
    "delete_in_batches",
    "require_columns",
    "update_in_batches",
    "upsert",
]


def _bind(bind: Any) -> Any:
    if bind is not None:
        return bind
    from alembic import op

    return op.get_bind()


_KEY_HINT = "pass key= a unique, NOT NULL column"


def _key(table: Any, key: str | None) -> sa.Column:
    if key is not None:
        return table.c[key]
    pk = list(table.primary_key.columns)
    if len(pk) != 1:
        has = f"its primary key is {', '.join(c.name for c in pk)}" if pk else "it has no primary key"
        raise ValueError(f"table {table.name}: batching needs a single-column key, and {has}; {_KEY_HINT}")
    return pk[0]


def _refuse_bad_key(table: Any, column: Any, conn: Any) -> None:
    """Raise ValueError unless ``column`` is NOT NULL and unique on its own (a primary key, a unique
    constraint or a unique index of that one column): keyset batches would skip rows otherwise.

    The table's own definition tells (a frozen copy, or a reflected table); a lightweight
    ``sa.table()`` has none, so the database's is read (not under ``--sql``, where ``conn`` is None).
    """
    if not isinstance(table, sa.Table):
        if conn is None:
            return
        table = sa.Table(table.name, sa.MetaData(), schema=table.schema, autoload_with=conn)
        column = table.c[column.name]
    where = f"{table.name}.{column.name}"
    if column.nullable:
        raise ValueError(f"batch key {where} can be NULL, and rows with a NULL key would be skipped; {_KEY_HINT}")
    alone = [column.name]
    unique = [list(table.primary_key.columns)]
    unique += [list(c.columns) for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
    unique += [list(i.expressions) for i in table.indexes if i.unique]
    if not column.unique and not any([getattr(c, "name", None) for c in cols] == alone for cols in unique):
        raise ValueError(f"batch key {where} is not unique on its own, so batches could skip rows; {_KEY_HINT}")


def _boundaries(
    conn: Any, table: sa.Table, key: sa.Column, where: Any, batch_size: int, after: Any
) -> Iterator[tuple[Any, Any]]:
    """Successive (low exclusive, high inclusive) key ranges of at most ``batch_size`` rows."""
    low = after
    while True:
        query = sa.select(key)
        if where is not None:
            query = query.where(where)
        if low is not None:
            query = query.where(key > low)
        high = conn.execute(query.order_by(key).offset(batch_size - 1).limit(1)).scalar()
        if high is None:  # the last, partial batch: up to the largest key (max() has no UUID form)
            last = conn.execute(query.order_by(key.desc()).limit(1)).scalar()
            if last is not None:
                yield low, last
            return
        yield low, high
        low = high


def _within(statement: Any, key: sa.Column, low: Any, high: Any, where: Any) -> Any:
    """``statement`` limited to the key range (low, high] and ``where``; None bounds are left out."""
    clauses = [key <= high] if high is not None else []
    if low is not None:
        clauses.append(key > low)
    if where is not None:
        clauses.append(where)
    return statement.where(*clauses) if clauses else statement


def _offline() -> bool:
    context = sys.modules.get("alembic.context")  # not imported: certainly not inside a migration
    if context is None:
        return False
    try:
        return bool(context.is_offline_mode())
    except Exception:  # not inside an Alembic environment (bind= given directly)
        return False


def update_in_batches(
    table: sa.Table,
    values: Mapping[str, Any],
    where: Any = None,
    *,
    batch_size: int | None = None,
    key: str | None = None,
    online: bool = False,
    step: str | None = None,
    bind: Any = None,
) -> int:
    """``UPDATE table SET values [WHERE where]`` in key ranges of ``batch_size`` rows; returns rows changed.

    ``values`` may hold SQL expressions over the table's columns. With ``online=True`` each batch
    commits with a checkpoint, and a re-run continues after the last committed batch. The checkpoint
    is named ``step``, by default ``"<revision>:<table>"`` (``#2``, ``#3`` for a revision's further
    online steps on the table). ``key`` (default: the single-column primary key) must be unique and
    NOT NULL, else ValueError before any change.
    """
    column = _key(table, key)

    def run_batch(low: Any, high: Any) -> Any:
        return _within(sa.update(table), column, low, high, where).values(dict(values))

    return _batched(table, column, where, batch_size, online, step, bind, run_batch)


def delete_in_batches(
    table: sa.Table,
    where: Any = None,
    *,
    batch_size: int | None = None,
    key: str | None = None,
    online: bool = False,
    step: str | None = None,
    bind: Any = None,
) -> int:
    """``DELETE FROM table [WHERE where]`` in key ranges of ``batch_size`` rows; returns rows deleted.

    The same batches, checkpoints and key rules as :func:`update_in_batches`: each range is found among
    the rows ``where`` selects, so a batch deletes at most ``batch_size`` rows, and an online step
    interrupted between batches continues after the last committed one.
    """
    column = _key(table, key)

    def run_batch(low: Any, high: Any) -> Any:
        return _within(sa.delete(table), column, low, high, where)

    return _batched(table, column, where, batch_size, online, step, bind, run_batch)


def copy_in_batches(
    source: sa.Table,
    target: sa.Table,
    columns: Mapping[str, Any] | None = None,
    where: Any = None,
    *,
    batch_size: int | None = None,
    key: str | None = None,
    online: bool = False,
    step: str | None = None,
    bind: Any = None,
) -> int:
    """``INSERT INTO target SELECT ... FROM source`` in key ranges of the source; returns rows copied.

    ``columns`` maps target column names to source expressions (default: same-named columns).
    """
    column = _key(source, key)
    mapping = (
        dict(columns) if columns is not None else {c.name: source.c[c.name] for c in target.c if c.name in source.c}
    )

    def run_batch(low: Any, high: Any) -> Any:
        select = sa.select(*[sa.literal(v) if not isinstance(v, sa.ColumnElement) else v for v in mapping.values()])
        return sa.insert(target).from_select(list(mapping), _within(select, column, low, high, where))

    return _batched(source, column, where, batch_size, online, step, bind, run_batch)


def _batched(table, column, where, batch_size, online, step, bind, statement) -> int:
    """Run ``statement(low, high)`` (an UPDATE, DELETE or INSERT over a key range) batch by batch."""
    if _offline():  # --sql: one set-based statement over the whole range is the SQL to hand over
        from alembic import op

        from .lint import BATCHED

        _refuse_bad_key(table, column, None)
        # marked so that multidb lint (which renders revisions offline) knows it runs in batches online
        op.execute(statement(None, None).execution_options(**{BATCHED: True}))
        return 0
    conn = _bind(bind)
    _refuse_bad_key(table, column, conn)

    def run_batch(connection: Any, low: Any, high: Any) -> int:
        return connection.execute(statement(low, high)).rowcount

    # SQLite, inside the revision's transaction: the whole file is locked for writing until the commit
    # and the rollback journal grows the same either way, so batches buy nothing there and cost a
    # key-range probe each; one statement does it (SQLite's memory stays flat: it pages to disk).
    whole = batch_size is None and conn.dialect.name == "sqlite" and not online
    if batch_size is None:
        batch_size = DEFAULT_BATCH_SIZE
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    name = _step_name(table, step, online)
    with _progress(conn, table, where, name) as advance:
        if whole:
            count = run_batch(conn, None, None)
            advance(count)
            return max(count, 0)
        if not online:
            done = 0
            for low, high in _boundaries(conn, table, column, where, batch_size, None):
                count = run_batch(conn, low, high)
                done += max(count, 0)
                advance(count)
            return done
        return _online(conn, table, column, where, batch_size, name, run_batch, advance)


def _online(conn, table, column, where, batch_size, name, run_batch, advance) -> int:
    """Each batch commits with its checkpoint. A finished step is marked so; the marks of a revision go
    with the commit that records it, so a re-run of a half-done revision skips finished steps."""
    from alembic import op

    context = op.get_context()
    done = 0
    with context.autocommit_block():
        _ensure_progress_table(conn)
        after, done = _read_checkpoint(conn, name, column)
        if after == FINISHED:
            _finished(conn).add(name)
            return done
        for low, high in _boundaries(conn, table, column, where, batch_size, after):
            conn.exec_driver_sql("BEGIN")
            try:
                count = max(run_batch(conn, low, high), 0)
                done += count
                _write_checkpoint(conn, name, high, done)
                conn.exec_driver_sql("COMMIT")
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            advance(count)
        _write_checkpoint(conn, name, FINISHED, done)  # a re-run of the revision skips this step
    _finished(conn).add(name)  # removed when the revision is recorded (see forget_finished)
    return done


FINISHED = {"finished": True}


def _finished(conn: Any) -> set[str]:
    """The online steps finished on this connection whose revision is not recorded yet."""
    return conn.info.setdefault("multidb.finished_steps", set())


_PROGRESS = sa.Table(
    PROGRESS_TABLE,
    sa.MetaData(),
    sa.Column("step", sa.String(200), primary_key=True),
    sa.Column("last_key", sa.Text, nullable=False),
    sa.Column("rows_done", sa.BigInteger, nullable=False),
)


def _progress_table() -> sa.Table:
    return _PROGRESS


def forget_finished(conn: Any) -> None:
    """Delete the checkpoints of the online steps that finished in the revision being recorded.

    multidb calls this as the revision's version row is written, in the same transaction.
    """
    finished = _finished(conn)
    if finished:
        conn.execute(sa.delete(_PROGRESS).where(_PROGRESS.c.step.in_(sorted(finished))))
        finished.clear()


def _ensure_progress_table(conn: Any) -> None:
    _progress_table().create(conn, checkfirst=True)


def _read_checkpoint(conn: Any, name: str, column: sa.Column) -> tuple[Any, int]:
    table = _progress_table()
    row = conn.execute(sa.select(table.c.last_key, table.c.rows_done).where(table.c.step == name)).first()
    if row is None:
        return None, 0
    stored = json.loads(row.last_key)
    if stored == FINISHED:
        return FINISHED, int(row.rows_done)
    return _as_key(column, stored), int(row.rows_done)


def _as_key(column: sa.Column, stored: Any) -> Any:
    """A checkpointed key back in the column's Python type (UUIDs, dates and decimals are stored as text)."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return stored
    if isinstance(stored, kind):
        return stored
    if hasattr(kind, "fromisoformat"):
        return kind.fromisoformat(stored)
    return kind(stored)


def _write_checkpoint(conn: Any, name: str, last: Any, done: int) -> None:
    table = _progress_table()
    value = json.dumps(last if isinstance(last, (int, float, str, dict)) else str(last))
    updated = conn.execute(sa.update(table).where(table.c.step == name).values(last_key=value, rows_done=done)).rowcount
    if not updated:
        conn.execute(sa.insert(table).values(step=name, last_key=value, rows_done=done))


def _step_name(table: Any, step: str | None, online: bool) -> str:
    """The step's name: its checkpoint's, for an online step, and its progress bar's label.

    ``"<revision>:<table>"`` for the first online step on a table in a revision, ``...#2``, ``#3``
    for the next ones (in the order the revision runs them, which is the same on every run, so a
    resumed revision finds each step's own checkpoint). The revision is the one multidb runs now.
    """
    run = running.current()
    if not online:
        return step or f"{run.revision if run else 'data'}:{table.name}"
    if run is None:
        if step is None:
            raise ValueError(
                f"table {table.name}: online=True outside a multidb run needs step='...', "
                "the name of its checkpoint (unique among the online steps you run)"
            )
        return step
    name = step
    if name is None:
        count = run.online_steps[table.name] = run.online_steps.get(table.name, 0) + 1
        name = f"{run.revision}:{table.name}" + (f"#{count}" if count > 1 else "")
    if name in run.step_names:
        raise ValueError(
            f"revision {run.revision}: a second online step named {name!r} (table {table.name}) would "
            "share the first one's checkpoint; pass a distinct step='...' to each"
        )
    run.step_names.add(name)
    return name


@contextmanager
def _progress(conn: Any, table: Any, where: Any, name: str) -> Iterator[Any]:
    """``advance(rows)`` for the step's batches, told to the current reporter (rows counted only if shown)."""
    reporter = reporting.current()
    if not reporter.wants_progress():
        yield lambda _n: None
        return
    query = sa.select(sa.func.count()).select_from(table)
    total = conn.execute(query.where(where) if where is not None else query).scalar() or 0
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        done += max(rows, 0)
        reporter.progress(name, done, total)

    reporter.progress(name, 0, total)
    try:
        yield advance
    finally:
        reporter.finished(name)


def upsert(
    table: sa.Table, rows: Sequence[Mapping[str, Any]], key: str | Sequence[str] | None = None, bind: Any = None
) -> None:
    """Insert reference rows, or update them where ``key`` already exists; safe to run again.

    ``key`` defaults to the primary key. Uses ``ON CONFLICT`` on PostgreSQL and SQLite and
    ``ON DUPLICATE KEY UPDATE`` on MariaDB/MySQL (the key must be unique there).
    """
    if not rows:
        return
    conn = _bind(bind)
    keys = [key] if isinstance(key, str) else list(key or [c.name for c in table.primary_key.columns])
    others = [c for c in rows[0] if c not in keys]
    dialect = conn.dialect.name
    if dialect in ("postgresql", "sqlite"):
        module = __import__(f"sqlalchemy.dialects.{dialect}", fromlist=["insert"])
        stmt = module.insert(table).values(list(rows))
        if others:
            stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in others})
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
        conn.execute(stmt)
    elif dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert

        stmt = insert(table).values(list(rows))
        update = {c: stmt.inserted[c] for c in (others or keys[:1])}
        conn.execute(stmt.on_duplicate_key_update(**update))
    else:  # a portable fallback: update what exists, insert the rest
        for row in rows:
            match = sa.and_(*[table.c[k] == row[k] for k in keys])
            changed = conn.execute(sa.update(table).where(match).values(**row)).rowcount if others else 0
            if not changed and conn.execute(sa.select(sa.func.count()).select_from(table).where(match)).scalar() == 0:
                conn.execute(sa.insert(table).values(**row))


def require_columns(*tables: sa.Table, bind: Any = None) -> None:
    """Fail clearly if a frozen table copy names a table or column the database does not have here.

    Under ``--sql`` there is no database to look at, and it checks nothing.
    """
    if _offline():
        return
    conn = _bind(bind)
    inspector = sa.inspect(conn)
    for table in tables:
        if not inspector.has_table(table.name, schema=table.schema):
            raise RuntimeError(f"data step: table {table.name} does not exist at this revision")
        present = {c["name"] for c in inspector.get_columns(table.name, schema=table.schema)}
        missing = [c.name for c in table.c if c.name not in present]
        if missing:
            raise RuntimeError(f"data step: table {table.name} has no column(s) {', '.join(missing)} at this revision")

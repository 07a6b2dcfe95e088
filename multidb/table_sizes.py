"""How many rows a live database's tables hold, for ``multidb plan`` and the size-dependent lint rules.

PostgreSQL: ``pg_class.reltuples`` (an estimate, as fresh as the last ``ANALYZE`` or autovacuum) and
``pg_total_relation_size``; MariaDB/MySQL: ``information_schema.TABLES`` (``TABLE_ROWS`` is an estimate
for InnoDB); SQLite: ``count(*)`` and no size. Nothing is changed; each table is read once.
"""

from __future__ import annotations

from typing import Any

from .config import Database


class TableSizes:
    """Row estimates and sizes of ``db``'s tables, over one reading connection; ``close()`` when done.

    A SQLite file that does not exist yet holds no table: every table then reads as absent.
    """

    def __init__(self, db: Database):
        from . import engines

        self.db = db
        self.context: Any = None
        self.conn: Any = None
        if engines.exists(db):
            self.context = engines.reading(db)
            self.conn = self.context.__enter__()
        self.known: dict[str, tuple[int | None, int | None]] = {}
        self.counted: dict[tuple[str, str | None], int | None] = {}

    def of(self, table: str) -> tuple[int | None, int | None]:
        """(rows, bytes) of ``table``, each None when unknown (no such table, or it cannot be read)."""
        if table not in self.known:
            self.known[table] = self._read(table)
        return self.known[table]

    def rows(self, table: str, schema: str | None, cap: int) -> int | None:
        """Enough of ``table``'s row count to compare it with ``cap``: the estimate (PostgreSQL, MariaDB),
        or a count that stops at ``cap`` (SQLite, and a PostgreSQL table never analyzed); 0 for a table
        that does not exist (yet: a pending revision creates it); None when it cannot be read."""
        key = (table, schema)
        if key not in self.counted:
            self.counted[key] = self._rows(table, schema, cap)
        return self.counted[key]

    def _rows(self, table: str, schema: str | None, cap: int) -> int | None:
        import sqlalchemy as sa
        from sqlalchemy.exc import DBAPIError

        if self.conn is None:
            return 0
        dialect = self.conn.dialect.name
        try:
            if not sa.inspect(self.conn).has_table(table, schema=schema):
                return 0
            rows = None
            if dialect == "postgresql" or dialect in ("mysql", "mariadb"):
                rows = self.of(f"{schema}.{table}" if schema else table)[0]
            if rows is None:  # SQLite, or PostgreSQL before any ANALYZE (reltuples -1)
                sample = sa.select(sa.literal(1)).select_from(sa.table(table, schema=schema)).limit(cap).subquery()
                rows = int(self.conn.execute(sa.select(sa.func.count()).select_from(sample)).scalar() or 0)
        except DBAPIError:
            rows = None
        self.conn.rollback()
        return rows

    def _read(self, table: str) -> tuple[int | None, int | None]:
        import sqlalchemy as sa
        from sqlalchemy.exc import DBAPIError

        if self.conn is None:
            return None, None
        dialect = self.conn.dialect.name
        try:
            if dialect == "postgresql":
                row = self.conn.execute(
                    sa.text(
                        "SELECT c.reltuples::bigint, pg_total_relation_size(c.oid) FROM pg_class c "
                        "WHERE c.oid = to_regclass(:t)"
                    ),
                    {"t": table},
                ).first()
            elif dialect in ("mysql", "mariadb"):
                schema, _, name = table.rpartition(".")
                row = self.conn.execute(
                    sa.text(
                        "SELECT TABLE_ROWS, DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES "
                        "WHERE TABLE_SCHEMA = COALESCE(:s, DATABASE()) AND TABLE_NAME = :t"
                    ),
                    {"s": schema or None, "t": name},
                ).first()
            else:
                if not sa.inspect(self.conn).has_table(table):
                    row = None
                else:
                    count = self.conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar()
                    row = (count, None)
        except DBAPIError:
            row = None
        self.conn.rollback()
        if row is None:
            return None, None
        rows = None if row[0] is None or row[0] < 0 else int(row[0])  # PostgreSQL: -1 before any ANALYZE
        return rows, (int(row[1]) if row[1] is not None else None)

    def close(self) -> None:
        if self.context is not None:
            self.context.__exit__(None, None, None)
            self.context = self.conn = None

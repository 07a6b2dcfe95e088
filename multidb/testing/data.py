"""Rows to insert before a revision and checks to run after it, so data migrations meet real data.

::

    data = MigrationData()
    data.before("catalog", "c1a0f0a1b004", {"files": [{"id": 1, "holding_id": 1, "path": "a", "checksum": "x"}]})
    data.after("catalog", "c1a0f0a1b004", {"files": [{"id": 1, "checksum_algorithm": "sha256"}]})

    @data.after("catalog", "c1a0f0a1b004")
    def reference_locations(conn):
        assert conn.execute(sa.text("SELECT count(*) FROM locations")).scalar() == 2

Rows are ``{table: [row, ...]}``; each row a mapping of column to value. Rows given to ``after`` must
each be found in the table (matching the columns given); other rows may exist. A callable gets a
SQLAlchemy connection inside a transaction (committed after ``before``, rolled back after ``after``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

Rows = Mapping[str, Sequence[Mapping[str, Any]]]
Action = Callable[[Any], None]


@dataclass(frozen=True)
class Step:
    """One registered action: ``when`` is ``"before"`` or ``"after"`` the revision."""

    database: str
    revision: str
    when: str
    action: Action
    name: str
    seeds: bool = False  # rows given to ``before`` (not a function): they only insert


class MigrationData:
    """A registry of seed rows and checks, per database and revision. Register in any order."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    @overload
    def before(self, database: str, revision: str, rows: Rows) -> None: ...
    @overload
    def before(self, database: str, revision: str, rows: None = None) -> Callable[[Action], Action]: ...

    def before(self, database: str, revision: str, rows: Rows | None = None) -> Any:
        """Insert ``rows`` (or call the decorated function) while ``database`` is just below ``revision``."""
        return self._register(database, revision, "before", rows, insert_rows)

    @overload
    def after(self, database: str, revision: str, rows: Rows) -> None: ...
    @overload
    def after(self, database: str, revision: str, rows: None = None) -> Callable[[Action], Action]: ...

    def after(self, database: str, revision: str, rows: Rows | None = None) -> Any:
        """Expect ``rows`` (or call the decorated check) once ``revision`` has been applied."""
        return self._register(database, revision, "after", rows, expect_rows)

    def for_database(self, database: str) -> list[Step]:
        """The steps registered for ``database``, in registration order."""
        return [s for s in self.steps if s.database == database]

    def _register(
        self, database: str, revision: str, when: str, rows: Rows | None, make: Callable[[Rows], Action]
    ) -> Any:
        if rows is not None:
            tables = ", ".join(rows)
            self.steps.append(Step(database, revision, when, make(rows), f"rows of {tables}", when == "before"))
            return None

        def decorate(fn: Action) -> Action:
            self.steps.append(Step(database, revision, when, fn, getattr(fn, "__name__", repr(fn))))
            return fn

        return decorate


class RowsMissing(AssertionError):
    """Expected rows are not in a table; the message lists them."""


def insert_rows(rows: Rows) -> Action:
    """An action that inserts ``rows`` into their tables as the tables are at that revision."""

    def insert(conn: Any) -> None:
        for name, table_rows in rows.items():
            table = _reflect(conn, name)
            for row in table_rows:
                conn.execute(table.insert().values(**dict(row)))

    return insert


def expect_rows(rows: Rows) -> Action:
    """An action that checks every row of ``rows`` is in its table (on the columns it gives)."""

    def expect(conn: Any) -> None:
        problems = []
        for name, expected in rows.items():
            problems += _missing(conn, name, expected)
        if problems:
            raise RowsMissing("\n".join(problems))

    return expect


def _missing(conn: Any, name: str, expected: Sequence[Mapping[str, Any]]) -> list[str]:
    import sqlalchemy as sa

    table = _reflect(conn, name)
    missing = []
    for row in expected:
        unknown = [c for c in row if c not in table.c]
        if unknown:
            return [f"table {name} has no column {unknown[0]}"]
        where = [table.c[c].is_(None) if v is None else table.c[c] == v for c, v in row.items()]
        found = conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()
        if not found:
            missing.append(dict(row))
    if not missing:
        return []
    total = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
    lines = [f"table {name} lacks {len(missing)} of {len(expected)} expected row(s) (it has {total} row(s)):"]
    return lines + [f"    {row!r}" for row in missing]


def _reflect(conn: Any, name: str) -> Any:
    import sqlalchemy as sa

    if not sa.inspect(conn).has_table(name):
        raise RowsMissing(f"table {name} does not exist")
    return sa.Table(name, sa.MetaData(), autoload_with=conn)

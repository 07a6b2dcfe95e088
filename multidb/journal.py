"""What a revision ran so far, for dialects whose DDL cannot be rolled back (MariaDB/MySQL).

There, a revision that fails halfway leaves the statements before the failure in place. multidb
cannot undo them, but it can say honestly that the database may be partly migrated, and which
statements of the failed revision had already run.
"""

from __future__ import annotations

from typing import Any

NON_TRANSACTIONAL_DDL = frozenset({"mysql", "mariadb"})


class StatementJournal:
    """Records the changing statements of the revision in progress on one connection."""

    def __init__(self, connection: Any, version_table: str):
        self.connection = connection
        self.version_table = version_table.lower()
        self.statements: list[str] = []

    def __enter__(self) -> StatementJournal:
        from sqlalchemy import event

        event.listen(self.connection, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_exc: object) -> None:
        from sqlalchemy import event

        event.remove(self.connection, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = " ".join(statement.split())
        lowered = text.lower()
        if lowered.startswith(("select", "show", "set ")) or self.version_table in lowered:
            return
        self.statements.append(text)

    def applied(self, **_: Any) -> None:
        """An ``on_version_apply`` hook: a finished revision starts a fresh record."""
        self.statements.clear()

    def note(self) -> str:
        """The sentence added to a failure on such a dialect."""
        if not self.statements:
            return "no statement of it had run, so the database is at the previous revision"
        shown = [s if len(s) <= 80 else s[:77] + "..." for s in self.statements[-5:]]
        more = f"{len(self.statements) - 5} earlier, then " if len(self.statements) > 5 else ""
        return (
            "MariaDB/MySQL cannot roll back DDL, so the database may be partly migrated; statements of this "
            f"revision sent before the failure: {more}" + " | ".join(shown)
        )

"""What a revision ran so far, for dialects whose DDL cannot be rolled back (MariaDB/MySQL).

There, a revision that fails halfway leaves the statements before the failure in place. multidb
cannot undo them, but it can say honestly that the database may be partly migrated, and which
statements of the failed revision had already run: by position and kind, with the object's name
where it is an identifier, never with the statement's literals (``CREATE USER ... IDENTIFIED BY``).
"""

from __future__ import annotations

import re
from typing import Any

NON_TRANSACTIONAL_DDL = frozenset({"mysql", "mariadb"})
SHOWN = 5  # the last statements named in a failure

# MySQL's tokens, in the order they are tried: comments, `identifiers`, 'strings' and "strings"
# (double quotes delimit strings in MySQL's default mode), words, anything else
_TOKEN = re.compile(
    r"""(?P<skip>\s+|/\*.*?\*/|(?:--\s|\#)[^\n]*)
      | (?P<ident>`(?:[^`]|``)*`)
      | (?P<literal>'(?:[^'\\]|\\.|'')*'?|"(?:[^"\\]|\\.|"")*"?|[0-9][0-9.eE+-]*)
      | (?P<word>[A-Za-z_$][A-Za-z0-9_$]*)
      | (?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)
# verbs whose object's name may be shown, and the words that may stand between the verb and the name
_NAMED_VERBS = frozenset(
    {"CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE", "INSERT", "REPLACE", "UPDATE", "DELETE", "CALL"}
)
_OBJECTS = frozenset(
    {"TABLE", "INDEX", "VIEW", "USER", "ROLE", "DATABASE", "SCHEMA", "TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"}
    | {"SEQUENCE", "TABLESPACE", "SERVER"}
)
_MODIFIERS = frozenset(
    {"OR", "REPLACE", "UNIQUE", "FULLTEXT", "SPATIAL", "TEMPORARY", "IF", "NOT", "EXISTS", "ONLINE", "OFFLINE"}
    | {"IGNORE", "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "QUICK", "INTO", "FROM"}
)
_NEEDS_OBJECT = frozenset({"CREATE", "ALTER", "DROP", "RENAME"})  # 'CREATE DEFINER=...' names no object
HIDDEN = "(literals hidden)"


def changes(statement: str, version_table: str) -> bool:
    """Whether ``statement`` is one a revision's own code sent that may change the database (reads,
    session settings and the version table's bookkeeping are not)."""
    lowered = statement.lstrip().lower()
    reads = ("select", "show", "set ", "describe", "explain")
    return not lowered.startswith(reads) and version_table.lower() not in lowered


# statements after which MariaDB/MySQL has committed (DDL commits implicitly, before and after itself)
# (an explicit COMMIT is left out: multidb.data's online steps commit their batches, and resume from their
# checkpoints instead of repeating them)
_COMMITTING = frozenset({"CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE", "GRANT", "REVOKE"})


def commits(statement: str) -> bool:
    """Whether ``statement`` commits on MariaDB/MySQL: what ran before it and itself stay, whatever follows."""
    tokens = _tokens(statement)
    return bool(tokens) and tokens[0][0] == "word" and tokens[0][1].upper() in _COMMITTING


def _tokens(statement: str) -> list[tuple[str, str]]:
    found = []
    for match in _TOKEN.finditer(statement):
        kind = match.lastgroup or "other"
        if kind != "skip":
            found.append((kind, match.group()))
    return found


def describe(statement: str) -> str:
    """A statement's kind and, for DDL/DML on a named object, the object's name: never its literals."""
    tokens = _tokens(statement)
    if not tokens or tokens[0][0] != "word":
        return f"statement {HIDDEN}"
    verb = tokens[0][1].upper()
    if verb not in _NAMED_VERBS:
        return verb if len(tokens) == 1 else f"{verb} {HIDDEN}"
    words, i = [verb], 1
    while i < len(tokens) and tokens[i][0] == "word" and tokens[i][1].upper() in _MODIFIERS | _OBJECTS:
        words.append(tokens[i][1].upper())
        i += 1
    name = _name(tokens, i)
    if name is None or (verb in _NEEDS_OBJECT and not _OBJECTS & set(words)):
        name = HIDDEN
    return " ".join([*words, name])


def _name(tokens: list[tuple[str, str]], i: int) -> str | None:
    """A (possibly dotted) identifier starting at ``tokens[i]``."""
    parts: list[str] = []
    while i < len(tokens) and tokens[i][0] in ("word", "ident"):
        parts.append(tokens[i][1])
        if i + 1 < len(tokens) and tokens[i + 1][1] == ".":
            i += 2
            continue
        break
    return ".".join(parts) or None


class StatementJournal:
    """Records the changing statements of the revision in progress on one connection (described, not kept)."""

    def __init__(self, connection: Any, version_table: str):
        self.connection = connection
        self.version_table = version_table.lower()
        self.statements: list[str] = []  # sent, described
        self.completed = 0  # how many of them returned (the one after them, if any, is the one that failed)

    def __enter__(self) -> StatementJournal:
        from sqlalchemy import event

        event.listen(self.connection, "before_cursor_execute", self.record)
        event.listen(self.connection, "after_cursor_execute", self._returned)
        return self

    def __exit__(self, *_exc: object) -> None:
        from sqlalchemy import event

        event.remove(self.connection, "before_cursor_execute", self.record)
        event.remove(self.connection, "after_cursor_execute", self._returned)

    def record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if changes(statement, self.version_table):
            self.statements.append(describe(statement))

    def _returned(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if changes(statement, self.version_table):
            self.completed = len(self.statements)

    def applied(self, **_: Any) -> None:
        """An ``on_version_apply`` hook: a finished revision starts a fresh record."""
        self.statements.clear()
        self.completed = 0

    def note(self) -> str:
        """The sentence added to a failure on such a dialect: the statements that ran, then the one that failed."""
        ran = self.statements[: self.completed]
        failed = (
            f"statement {len(ran) + 1} failed: {self.statements[len(ran)]}" if len(self.statements) > len(ran) else ""
        )
        if not ran:
            before = f" ({failed})" if failed else ""
            return f"no statement of it had run{before}, so the database is at the previous revision"
        first = max(len(ran) - SHOWN, 0)
        shown = [f"statement {n}: {kind}" for n, kind in enumerate(ran[first:], start=first + 1)]
        return (
            "MariaDB/MySQL cannot roll back DDL, so the database may be partly migrated; statements of this "
            f"revision that ran before the failure ({len(ran)}): "
            + " | ".join(shown)
            + (f"; {failed}" if failed else "")
        )

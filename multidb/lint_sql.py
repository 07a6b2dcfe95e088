"""The linter's reader of SQL text (``op.execute("...")``, ``op.execute(sa.text("..."))``).

The text is cut into tokens (comments dropped; string literals, dollar-quoted bodies and quoted names
kept whole, so nothing inside them is read as SQL) and into statements at each ``;``. A statement of one
of the shapes below becomes the records Alembic's dialect implementation would have been called with for
the same change made through ``op.*`` (built with Alembic's ``SchemaObjects``, as ``op.*`` builds them),
so the lint rules read both the same way:

- ``CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] [name] ON [ONLY] table ...``: ``create_index``
- ``CREATE [TEMP|TEMPORARY|UNLOGGED] TABLE [IF NOT EXISTS] table [(columns ...)]``: ``create_table`` (with
  the names of its columns)
- ``DROP TABLE [IF EXISTS] table [, table ...]``: ``drop_table`` each
- ``RENAME TABLE a TO b [, c TO d]`` (MariaDB/MySQL): ``rename_table`` each
- ``ALTER TABLE [IF EXISTS] [ONLY] table`` with one or more actions (comma-separated):
  ``ADD [COLUMN] [IF NOT EXISTS] c type ...`` (``add_column``: ``NOT NULL``/``PRIMARY KEY``, ``DEFAULT``,
  ``REFERENCES``, serial/identity/generated/auto-increment columns) and MariaDB/MySQL's ``ADD [COLUMN] (c1
  type ..., c2 type ...)`` (an ``add_column`` each), ``ADD [CONSTRAINT name] FOREIGN KEY ... REFERENCES ...
  [NOT VALID]`` (``add_constraint``), ``DROP [COLUMN] [IF EXISTS] c`` (``drop_column``), ``RENAME [COLUMN]
  a TO b`` and ``CHANGE [COLUMN] a b type ...`` (``alter_column(name=)``, the type as ``existing_type``),
  ``MODIFY [COLUMN] c type ...`` and ``CHANGE [COLUMN] c c type ...`` (``alter_column(type_=, nullable=)``),
  ``RENAME [TO|AS] b`` (``rename_table``), ``ALTER [COLUMN] c [SET DATA] TYPE t`` (``alter_column(type_=)``)
  and ``ALTER [COLUMN] c SET NOT NULL`` (``alter_column(nullable=False)``)
- ``[WITH [RECURSIVE] name AS (...) [, ...]] UPDATE [ONLY] table ...`` and ``[WITH ...] DELETE FROM [ONLY]
  table ...``: ``sa.update`` / ``sa.delete`` of the table, with a ``WHERE`` when the statement has one
  outside parentheses

Anything else (another statement, another action, a ``WITH ...`` query that is no UPDATE or DELETE) is left
as the text of its statement: no rule guesses from it. On PostgreSQL a name written without quotes is
folded to lower case, as the server does.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.operations.schemaobj import SchemaObjects

from .lint import Op


@dataclass(frozen=True)
class Token:
    kind: str  # "word" (a keyword or a name without quotes), "name" (quoted), "string", "number", "symbol"
    text: str  # a quoted name without its quotes; anything else as written
    start: int
    end: int

    def is_(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


_WORD = re.compile(r"[^\W\d][\w$]*")
_NUMBER = re.compile(r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?")
_DOLLAR = re.compile(r"\$(?:[^\W\d]\w*)?\$")


def tokens(sql: str, dialect: str) -> list[Token]:
    """The tokens of ``sql`` for ``dialect`` (comments left out)."""
    mysql = dialect in ("mysql", "mariadb")
    postgresql = dialect == "postgresql"
    found: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
        elif sql.startswith("--", i) or (c == "#" and mysql):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            i = _block_comment_end(sql, i, nested=postgresql)
        elif c == "'":
            # PostgreSQL's E'...' (and MySQL's every string) read a backslash as an escape
            prefix = found[-1] if found and found[-1].end == i and found[-1].is_("E") else None
            end = _quoted_end(sql, i, "'", backslash=mysql or (postgresql and prefix is not None))
            start = i
            if prefix is not None:
                found.pop()
                start = prefix.start
            found.append(Token("string", sql[start:end], start, end))
            i = end
        elif c in '"`' or (c == "[" and dialect == "sqlite"):
            close = "]" if c == "[" else c
            end = _quoted_end(sql, i, close, backslash=mysql and c == '"')
            body = sql[i + 1 : end - 1] if sql[end - 1 : end] == close and end - i >= 2 else sql[i + 1 : end]
            found.append(Token("name", body.replace(close * 2, close), i, end))
            i = end
        elif c == "$" and postgresql and (dollar := _DOLLAR.match(sql, i)) is not None:
            tag = dollar.group(0)
            close = sql.find(tag, i + len(tag))
            end = n if close < 0 else close + len(tag)
            found.append(Token("string", sql[i:end], i, end))
            i = end
        elif (match := _WORD.match(sql, i)) is not None:
            found.append(Token("word", match.group(0), i, match.end()))
            i = match.end()
        elif (match := _NUMBER.match(sql, i)) is not None:
            found.append(Token("number", match.group(0), i, match.end()))
            i = match.end()
        else:
            width = 2 if sql.startswith("::", i) else 1
            found.append(Token("symbol", sql[i : i + width], i, i + width))
            i += width
    return found


def _block_comment_end(sql: str, i: int, nested: bool) -> int:
    depth, i = 1, i + 2
    while i < len(sql) and depth:
        if sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
        elif nested and sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        else:
            i += 1
    return i


def _quoted_end(sql: str, i: int, close: str, backslash: bool) -> int:
    """The index after the quote that closes the one at ``i`` (a doubled quote is part of the text)."""
    stop = re.compile("[" + re.escape(close) + ("\\\\" if backslash else "") + "]")
    j = i + 1
    while (found := stop.search(sql, j)) is not None:
        at = found.start()
        if sql[at] == "\\" or sql.startswith(close * 2, at):  # an escaped character, or a doubled quote
            j = at + 2
        else:
            return at + 1
    return len(sql)


def statements(sql: str, dialect: str) -> list[list[Token]]:
    """The statements of ``sql``, each as its tokens (empty ones left out)."""
    found: list[list[Token]] = [[]]
    for token in tokens(sql, dialect):
        if token.kind == "symbol" and token.text == ";":
            found.append([])
        else:
            found[-1].append(token)
    return [s for s in found if s]


def records(sql: str, dialect: str, line: int) -> list[Op]:
    """The records of the statements of ``sql`` (at ``line`` of the revision): for each statement, those of
    the change it makes, or (not read) one ``execute`` of its own text."""
    found = []
    for statement in statements(sql, dialect):
        reader = _Reader(sql, statement, dialect)
        try:
            read = reader.statement()
        except (_NotRead, sa.exc.ArgumentError):  # (ArgumentError: say, a foreign key of 2 columns to 1)
            read = []
        if read:
            found += [Op(name, args, kwargs, line) for name, args, kwargs in read]
        else:
            found.append(Op("execute", (sql[statement[0].start : statement[-1].end],), {}, line))
    return found


class _NotRead(Exception):
    """The statement is not one of the shapes read."""


class _Written(sa.types.UserDefinedType):
    """A column type as the SQL text writes it."""

    cache_ok = True

    def __init__(self, text: str) -> None:
        self.text = text

    def get_col_spec(self, **kw: Any) -> str:
        return self.text


# what can follow ADD or DROP in ALTER TABLE and is not a column
_NOT_A_COLUMN = (
    "CONSTRAINT",
    "PRIMARY",
    "UNIQUE",
    "CHECK",
    "FOREIGN",
    "EXCLUDE",
    "INDEX",
    "KEY",
    "FULLTEXT",
    "SPATIAL",
    "PARTITION",
    "PERIOD",
    "SYSTEM",
)
# the words that end a column's type in its definition
_COLUMN_CONSTRAINT = (
    "NOT",
    "NULL",
    "DEFAULT",
    "CONSTRAINT",
    "PRIMARY",
    "UNIQUE",
    "CHECK",
    "REFERENCES",
    "GENERATED",
    "AS",
    "COLLATE",
    "AUTO_INCREMENT",
    "COMMENT",
    "FIRST",
    "AFTER",
    "ON",
    "INVISIBLE",
    "COMPRESSION",
    "STORAGE",
)
_SERIAL = ("SERIAL", "BIGSERIAL", "SMALLSERIAL", "SERIAL2", "SERIAL4", "SERIAL8")

Record = tuple[str, tuple, dict]


class _Reader:
    """Reads one statement's tokens from the front."""

    def __init__(self, sql: str, statement: list[Token], dialect: str) -> None:
        self.sql = sql
        self.tokens = statement
        self.i = 0
        self.dialect = dialect
        self.schemaobj = SchemaObjects()

    # -- tokens

    def peek(self, ahead: int = 0) -> Token | None:
        at = self.i + ahead
        return self.tokens[at] if at < len(self.tokens) else None

    def words(self, *words: str) -> bool:
        """Takes the words ``words`` (in order) if they come next."""
        for k, word in enumerate(words):
            token = self.peek(k)
            if token is None or not token.is_(word):
                return False
        self.i += len(words)
        return True

    def next_is(self, *words: str) -> bool:
        """Whether the next token is one of the words ``words`` (taking nothing)."""
        token = self.peek()
        return token is not None and token.is_(*words)

    def at_paren(self) -> bool:
        token = self.peek()
        return token is not None and token.kind == "symbol" and token.text == "("

    def one_of(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token.is_(*words):
            self.i += 1
            return token.text.upper()
        return None

    def symbol(self, text: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "symbol" and token.text == text:
            self.i += 1
            return True
        return False

    def name(self) -> str:
        token = self.peek()
        if token is None or token.kind not in ("word", "name"):
            raise _NotRead
        self.i += 1
        if token.kind == "word" and self.dialect == "postgresql":
            return token.text.lower()
        return token.text

    def qualified(self) -> tuple[str | None, str]:
        """(schema, name) of a name that may be qualified (a database or catalog before it is dropped)."""
        parts = [self.name()]
        while self.symbol("."):
            parts.append(self.name())
        return (parts[-2] if len(parts) > 1 else None), parts[-1]

    def group(self) -> list[list[Token]]:
        """The comma-separated items of the parenthesised list that comes next."""
        if not self.symbol("("):
            raise _NotRead
        items: list[list[Token]] = [[]]
        depth = 1
        while (token := self.peek()) is not None:
            self.i += 1
            if token.kind == "symbol" and token.text == "(":
                depth += 1
            elif token.kind == "symbol" and token.text == ")":
                depth -= 1
                if depth == 0:
                    return [item for item in items if item]
            elif token.kind == "symbol" and token.text == "," and depth == 1:
                items.append([])
                continue
            items[-1].append(token)
        raise _NotRead

    def rest(self) -> list[Token]:
        found = self.tokens[self.i :]
        self.i = len(self.tokens)
        return found

    def text(self, part: list[Token]) -> str:
        return self.sql[part[0].start : part[-1].end] if part else ""

    def names(self) -> list[str]:
        """The names of a parenthesised list of names."""
        found = []
        for item in self.group():
            sub = _Reader(self.sql, item, self.dialect)
            found.append(sub.name())
        return found

    # -- statements

    def statement(self) -> list[Record]:
        if self.words("CREATE"):
            self.words("OR", "REPLACE")
            if self.one_of("UNIQUE") or self.next_is("INDEX"):
                return self.create_index()
            self.one_of("GLOBAL", "LOCAL")
            self.one_of("TEMP", "TEMPORARY", "UNLOGGED")
            if self.words("TABLE"):
                self.words("IF", "NOT", "EXISTS")
                schema, table = self.qualified()
                columns = self.table_columns() if self.at_paren() else []
                return [("create_table", (self.schemaobj.table(table, *columns, schema=schema),), {})]
            return []
        if self.words("DROP", "TABLE"):
            self.words("IF", "EXISTS")
            found = []
            while True:
                schema, table = self.qualified()
                found.append(("drop_table", (self.schemaobj.table(table, schema=schema),), {}))
                if not self.symbol(","):
                    return found
        if self.words("RENAME", "TABLE"):
            found = []
            while True:
                schema, old = self.qualified()
                if not self.words("TO"):
                    raise _NotRead
                new = self.qualified()[1]
                found.append(("rename_table", (old, new), {"schema": schema}))
                if not self.symbol(","):
                    return found
        if self.words("ALTER"):
            self.one_of("ONLINE")
            self.one_of("IGNORE")
            if self.words("TABLE"):
                return self.alter_table()
            return []
        if self.words("WITH"):
            self.ctes()
            return self.statement() if self.next_is("UPDATE", "DELETE") else []
        if self.words("UPDATE"):
            self.one_of("LOW_PRIORITY")
            self.one_of("IGNORE")
            self.one_of("ONLY")
            return self.data_change(sa.update)
        if self.words("DELETE"):
            while self.one_of("LOW_PRIORITY", "QUICK", "IGNORE"):
                pass
            if self.words("FROM"):
                self.one_of("ONLY")
                return self.data_change(sa.delete)
        return []

    def ctes(self) -> None:
        """Takes the common table expressions after WITH: ``[RECURSIVE] name [(columns)] AS [[NOT]
        MATERIALIZED] (query) [, ...]`` (what they read does not change which table the statement changes)."""
        self.one_of("RECURSIVE")
        while True:
            self.name()
            if self.at_paren():
                self.group()
            if not self.words("AS"):
                raise _NotRead
            self.one_of("NOT")
            self.one_of("MATERIALIZED")
            self.group()
            if not self.symbol(","):
                return

    def table_columns(self) -> list[sa.Column]:
        """The columns of CREATE TABLE's list (none when it copies another table's with LIKE)."""
        found = []
        for item in self.group():
            if item[0].is_("LIKE"):
                return []
            if not item[0].is_(*_NOT_A_COLUMN):
                found.append(sa.Column(_Reader(self.sql, item, self.dialect).name(), sa.types.NULLTYPE))
        return found

    def create_index(self) -> list[Record]:
        if not self.words("INDEX"):
            raise _NotRead
        concurrently = self.one_of("CONCURRENTLY") is not None
        self.words("IF", "NOT", "EXISTS")
        name = None if self.next_is("ON") else self.qualified()[1]
        if not self.words("ON"):
            raise _NotRead
        self.one_of("ONLY")
        schema, table = self.qualified()
        if self.words("USING"):
            self.name()
        columns: list[Any] = []
        for item in self.group():
            simple = item[0].kind in ("word", "name") and (len(item) == 1 or item[1].kind == "word")
            columns.append(_Reader(self.sql, item, self.dialect).name() if simple else sa.text(self.text(item)))
        kw = {"postgresql_concurrently": True} if concurrently else {}
        return [("create_index", (self.schemaobj.index(name, table, columns, schema=schema, **kw),), {})]

    def alter_table(self) -> list[Record]:
        self.words("IF", "EXISTS")
        self.one_of("ONLY")
        schema, table = self.qualified()
        self.symbol("*")
        actions: list[list[Token]] = [[]]
        depth = 0
        for token in self.rest():
            if token.kind == "symbol" and token.text in "()":
                depth += 1 if token.text == "(" else -1
            elif token.kind == "symbol" and token.text == "," and depth == 0:
                actions.append([])
                continue
            actions[-1].append(token)
        found: list[Record] = []
        for action in actions:
            reader = _Reader(self.sql, action, self.dialect)
            with contextlib.suppress(_NotRead):  # an action not read; the statement's others still are
                found += reader.action(schema, table)
        return found

    def action(self, schema: str | None, table: str) -> list[Record]:
        at = {"schema": schema}
        if self.words("ADD"):
            if not self.one_of("COLUMN") and self.next_is(*_NOT_A_COLUMN):
                return self.add_constraint(schema, table)
            self.words("IF", "NOT", "EXISTS")
            if self.at_paren():  # MariaDB/MySQL's ADD (c1 ..., c2 ...): an add_column each
                return [_Reader(self.sql, item, self.dialect).add_column(schema, table) for item in self.group()]
            return [self.add_column(schema, table)]
        if self.words("DROP"):
            if not self.one_of("COLUMN") and self.next_is(*_NOT_A_COLUMN):
                return []
            self.words("IF", "EXISTS")
            name = self.name()
            return [("drop_column", (table, self.schemaobj.column(name, sa.types.NULLTYPE)), at)]
        if self.words("RENAME"):
            if self.one_of("TO", "AS"):
                return [("rename_table", (table, self.qualified()[1]), at)]
            if self.words("COLUMN"):
                old = self.name()
            elif self.next_is("CONSTRAINT", "INDEX", "KEY"):
                return []
            else:
                old = self.name()
                if self.peek() is None:  # MariaDB's RENAME new_name
                    return [("rename_table", (table, old), at)]
            if not self.words("TO"):
                raise _NotRead
            return [("alter_column", (table, old), {"name": self.name(), **at})]
        if self.words("MODIFY"):
            self.one_of("COLUMN")
            self.words("IF", "EXISTS")
            return [self.restated(table, self.name(), at)]
        if self.words("CHANGE"):
            self.one_of("COLUMN")
            self.words("IF", "EXISTS")
            old, new = self.name(), self.name()
            if new == old:  # the column restated under its own name: MODIFY
                return [self.restated(table, old, at)]
            # a rename restates the type (Alembic writes one so, from existing_type): the column's type
            existing = {}
            with contextlib.suppress(_NotRead):
                type_, nullable = self.definition()
                existing = {"existing_type": type_, "existing_nullable": nullable}
            return [("alter_column", (table, old), {"name": new, **existing, **at})]
        if self.words("ALTER"):
            if not self.one_of("COLUMN") and self.next_is(*_NOT_A_COLUMN):
                return []
            column = self.name()
            if self.words("SET", "NOT", "NULL"):
                return [("alter_column", (table, column), {"nullable": False, **at})]
            self.words("SET", "DATA")
            if not self.words("TYPE"):
                return []
            written = []
            while (token := self.peek()) is not None and not token.is_("USING", "COLLATE"):
                written.append(token)
                self.i += 1
            if not written:
                raise _NotRead
            return [("alter_column", (table, column), {"type_": _Written(self.text(written)), **at})]
        return []

    def restated(self, table: str, column: str, at: dict) -> Record:
        """MariaDB/MySQL's MODIFY: the whole column again, read as ``op.alter_column(type_=, nullable=)``
        (the old type is not in the SQL: a restatement cannot be told from a type change)."""
        type_, nullable = self.definition()
        return ("alter_column", (table, column), {"type_": type_, "nullable": nullable, **at})

    def definition(self) -> tuple[_Written, bool]:
        """A column definition's type (as written) and whether it is nullable (no NOT NULL nor PRIMARY KEY)."""
        rest = self.rest()
        written = _type_of(rest)
        return _Written(self.text(written)), not _not_null(rest[len(written) :])

    def add_column(self, schema: str | None, table: str) -> Record:
        name = self.name()
        rest = self.rest()
        written = _type_of(rest)
        constraints = rest[len(written) :]
        not_null, default = _not_null(constraints), False
        default_text: str | None = None
        references: str | None = None
        depth = 0
        for k, token in enumerate(constraints):
            if token.kind == "symbol" and token.text in "()":
                depth += 1 if token.text == "(" else -1
            if depth or token.kind != "word":
                continue
            if token.is_("DEFAULT"):
                default_text = self.text(_default_of(constraints[k + 1 :]))
            elif token.is_("GENERATED", "AS", "AUTO_INCREMENT"):  # identity, generated, auto-numbered
                default = True
            elif token.is_("REFERENCES"):
                sub = _Reader(self.sql, constraints[k + 1 :], self.dialect)
                ref_schema, ref_table = sub.qualified()
                target = f"{ref_schema}.{ref_table}" if ref_schema else ref_table
                ref_columns = sub.names() if sub.at_paren() else []
                references = f"{target}.{ref_columns[0]}" if ref_columns else target
        if written[0].is_(*_SERIAL) and len(written) == 1:
            default = True  # nextval() of its own sequence
        server_default: Any = sa.text(default_text) if default_text else (sa.text("(computed)") if default else None)
        args = [sa.ForeignKey(references)] if references else []
        column = sa.Column(
            name, _Written(self.text(written)), *args, nullable=not not_null, server_default=server_default
        )
        return ("add_column", (table, column), {"schema": schema, "inline_references": references is not None})

    def add_constraint(self, schema: str | None, table: str) -> list[Record]:
        name = None
        if self.words("CONSTRAINT") and not self.next_is(*_NOT_A_COLUMN):
            name = self.name()
        if not self.words("FOREIGN", "KEY"):
            return []
        if not self.at_paren():
            self.name()  # MariaDB's index name
        local = self.names()
        if not self.words("REFERENCES"):
            raise _NotRead
        ref_schema, referent = self.qualified()
        # without a column list the referenced table's primary key is meant; the rule reads the table only
        remote = self.names() if self.at_paren() else list(local)
        rest = self.rest()
        not_valid = any(t.is_("NOT") and u.is_("VALID") for t, u in itertools.pairwise(rest))
        kw = {"postgresql_not_valid": True} if not_valid else {}
        constraint = self.schemaobj.foreign_key_constraint(
            name, table, referent, local, remote, source_schema=schema, referent_schema=ref_schema, **kw
        )
        return [("add_constraint", (constraint,), {})]

    def data_change(self, make: Any) -> list[Record]:
        schema, table = self.qualified()
        statement = make(sa.table(table, schema=schema))
        depth = 0
        rest = self.rest()
        for k, token in enumerate(rest):
            if token.kind == "symbol" and token.text in "()":
                depth += 1 if token.text == "(" else -1
            elif depth == 0 and token.is_("WHERE"):
                statement = statement.where(sa.text(self.text(rest[k + 1 :]) or "true"))
                break
        return [("execute", (statement,), {})]


def _type_of(definition: list[Token]) -> list[Token]:
    """The type at the front of a column's definition: up to its first constraint (one token at least)."""
    found = list(itertools.takewhile(lambda token: not token.is_(*_COLUMN_CONSTRAINT), definition))
    if not found:
        raise _NotRead
    return found


def _not_null(constraints: list[Token]) -> bool:
    """Whether a column's constraints (outside parentheses) say NOT NULL or PRIMARY KEY."""
    depth = 0
    for token, after in itertools.zip_longest(constraints, constraints[1:]):
        if token.kind == "symbol" and token.text in "()":
            depth += 1 if token.text == "(" else -1
        elif depth == 0 and (token.is_("PRIMARY") or (token.is_("NOT") and after is not None and after.is_("NULL"))):
            return True
    return False


def _default_of(tokens: list[Token]) -> list[Token]:
    """The expression after DEFAULT: up to the next column constraint outside parentheses."""
    found = []
    depth = 0
    for token in tokens:
        if token.kind == "symbol" and token.text in "()":
            depth += 1 if token.text == "(" else -1
        elif depth == 0 and token.is_(*[w for w in _COLUMN_CONSTRAINT if w != "NULL"]):
            break
        found.append(token)
    return found

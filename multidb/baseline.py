"""Baselines: the schema a base's history starts from (Flyway's ``baseline``).

Some applications create their first tables with ``metadata.create_all()`` from frozen "initial
models" and only then start an Alembic history, whose first revision alters tables it never created.
A base declares that starting schema in the config (``baseline: {metadata: module:attr}`` or
``baseline: {sql: {dialect: file}}``), and:

* an upgrade that runs a base's first revision creates its baseline first, unless the baseline's
  tables are there already (after ``downgrade base``, which leaves them), in the same transaction as
  that revision where the dialect's DDL is transactional;
* ``--sql`` from base writes the baseline's DDL first;
* :func:`create` makes a database hold just the baseline and an empty version table: where the
  plugin's checks and ``adopt`` start.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .config import Base, Database, Project
from .errors import ConfigError, ConfigProblem, DatabaseError, MigrationError


def declared(db: Database) -> list[Base]:
    """The bases of ``db`` that declare a baseline."""
    return [base for base in db.bases if base.baseline is not None]


def _where(db: Database, base: Base) -> str:
    return f"databases.{db.entry}.bases[{db.bases.index(base)}].baseline"


def _metadata(project: Project, db: Database, base: Base) -> Any:
    from .environment import import_metadata

    assert base.baseline is not None and base.baseline.metadata
    return import_metadata(project, base.baseline.metadata, f"{_where(db, base)}.metadata")


def _sql_file(project: Project, db: Database, base: Base, dialect: str) -> Path:
    assert base.baseline is not None
    found = base.baseline.sql_file(dialect)
    if found is None:
        has = ", ".join(d for d, _ in base.baseline.sql)
        problem = f"no SQL file for {dialect} (it has: {has}); add one under sql.{dialect}"
        raise ConfigError([ConfigProblem(str(project.path), f"{_where(db, base)}.sql", problem)])
    return found


def table_names(project: Project, db: Database, base: Base, dialect: str) -> list[tuple[str | None, str]]:
    """``(schema, table)`` of every table the baseline creates (a SQL file's ``CREATE TABLE`` names)."""
    assert base.baseline is not None
    if base.baseline.metadata:
        return [(t.schema, t.name) for t in _metadata(project, db, base).sorted_tables]
    path = _sql_file(project, db, base, dialect)
    names = [(None, m.group(1)) for s in statements(_read(path)) if (m := _CREATE_TABLE.match(_code(s)))]
    if not names:
        problem = f"{path} creates no table (no CREATE TABLE statement found)"
        raise ConfigError([ConfigProblem(str(project.path), f"{_where(db, base)}.sql.{dialect}", problem)])
    return names


def check(project: Project, db: Database) -> None:
    """Every baseline of ``db`` can be read for its dialect (models import, SQL file present, tables named)."""
    for base in declared(db):
        table_names(project, db, base, db.dialect)


_CREATE_TABLE = re.compile(
    r"CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:[`\"\[]?[\w$]+[`\"\]]?\s*\.\s*)?[`\"\[]?([\w$]+)",
    re.I,
)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([ConfigProblem(str(path), "", f"cannot read the baseline SQL: {e}")]) from e


def statements(text: str) -> list[str]:
    """The statements of a SQL file, split at the semicolons outside quotes, comments and ``$$`` bodies."""
    found, start, i, n = [], 0, 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            end = text.find(c, i + 1)
            while end != -1 and text[end + 1 : end + 2] == c:  # a doubled quote inside the string
                end = text.find(c, end + 2)
            i = n if end == -1 else end + 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end == -1 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end == -1 else end + 2
        elif c == "$" and (tag := re.match(r"\$[A-Za-z_]*\$", text[i:])):
            end = text.find(tag.group(0), i + len(tag.group(0)))
            i = n if end == -1 else end + len(tag.group(0))
        elif c == ";":
            found.append(text[start:i])
            start = i = i + 1
        else:
            i += 1
    found.append(text[start:])
    return [s.strip() for s in found if _code(s)]


def _code(statement: str) -> str:
    """The statement without its comments (a rough cut, for recognizing it: it is run as written)."""
    return re.sub(r"--[^\n]*|/\*.*?\*/", "", statement, flags=re.S).strip()


# --- in a migration run --------------------------------------------------------------------------


def starting(db: Database, steps: list) -> list[Base]:
    """The bases with a baseline whose first revision (a root) is among the upgrade ``steps``."""
    found: list[Base] = []
    for step in steps:
        rev = getattr(step, "revision", None)
        if rev is None or rev.down_revision is not None or not getattr(step, "is_upgrade", False):
            continue
        for base in declared(db):
            if base not in found and _belongs(rev, base):
                found.append(base)
    return found


def _belongs(rev: Any, base: Base) -> bool:
    if base.label in (rev.branch_labels or ()):
        return True
    try:
        Path(rev.path).resolve().relative_to(base.path)
    except ValueError:
        return False
    return True


def before_steps(project: Project, db: Database, context: Any, steps: list) -> list[str]:
    """Create the baseline of each base whose first revision is about to run (the labels created).

    Online, a baseline whose tables are all there already is left alone (``downgrade base`` leaves
    them); one that is partly there is an error. Offline (``--sql``), its DDL is written.
    """
    bases = starting(db, steps)
    if not context.as_sql:
        bases = [base for base in bases if not _present(project, db, base, context.connection)]
    # offline, a revision's BEGIN comes with its step: with a transaction per revision, the baseline gets its own
    own = bool(bases) and context.as_sql and context.impl.transactional_ddl and db.transaction == "per_revision"
    if own:
        context.impl.emit_begin()
    for base in bases:
        _create(project, db, base, context)
    if own:
        context.impl.emit_commit()
    return [base.label for base in bases]


def _present(project: Project, db: Database, base: Base, connection: Any) -> bool:
    import sqlalchemy as sa

    names = table_names(project, db, base, connection.dialect.name)
    inspector = sa.inspect(connection)
    there = [name for schema, name in names if inspector.has_table(name, schema=schema)]
    if there and len(there) < len(names):
        lacking = ", ".join(name for _, name in names if name not in there)
        raise DatabaseError(
            db.name,
            f"the baseline of base '{base.label}' is only partly there (it has {', '.join(there)}; it lacks "
            f"{lacking}): create the missing tables or remove the others by hand, then upgrade",
        )
    return bool(there)


def _create(project: Project, db: Database, base: Base, context: Any) -> None:
    from sqlalchemy.exc import DBAPIError

    from .redact import first_line

    assert base.baseline is not None
    dialect = context.dialect.name
    source = base.baseline.metadata or str(_sql_file(project, db, base, dialect))
    if context.as_sql:
        context.impl.static_output(f"-- Baseline of base {base.label}: {source}")
    try:
        if base.baseline.metadata:
            _create_metadata(_metadata(project, db, base), context)
        else:
            for statement in statements(_read(_sql_file(project, db, base, dialect))):
                _run(context, statement)
    except DBAPIError as e:
        orig = e.orig if e.orig is not None else e
        reason = first_line(f"{type(orig).__name__}: {orig}", *db.secrets)
        raise MigrationError(db.name, f"the baseline of base '{base.label}' ({source}) fails: {reason}") from e


def _create_metadata(metadata: Any, context: Any) -> None:
    if not context.as_sql:
        metadata.create_all(context.connection)
        return
    import sqlalchemy as sa

    def write(ddl: Any, *_args: Any, **_kw: Any) -> None:
        _run(context, str(ddl.compile(dialect=context.dialect)))

    metadata.create_all(sa.create_mock_engine(sa.engine.URL.create(context.dialect.name), write), checkfirst=False)


def _run(context: Any, statement: str) -> None:
    if context.as_sql:
        context.impl.static_output(statement.replace("\t", "    ").strip() + context.impl.command_terminator)
    else:
        context.connection.exec_driver_sql(statement)


# --- a database that holds just the baseline -------------------------------------------------------


def create(project: Project, db: Database, connection: Any) -> list[str]:
    """Make the empty database behind ``connection`` hold every baseline of ``db`` and an empty version
    table (what ``downgrade base`` leaves), and commit; returns the labels of the bases created."""
    bases = declared(db)
    if not bases:
        return []
    context = _context(db, connection)
    for base in bases:
        _create(project, db, base, context)
    _stamp_base(project, db, context)
    return [base.label for base in bases]


def stamp_base(project: Project, db: Database, connection: Any) -> None:
    """Create ``db``'s empty version table (a database at base: ``adopt`` of a database at its baseline)."""
    _stamp_base(project, db, _context(db, connection))


def _context(db: Database, connection: Any) -> Any:
    from alembic.runtime.migration import MigrationContext

    from .environment import options, prepare_session

    prepare_session(db, connection)
    return MigrationContext.configure(connection, opts=options(db, connection.dialect.name))


def _stamp_base(project: Project, db: Database, context: Any) -> None:
    from .runner import database_errors, load_history

    with database_errors(db):
        context.stamp(load_history(project, db), "base")  # creates the version table, records nothing
        context.connection.commit()

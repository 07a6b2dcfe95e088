"""Alembic's smaller commands: ensure-version, the SQL of one revision (``sql``), and finding a file to edit."""

from __future__ import annotations

from pathlib import Path

from .. import engines
from ..config import Database, Project
from ..errors import UsageError
from ..fleet import select_targets
from ..locking import lock_wait, migration_lock
from ..runner import load_history, revision_errors, run
from . import offline


def ensure_version(
    project: Project, names: tuple[str, ...], all_: bool = False, lock_timeout: float | None = None
) -> dict[str, str]:
    """Create each database's version table when it has none (no revision runs); what happened, by database.

    Alembic creates the table at the start of any online run whose table is missing; a run with no
    steps does that and nothing else, under the migration lock like every write.
    """
    if not names and not all_:
        raise UsageError("name the databases to change, or pass --all")
    done = {}
    for db in select_targets(project, names, all_):
        load_history(project, db)
        with engines.connect(db) as conn, migration_lock(db, lock_wait(db, lock_timeout), conn):
            existed = _has_version_table(db, conn)
            if not existed:
                run(project, db, lambda _heads, _context: [], connection=conn)
                if conn.in_transaction():  # PostgreSQL, per_revision: Alembic left the CREATE TABLE to us
                    conn.commit()
            done[db.name] = "exists" if existed else "created"
    return done


def _has_version_table(db: Database, conn) -> bool:
    import sqlalchemy as sa

    try:
        return sa.inspect(conn).has_table(db.version_table, schema=db.version_table_schema)
    finally:
        conn.rollback()


def revision_sql(project: Project, db: Database, rev: str, downgrade: bool = False) -> str:
    """The SQL of revision ``rev`` alone, in the active profile's dialect, never connecting (Django's sqlmigrate).

    Upgrade: from its parents and the revisions it depends on (so nothing else is included) to it.
    Downgrade: from it, one step down.
    """
    script = load_history(project, db)
    with revision_errors(db):
        found = script.get_revision(rev)
    if found is None:  # 'base'
        raise UsageError(f"{db.name}: '{rev}' names no revision; give a revision id, a prefix, head or LABEL@head")
    if downgrade:
        parent = found.down_revision
        end = parent if isinstance(parent, str) else "base" if parent is None else "-1"  # a merge: one step
        return offline.render(project, db, "downgrade", [found.revision], end)
    before = [*_tuple(found.down_revision), *_dependencies(script, db, found)]
    return offline.render(project, db, "upgrade", before or None, found.revision)


def _tuple(value) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _dependencies(script, db: Database, found) -> list[str]:
    """The revisions ``depends_on`` names (labels resolved), so that the SQL starts past them."""
    with revision_errors(db):
        return [r.revision for dep in _tuple(found.dependencies) for r in script.get_revisions(dep) if r is not None]


def revision_path(project: Project, db: Database, rev: str) -> Path:
    """The file of revision ``rev`` (an id, a prefix, head or LABEL@head)."""
    script = load_history(project, db)
    with revision_errors(db):
        found = script.get_revisions(rev)
    files = [Path(s.path) for s in found if s is not None]
    if len(files) != 1:
        raise UsageError(f"{db.name}: '{rev}' names {len(files)} revisions; give one revision id or LABEL@head")
    return files[0]

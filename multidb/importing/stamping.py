"""``multidb import --stamp``: move each database's version row from the old shared history to its
own split history, using the map ``--split`` wrote.

Connections go through the written config (``${VAR}`` URLs, the active profile), like every command.
Every database is read and checked first; if one is at a revision the old history does not hold,
nothing is changed anywhere. Then each database is stamped in one transaction of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..config import Database, Project
from ..errors import DatabaseError, MultiDBError, UsageError

MAP_NAME = "import-map.json"


def write_map(path: Path, source: str, mapping: dict[str, dict[str, str | None]]) -> None:
    data = {"source": source, "databases": mapping}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def read_map(path: Path) -> dict[str, dict[str, str | None]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): dict(v) for k, v in data["databases"].items()}
    except FileNotFoundError:
        raise UsageError(f"no revision map at {path}: run 'multidb import --split' first") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise UsageError(f"{path}: not a revision map written by 'multidb import --split' ({type(e).__name__})") from e


@dataclass(frozen=True)
class Stamped:
    name: str
    before: tuple[str, ...]
    after: tuple[str, ...]

    @property
    def result(self) -> str:
        if not self.before:
            return "empty: nothing to stamp"
        return "already there" if self.before == self.after else "stamped"


class NotInOldHistory(DatabaseError):
    """A database's version row names a revision the old history does not hold (nothing was changed)."""


def stamp_all(project: Project, mapping: dict[str, dict[str, str | None]]) -> list[Stamped]:
    plans = []
    for name, revisions in mapping.items():
        if name not in project.databases:
            raise UsageError(f"the revision map names database '{name}', which {project.path.name} does not define")
        plans.append(_plan(project, project.databases[name], revisions))
    for db, stamped in plans:
        if stamped.before != stamped.after:
            _write(db, stamped)
    return [stamped for _, stamped in plans]


def _plan(project: Project, db: Database, revisions: dict[str, str | None]) -> tuple[Database, Stamped]:
    from ..runner import current_heads, load_history

    heads = current_heads(db)
    unknown = [h for h in heads if h not in revisions]
    if unknown:
        raise NotInOldHistory(
            db.name,
            f"the database is at revision {', '.join(unknown)}, which the old history does not hold; "
            "nothing was stamped in any database",
        )
    after = tuple(dict.fromkeys(r for h in heads if (r := revisions[h]) is not None))
    return db, Stamped(db.name, heads, _tips(load_history(project, db), db, after))


def _tips(script: object, db: Database, revs: tuple[str, ...]) -> tuple[str, ...]:
    """Two old heads can map to one new revision, or one to an ancestor of the other: keep the tips."""
    from ..runner import unknown_heads

    missing = unknown_heads(script, revs)  # type: ignore[arg-type]
    if missing:
        raise DatabaseError(db.name, f"revision {', '.join(missing)} of the map is in no folder of the config")
    below = {
        r.revision
        for rev in revs
        for r in script.iterate_revisions(rev, "base")  # type: ignore[attr-defined]
        if r.revision != rev
    }
    return tuple(r for r in revs if r not in below)


def _write(db: Database, stamped: Stamped) -> None:
    """Replace the version rows in one transaction, under the migration lock, re-reading them first: a change
    since the check stops it."""
    import sqlalchemy as sa

    from .. import engines
    from ..locking import migration_lock
    from ..runner import database_errors

    table = sa.table(db.version_table, sa.column("version_num"), schema=db.version_table_schema)
    with (
        database_errors(db),
        engines.connect(db) as conn,
        migration_lock(db, db.migration_lock_timeout, conn),  # as every write command: one runner at a time
        conn.begin(),
    ):
        now = tuple(conn.execute(sa.select(table.c.version_num)).scalars())
        if sorted(now) != sorted(stamped.before):
            raise MultiDBError(f"{db.name}: the version table changed while stamping ({', '.join(now)}); run it again")
        conn.execute(sa.delete(table))
        for rev in stamped.after:
            conn.execute(sa.insert(table).values(version_num=rev))

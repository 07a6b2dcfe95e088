"""``validate``: applied revisions whose files were edited or deleted since (see multidb/ledger.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import engines, ledger
from ..config import Database, Project
from ..errors import DatabaseError
from ..fleet import select_targets
from ..locking import locked
from ..runner import load_history

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory


@dataclass(frozen=True)
class Validation:
    """One database's ledger against its revision files."""

    name: str
    changed: tuple[ledger.Changed, ...] = ()
    accepted: bool = False  # --accept recorded the files as they are now
    error: str | None = None
    squashed: tuple[ledger.Changed, ...] = ()  # replaced by a baseline (multidb squash): information only
    unrecorded: tuple[str, ...] = ()  # applied before the database had a ledger: no checksum to compare yet
    recorded: tuple[str, ...] = ()  # --accept: the unrecorded revisions it gave a checksum
    # "ok", "changed" (edited or deleted), "unrecorded", "accepted" (by --accept, just now) or "error"
    state: str = "ok"


def ledger_findings(project: Project, db: Database) -> list[ledger.Changed]:
    """What the ledger of ``db`` says against the files now, squashed revisions included (none for a
    SQLite file not made yet). A database at a revision a baseline replaced raises SquashedAway."""
    script = load_history(project, db)
    if not engines.exists(db):
        return []
    with engines.reading(db) as conn:
        return ledger.changed(db, script, conn)


def changed_revisions(project: Project, db: Database) -> list[ledger.Changed]:
    """The applied revisions of ``db`` edited or deleted since (none for a SQLite file not made yet)."""
    return ledger.problems(ledger_findings(project, db))


def refuse_edited(db: Database, script: ScriptDirectory) -> None:
    """Raise :class:`~multidb.ledger.EditedRevisions` when ``db`` has applied revisions edited since."""
    if not engines.exists(db):
        return
    with engines.reading(db) as conn:
        found = ledger.problems(ledger.changed(db, script, conn))
    if found:
        raise ledger.EditedRevisions(found)


def validate(
    project: Project, names: tuple[str, ...] = (), all_: bool = False, accept: bool = False
) -> list[Validation]:
    """Per database: the applied revisions edited or deleted after they were applied, and (information)
    those a baseline replaced.

    ``accept``: record the files as they are now (under the migration lock), so the next upgrade
    runs without ``--allow-edited``; the rows of squashed revisions give way to their baseline's.
    """
    results = []
    for db in select_targets(project, names, all_):
        try:
            everything = ledger_findings(project, db)
            found = ledger.problems(everything)
            squashed = tuple(c for c in everything if c not in found)
            missing = _unrecorded(project, db)
            accepted = accept and bool(everything or missing)
            if accepted:
                _accept(project, db, missing)
            state = "accepted" if accepted else "changed" if found else "unrecorded" if missing else "ok"
            results.append(
                Validation(
                    db.name,
                    tuple(found),
                    accepted,
                    squashed=squashed,
                    unrecorded=() if accepted else tuple(missing),
                    recorded=tuple(missing) if accepted else (),
                    state=state,
                )
            )
        except DatabaseError as e:
            results.append(Validation(db.name, error=e.message, state="error"))
    return results


def _unrecorded(project: Project, db: Database) -> list[str]:
    """The applied revisions of ``db`` its ledger has no row for (none for a SQLite file not made yet)."""
    if not engines.exists(db):
        return []
    with engines.reading(db) as conn:
        return ledger.unrecorded(db, load_history(project, db), conn)


def _accept(project: Project, db: Database, unrecorded: list[str]) -> None:
    from ..runner import database_errors

    script = load_history(project, db)
    with locked([db]), engines.connect(db) as conn, database_errors(db):
        ledger.accept(db, script, conn, ledger.changed(db, script, conn))
        if unrecorded:
            ledger.adopt(db, script, conn, unrecorded)

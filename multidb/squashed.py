"""Baselines made by ``multidb squash``: what the other commands learn from their record.

A baseline keeps the id of the last revision it replaced (``REV``), revises nothing, and says what it
replaced in a module-level constant, read here from the loaded revision module (as
:mod:`multidb.phases` reads ``phase``)::

    multidb_squashed = {"c1a0f0a1b001": "create locations, holdings, files", ..., "c1a0f0a1b004": "..."}

(revision id -> message, oldest first, ``REV`` included). A database stamped with one of the replaced
revisions other than ``REV`` cannot be upgraded by this history: :func:`refuse` says how to get past it.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from .errors import DatabaseError

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

RECORD = "multidb_squashed"

_found: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


def replaced(rev: Any) -> dict[str, str]:
    """What a revision (an Alembic Script) replaced, ``{id: message}`` oldest first; empty unless it is a baseline."""
    record = getattr(getattr(rev, "module", None), RECORD, None)
    if not isinstance(record, dict):
        return {}
    return {k: str(v) for k, v in record.items() if isinstance(k, str)}


def records(script: ScriptDirectory) -> dict[str, str]:
    """Every revision some baseline of the history replaced (its own id included) -> that baseline's id.

    Read once per loaded history (the history is loaded again when a file changes).
    """
    found = _found.get(script)
    if found is None:
        found = {}
        for rev in script.walk_revisions():
            for old in replaced(rev):
                found.setdefault(old, rev.revision)
        _found[script] = found
    return found


def squashed_away(script: ScriptDirectory, revisions: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """``(revision, baseline)`` for each of ``revisions`` a baseline replaced and the history no longer holds."""
    found = records(script)
    return [(r, found[r]) for r in revisions if r in found and r != found[r]]


class SquashedAway(DatabaseError):
    """The database is at a revision that a baseline replaced: this history cannot move it (exit 1)."""

    def __init__(self, database: str, revision: str, baseline: str):
        self.revision = revision
        self.baseline = baseline
        super().__init__(database, explain(revision, baseline))


def explain(revision: str, baseline: str) -> str:
    return (
        f"the database is at {revision}, which was squashed into the baseline {baseline}: upgrade it to "
        f"{baseline} with a release that still has the old revision files, then run this one"
    )


def refuse(database: str, script: ScriptDirectory, heads: list[str] | tuple[str, ...]) -> None:
    """Raise :class:`SquashedAway` when one of ``heads`` (revisions a version table holds) was squashed away."""
    gone = squashed_away(script, heads)
    if gone:
        raise SquashedAway(database, *gone[0])

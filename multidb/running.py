"""Which revision is running now, for the data helpers (they name their checkpoints after it).

multidb's runner wraps Alembic's list of steps with :func:`announcing`: just before Alembic runs a
step's ``upgrade()`` or ``downgrade()``, the step's revision becomes :func:`current`. Outside a
multidb run (a plain ``alembic`` command, a script) there is none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Running:
    """One run of one revision's ``upgrade()`` or ``downgrade()``."""

    revision: str
    online_steps: dict[str, int] = field(default_factory=dict)  # table -> online steps on it so far
    step_names: set[str] = field(default_factory=set)  # checkpoint names used so far


_current: ContextVar[Running | None] = ContextVar("multidb_running_revision", default=None)


def current() -> Running | None:
    """The revision whose code runs now, or None outside a multidb run."""
    return _current.get()


def announcing(steps: Callable[[Any, Any], Iterable[Any]]) -> Callable[[Any, Any], Iterator[Any]]:
    """Alembic's ``fn(heads, context) -> steps``, each step announced as :func:`current` before it runs.

    Alembic iterates the steps one at a time and runs each as it gets it, so the revision set when
    a step is handed over is the one whose code runs until the next step is asked for.
    """

    def announced(heads: Any, context: Any) -> Iterator[Any]:
        before = _current.get()
        try:
            for step in steps(heads, context):
                info = step.info  # alembic's public MigrationInfo; up_revision_id is the revision whose code runs
                _current.set(Running(info.up_revision_id or "base"))
                yield step
        finally:
            _current.set(before)

    return announced

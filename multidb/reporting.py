"""How library code tells its caller about progress and problems: only the CLI prints.

The data helpers (inside revisions) and the post-write hooks never write to stdout or stderr.
They report to the reporter of the current context, which is silent unless someone set one: the
``multidb`` command sets a reporter that draws progress bars on a terminal and prints warnings on
stderr, for the duration of a command (see :mod:`multidb.progress`); a program that uses multidb as
a library may set its own with :func:`using`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

__all__ = ["Reporter", "Silent", "current", "using"]


class Reporter(Protocol):
    """Told about long steps and warnings; shows them (or not) as its owner likes."""

    def wants_progress(self) -> bool:
        """Whether :meth:`progress` is shown (if not, callers skip the work of counting rows)."""
        ...

    def progress(self, step: str, done: int, total: int) -> None:
        """``step`` (say ``"<revision>:<table>"``) has done ``done`` of ``total`` units so far."""
        ...

    def finished(self, step: str) -> None:
        """``step`` is over (whether or not it reached ``total``)."""
        ...

    def warning(self, text: str) -> None:
        """Something went wrong that does not stop the operation (one line, no prefix)."""
        ...


class Silent:
    """The reporter of library use: shows nothing, and says so (nobody counts rows for it)."""

    def wants_progress(self) -> bool:
        return False

    def progress(self, step: str, done: int, total: int) -> None:
        pass

    def finished(self, step: str) -> None:
        pass

    def warning(self, text: str) -> None:
        pass


_SILENT = Silent()
_current: ContextVar[Reporter | None] = ContextVar("multidb_reporter", default=None)


def current() -> Reporter:
    """The reporter set by :func:`using` in this context; a silent one when none is."""
    return _current.get() or _SILENT


@contextmanager
def using(reporter: Reporter) -> Iterator[Reporter]:
    """Report to ``reporter`` inside the ``with`` block (in this thread or task, and in processes it forks)."""
    token = _current.set(reporter)
    try:
        yield reporter
    finally:
        _current.reset(token)

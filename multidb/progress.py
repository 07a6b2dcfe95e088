"""The CLI's progress bars (only on a terminal, never under ``--quiet``) and its reporter for library code."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_quiet = False


def set_quiet(flag: bool) -> None:
    """``--quiet``: no progress bars in this process (or the worker processes it forks)."""
    global _quiet
    _quiet = flag


def quiet() -> bool:
    """``--quiet`` or ``MULTIDB_QUIET``: no progress bars, no confirmation lines (``graph``'s ``wrote ...``)."""
    return _quiet or bool(os.environ.get("MULTIDB_QUIET"))


def wanted(stream: TextIO) -> bool:
    """Whether a progress bar belongs on ``stream``: a terminal, no ``--quiet``, no ``MULTIDB_QUIET``."""
    return stream.isatty() and not quiet()


class BarReporter:
    """One click progress bar per database, advanced as each revision is applied."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.bar: Any = None

    def start(self, database: str, total: int) -> None:
        import click

        if total > 1:
            self.bar = click.progressbar(length=total, label=database, file=self.stream, show_pos=True)
            self.bar.__enter__()

    def step(self, database: str, revision: str) -> None:
        if self.bar is not None:
            self.bar.update(1, revision)

    def finish(self, database: str) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def reporter_for(stream: TextIO) -> Any:
    """A bar on a terminal; nothing when output goes to a file or a pipe, or under ``--quiet``."""
    from .commands.steps import Quiet

    return BarReporter(stream) if wanted(stream) else Quiet()


class Terminal:
    """The CLI's :class:`multidb.reporting.Reporter`: a click progress bar per data step (when
    :func:`wanted`), warnings as ``multidb: warning: ...`` lines, all on ``stream``."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.bars: dict[str, Any] = {}

    def wants_progress(self) -> bool:
        return wanted(self.stream)

    def progress(self, step: str, done: int, total: int) -> None:
        bar = self.bars.get(step)
        if bar is None:
            import click

            bar = self.bars[step] = click.progressbar(length=total, label=f"  {step}", file=self.stream, show_pos=True)
            bar.__enter__()
        bar.update(done - bar.pos)

    def finished(self, step: str) -> None:
        bar = self.bars.pop(step, None)
        if bar is not None:
            bar.__exit__(None, None, None)

    def warning(self, text: str) -> None:
        print(f"multidb: warning: {text}", file=self.stream)


@contextmanager
def reporting_to_stderr() -> Iterator[None]:
    """For the duration of a command: library code reports to a :class:`Terminal` on stderr."""
    from .reporting import using

    with using(Terminal(sys.stderr)):
        yield

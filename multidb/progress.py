"""A progress bar for long runs, shown only on a terminal, and never under ``--quiet``."""

from __future__ import annotations

import os
from typing import Any, TextIO

_quiet = False


def set_quiet(flag: bool) -> None:
    """``--quiet``: no progress bars in this process (or the worker processes it forks)."""
    global _quiet
    _quiet = flag


def wanted(stream: TextIO) -> bool:
    """Whether a progress bar belongs on ``stream``: a terminal, no ``--quiet``, no ``MULTIDB_QUIET``."""
    return stream.isatty() and not _quiet and not os.environ.get("MULTIDB_QUIET")


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

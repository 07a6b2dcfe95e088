"""A progress bar for long runs, shown only on a terminal."""

from __future__ import annotations

from typing import Any, TextIO

import click


class BarReporter:
    """One click progress bar per database, advanced as each revision is applied."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.bar: Any = None

    def start(self, database: str, total: int) -> None:
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
    """A bar on a terminal; nothing when output goes to a file or a pipe."""
    from .commands.steps import Quiet

    return BarReporter(stream) if stream.isatty() else Quiet()

"""``post_write_hooks``: commands run on every revision file multidb writes (say ``ruff format``).

Alembic has post-write hooks too, but they print to stdout (which would break ``--json``), ignore a
failing command silently and end in a traceback when the program is missing. Here every program is
found before a file is written, output is captured, and a command that fails is reported as a
warning (to :mod:`multidb.reporting`'s current reporter: the CLI prints it): the revision file exists
either way.
"""

from __future__ import annotations

import importlib.util
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable

from . import reporting
from .config import Project
from .errors import UsageError
from .redact import first_line
from .runner import relative

FILE = "{file}"


def commands(project: Project) -> list[tuple[str, list[str]]]:
    """Each hook as (its text, the argv prefix that runs it); a program that cannot be found is a usage error."""
    found = []
    for i, hook in enumerate(project.post_write_hooks):
        argv = shlex.split(hook)
        program = argv[0]
        path = shutil.which(program)
        if path is not None:
            found.append((hook, [path, *argv[1:]]))
        elif "/" not in program and importlib.util.find_spec(program) is not None:
            # installed beside multidb (e.g. ruff in the same virtual environment that is not activated)
            found.append((hook, [sys.executable, "-m", program, *argv[1:]]))
        else:
            raise UsageError(
                f"{relative(project.path)}: post_write_hooks[{i}]: cannot run '{hook}': "
                f"'{program}' is neither on PATH nor an installed Python module"
            )
    return found


def run(
    project: Project,
    hooks: list[tuple[str, list[str]]],
    written: list[str],
    warn: Callable[[str], None] | None = None,
) -> None:
    """Run ``hooks`` (from :func:`commands`) on every written file, in order, from the config file's folder.

    A hook that fails is a warning, given to ``warn`` (default: the current reporter's; the CLI prints it).
    """
    warn = warn or reporting.current().warning
    for path in written:
        shown = relative(path)
        for hook, argv in hooks:
            args = [a.replace(FILE, path) for a in argv] if any(FILE in a for a in argv) else [*argv, path]
            try:
                done = subprocess.run(args, cwd=project.path.parent, capture_output=True, text=True, timeout=120)
            except (OSError, subprocess.TimeoutExpired) as e:
                warn(f"post_write_hooks: '{hook}' did not run on {shown}: {first_line(str(e))}")
                continue
            if done.returncode != 0:
                said = first_line(done.stderr.strip() or done.stdout.strip() or "no output")
                warn(f"post_write_hooks: '{hook}' exited {done.returncode} on {shown}: {said}")

"""Progress bars: shown on a terminal, for the run and for batched data steps; never in a pipe or under -q.

The command runs in a child process whose stderr is a pseudo-terminal, as in an interactive shell.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from example_project import CATALOG_REVS


def run_on_terminal(project: Path, *args: str) -> tuple[int, str]:
    """Run ``multidb ARGS`` with stderr on a pseudo-terminal; returns the exit code and what it showed there."""
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIDB_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "multidb", *args],
        cwd=project,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return process.wait(timeout=120), b"".join(chunks).decode(errors="replace")


def test_a_terminal_gets_bars_for_the_run_and_for_data_steps(project):
    code, shown = run_on_terminal(project, "upgrade", "--all")
    assert code == 0, shown
    assert f"{len(CATALOG_REVS)}/{len(CATALOG_REVS)}" in shown  # the catalog run's bar, at its end
    assert "catalog" in shown and "monitor" in shown
    assert f"{CATALOG_REVS[5]}:locations" in shown  # the batched data step's own bar


def test_quiet_shows_no_bar(project):
    code, shown = run_on_terminal(project, "upgrade", "--all", "-q")
    assert code == 0, shown
    assert shown.strip() == ""  # the result table goes to stdout; stderr stays empty


def test_quiet_before_the_command_name_too(project):
    code, shown = run_on_terminal(project, "--quiet", "upgrade", "catalog")
    assert code == 0, shown
    assert shown.strip() == ""


def test_a_pipe_gets_no_bar(project):
    done = subprocess.run(
        [sys.executable, "-m", "multidb", "upgrade", "--all"], cwd=project, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "upgraded" in done.stdout

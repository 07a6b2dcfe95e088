"""The command table: each command's module is imported when that command runs, and a mistyped name gets a hint."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from assertions import assert_one_clean_error


def test_every_command_is_in_the_table() -> None:
    """COMMAND_MODULES names every command its modules define, and each in the right module."""
    code = (
        "import importlib, json, multidb.cli as c\n"
        "found = {}\n"
        "for module in sorted(set(c.COMMAND_MODULES.values())):\n"
        "    before = set(c.main.commands)\n"
        "    importlib.import_module('multidb.cli.' + module)\n"
        "    found.update(dict.fromkeys(set(c.main.commands) - before, module))\n"
        "print(json.dumps([found, c.COMMAND_MODULES]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found, table = json.loads(done.stdout)
    assert found == table


def test_a_command_loads_only_its_own_module(project) -> None:
    """... and an upgrade that connects loads neither the offline SQL nor the --atomic module."""
    code = (
        "import sys, atexit\n"
        "wanted = ('multidb.cli.', 'multidb.commands.offline', 'multidb.commands.atomic')\n"
        "loaded = lambda: sorted(m for m in sys.modules if m.startswith(wanted))\n"
        "atexit.register(lambda: print(loaded(), file=sys.stderr))\n"
        "sys.argv = ['multidb', 'upgrade', '--all']\n"
        "from multidb.cli import run\n"
        "run()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "['multidb.cli.params', 'multidb.cli.write']"


def test_help_lists_every_command(cli) -> None:
    from multidb.cli import COMMAND_MODULES

    result = cli("--help")
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert set(COMMAND_MODULES) <= set(listed)


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("upgrad", "(did you mean 'upgrade'?)"),
        ("stauts", "(did you mean 'status'?)"),
        ("zzz", "('multidb --help' lists"),
    ],
)
def test_unknown_command_is_one_line_with_a_hint(cli, typed: str, hint: str) -> None:
    result = cli(typed)
    assert result.exit_code == 2
    assert_one_clean_error(result, f"no such command '{typed}'", hint, nothing_else=True)

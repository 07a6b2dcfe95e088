"""Arguments and helpers shared by the subcommands."""

from __future__ import annotations

from typing import Any

import click

databases_arg = click.argument("databases", nargs=-1, metavar="[DB]...")
all_option = click.option("--all", "all_", is_flag=True, help="Every database of the config.")


def one_database(project: Any, name: str) -> Any:
    """The config entry of ``name`` (a fleet target's history is its entry's)."""
    return project.select([name.partition("/")[0]])[0]


def one_target(project: Any, name: str) -> Any:
    """The database or fleet target ``name``; a fleet entry alone means its first target."""
    from ..fleet import select_targets

    found = select_targets(project, [name])
    if not found:
        raise click.UsageError(f"fleet '{name}' has no targets")
    return found[0]


def read_targets(databases: tuple[str, ...], all_: bool) -> tuple[tuple[str, ...], bool]:
    """Read-only commands look at every database when none is named."""
    return databases, all_ or not databases


def with_options(options: list) -> Any:
    def apply(f: Any) -> Any:
        for option in reversed(options):
            f = option(f)
        return f

    return apply

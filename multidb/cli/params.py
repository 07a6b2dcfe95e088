"""Arguments and helpers shared by the subcommands."""

from __future__ import annotations

from typing import Any

import click

databases_arg = click.argument("databases", nargs=-1, metavar="[DB]...")
all_option = click.option("--all", "all_", is_flag=True, help="Every database of the config.")


def one_database(project: Any, name: str) -> Any:
    return project.select([name])[0]


def read_targets(databases: tuple[str, ...], all_: bool) -> tuple[tuple[str, ...], bool]:
    """Read-only commands look at every database when none is named."""
    return databases, all_ or not databases


def with_options(options: list) -> Any:
    def apply(f: Any) -> Any:
        for option in reversed(options):
            f = option(f)
        return f

    return apply

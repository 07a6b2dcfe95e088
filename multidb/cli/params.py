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


class Seconds(click.ParamType):
    """A number of seconds >= 0 that every server accepts: finite, at most ``MAX_SECONDS`` (``nan`` is refused)."""

    name = "seconds"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        import math

        from ..config import MAX_SECONDS, MAX_SECONDS_WHY

        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if math.isnan(seconds) or not 0 <= seconds <= MAX_SECONDS:
            self.fail(f"expected 0 to {MAX_SECONDS} seconds ({MAX_SECONDS_WHY}), got {value}", param, ctx)
        return seconds


def _parse_shard(_ctx: Any, _param: Any, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    index, _, count = value.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise click.BadParameter("expected I/N, e.g. 1/4") from None
    if not 1 <= i <= n:
        raise click.BadParameter("I must be between 1 and N, e.g. 1/4 .. 4/4")
    return i, n


fleet_options = [
    click.option(
        "-j",
        "--jobs",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help="Targets to work on at once, each in its own process.",
    ),
    click.option(
        "--shard",
        callback=_parse_shard,
        metavar="I/N",
        help="Only this runner's share of the targets (stable split across N runners).",
    ),
]


x_option = click.option(
    "-x",
    "x_arguments",
    multiple=True,
    metavar="KEY=VALUE",
    help="A value for revisions and hooks (repeatable): multidb.x_arguments() or "
    "Alembic's context.get_x_argument(as_dictionary=True).",
)


def with_x(project: Any, values: tuple[str, ...]) -> Any:
    """The project carrying the command line's ``-x KEY=VALUE`` values (checked)."""
    if not values:
        return project
    from dataclasses import replace

    from ..customize import parse_x

    return replace(project, x_arguments=parse_x(values))

"""The ``multidb`` command line: parse, call :mod:`multidb.commands`, render, choose the exit code.

Only this module prints or exits. Heavy modules (SQLAlchemy, Alembic) are imported inside the
commands that need them, so ``multidb --help`` starts fast.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from typing import Any

import click

from ..errors import EXIT_FAILED, EXIT_USAGE, MultiDBError, RunFailed, printable

EXIT_CODES = """\b
Exit codes: 0 success, 1 an operation failed (or --check found work),
            2 bad usage or config.
"""


# which module defines each command: a command's module is imported only when that command runs
# (or when help lists them all), so `multidb upgrade` does not load the authoring and read commands
COMMAND_MODULES = {
    **dict.fromkeys(("init", "revision", "migrate", "merge", "check"), "authoring"),
    **dict.fromkeys(("list", "status", "current", "heads", "branches", "history", "show"), "read"),
    **dict.fromkeys(("validate", "lint", "plan"), "read"),
    **dict.fromkeys(("upgrade", "downgrade", "stamp", "adopt"), "write"),
    "graph": "graph",
    **dict.fromkeys(("ensure-version", "sql", "edit"), "tools"),
    "import": "importer",
    "squash": "squash",
}


class Group(click.Group):
    """Catches MultiDBError once: one line on stderr, no traceback unless --traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMAND_MODULES, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            import importlib

            importlib.import_module(f"{__name__}.{module}")  # its decorators register it on main
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple:
        name = args[0] if args else ""
        if args and not name.startswith("-") and self.get_command(ctx, name) is None:
            from ..schema import did_you_mean

            hint = did_you_mean(name, self.list_commands(ctx)) or " ('multidb --help' lists the commands)"
            raise click.UsageError(f"no such command '{name}'{hint}", ctx)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        from ..progress import reporting_to_stderr, set_quiet

        set_quiet(bool(ctx.meta.get("multidb.quiet")))  # a subcommand's own --quiet may still set it
        try:
            with reporting_to_stderr():  # library code (data steps, post-write hooks) reports; we print
                return super().invoke(ctx)
        except MultiDBError as e:
            _report(ctx, e, e.lines(), e.exit_code)
        except click.UsageError as e:  # one line like every other error, not click's usage block
            command = f"{e.ctx.command_path}: " if e.ctx is not None else ""
            _report(ctx, e, [command + e.format_message()], EXIT_USAGE)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt as e:  # Ctrl-C outside a write command's own handling (multidb.interrupts)
            _report(ctx, e, ["interrupted by SIGINT"], 130)
        except Exception as e:  # a bug, or an error multidb did not anticipate
            hint = "" if ctx.meta.get("multidb.traceback") else " (rerun with --traceback for details)"
            _report(ctx, e, [f"unexpected {type(e).__name__}: {e}{hint}"], EXIT_FAILED)


def _report(ctx: click.Context, exc: BaseException, lines: list[str], code: int) -> None:
    from ..redact import hide_statements, scrub

    secrets = ctx.meta.get("multidb.secrets", ())
    if ctx.meta.get("multidb.traceback"):
        click.echo(scrub(hide_statements("".join(traceback.format_exception(exc))), secrets), err=True)
    if isinstance(exc, RunFailed) and exc.results:
        if ctx.meta.get("multidb.json"):
            emit(exc.results, True, str)  # scripts still get where every database stands
        else:
            from .. import render

            click.echo(render.run_results(exc.results), err=True)
    for i, line in enumerate(lines):
        text = ("multidb: error: " if i == 0 else "") + printable(line.strip("\n")) if i == 0 else line
        click.echo(scrub(hide_statements(text), secrets), err=True)
    ctx.exit(code)


def _remember(key: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value not in (None, False):
            ctx.meta[key] = value
        return value

    return callback


def _quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        from ..progress import set_quiet

        ctx.meta["multidb.quiet"] = True
        set_quiet(True)
    return value


def project_options(f: Callable) -> Callable:
    """-c/--config, -p/--profile, --traceback and -q/--quiet, accepted before or after the command name."""
    options = [
        click.option(
            "-c",
            "--config",
            "config_path",
            type=click.Path(dir_okay=False),
            expose_value=False,
            callback=_remember("multidb.config"),
            is_eager=True,
            help="Config file. Default: $MULTIDB_CONFIG, else config/multidb.yaml found upwards.",
        ),
        click.option(
            "-p",
            "--profile",
            expose_value=False,
            callback=_remember("multidb.profile"),
            is_eager=True,
            help="Profile to use. Default: $MULTIDB_PROFILE, else the file's default_profile.",
        ),
        click.option(
            "--traceback",
            is_flag=True,
            expose_value=False,
            callback=_remember("multidb.traceback"),
            is_eager=True,
            help="Show the full traceback of an error.",
        ),
        click.option(
            "-q",
            "--quiet",
            is_flag=True,
            expose_value=False,
            callback=_quiet,
            is_eager=True,
            help="No progress bars or confirmation lines (also: MULTIDB_QUIET=1).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def json_option(f: Callable) -> Callable:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        callback=_remember("multidb.json"),
        help="Print JSON for scripts instead of text.",
    )(f)


def load_project() -> Any:
    from ..config import find_config, load_config

    ctx = click.get_current_context()
    path = find_config(ctx.meta.get("multidb.config"))
    project = load_config(path, ctx.meta.get("multidb.profile"))
    ctx.meta["multidb.secrets"] = project.secrets()
    return project


def emit(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    from ..redact import scrub
    from ..results import to_json

    secrets = click.get_current_context().meta.get("multidb.secrets", ())
    out = json.dumps(to_json(data), indent=2) if as_json else text(data)
    if out:
        click.echo(scrub(out, secrets))


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(package_name="multidb-migrate", prog_name="multidb")
@project_options
def main() -> None:
    """Migrate every database of an application, each with its own Alembic history.

    \b
    Examples:
      multidb upgrade --all                      bring every database to head
      multidb status --all                       where each database stands
      multidb --profile production upgrade --all --sql   one SQL file per database
    """


def run() -> None:
    """Console-script entry point."""
    main(prog_name="multidb")

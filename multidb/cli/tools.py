"""Alembic's smaller commands: ensure-version, sql (one revision's SQL) and edit."""

from __future__ import annotations

import click

from ..errors import MultiDBError
from . import emit, json_option, load_project, main, project_options
from .params import Seconds, all_option, databases_arg, one_database, one_target


@main.command("ensure-version")
@databases_arg
@all_option
@click.option("--lock-timeout", type=Seconds(), help="Seconds to wait for another runner's migration lock.")
@project_options
@json_option
def ensure_version_cmd(databases: tuple[str, ...], all_: bool, lock_timeout: float | None, as_json: bool) -> None:
    """Create the version table of databases that have none; no revision runs.

    \b
    Examples:
      multidb ensure-version catalog
      multidb ensure-version --all --json
    """
    from ..commands.tools import ensure_version

    done = ensure_version(load_project(), databases, all_, lock_timeout)
    emit(done, as_json, lambda d: "\n".join(f"{name}: version table {what}" for name, what in d.items()))


@main.command("sql")
@click.argument("database")
@click.argument("revision")
@click.option("--downgrade", is_flag=True, help="The revision's downgrade instead of its upgrade.")
@project_options
def sql_cmd(database: str, revision: str, downgrade: bool) -> None:
    """Print the SQL of one revision, in the active profile's dialect, without connecting.

    Like Django's sqlmigrate: only that revision's statements (and its version table update).

    \b
    Examples:
      multidb sql catalog c1a0f0a1b002
      multidb sql catalog head --downgrade -p production   # PostgreSQL's SQL
    """
    from ..commands.tools import revision_sql
    from ..redact import scrub

    project = load_project()
    text = revision_sql(project, one_target(project, database), revision, downgrade)
    click.echo(scrub(text, project.secrets()), nl=False)


@main.command("edit")
@click.argument("database")
@click.argument("revision", default="head")
@project_options
def edit_cmd(database: str, revision: str) -> None:
    """Open a revision file in $VISUAL or $EDITOR (default revision: head).

    \b
    Examples:
      multidb edit catalog                    # the head revision
      EDITOR=code multidb edit catalog c1a0
    """
    from ..commands.tools import revision_path

    project = load_project()
    path = revision_path(project, one_database(project, database), revision)
    try:
        click.edit(filename=str(path))
    except click.ClickException as e:
        raise MultiDBError(f"cannot edit {path}: {e.format_message()} (set $EDITOR to your editor)") from e

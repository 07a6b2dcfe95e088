"""Subcommands that write files or compare models: init, revision, migrate, merge, check."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import EXIT_FAILED
from . import emit, json_option, load_project, main, project_options
from .params import all_option, databases_arg, one_database, one_target, read_targets, with_x, x_option


@main.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("-t", "--template", help="What to start from (default: two-databases); see --list-templates.")
@click.option("--list-templates", is_flag=True, help="List the templates and exit.")
@project_options
def init_cmd(directory: Path, template: str | None, list_templates: bool) -> None:
    """Create a new project from a template: config, profiles, models and version folders.

    \b
    Examples:
      multidb init myservice && cd myservice && multidb upgrade --all
      multidb init --list-templates
      multidb init myservice --template one-database
    """
    from ..commands import init
    from ..commands.scaffold import DEFAULT_TEMPLATE, PROJECT_TEMPLATES

    if list_templates:
        width = max(map(len, PROJECT_TEMPLATES))
        click.echo("\n".join(f"{name:<{width}}  {what}" for name, what in PROJECT_TEMPLATES.items()))
        return
    for path in init(directory, template or DEFAULT_TEMPLATE):
        click.echo(f"created {path}")
    where = "" if directory == Path(".") else f"cd {directory} && "
    click.echo(f"next: {where}multidb upgrade --all")


def _authoring_options(f):
    for option in reversed(
        [
            click.option("-m", "--message", required=True, help="What the revision does."),
            click.option("--head", default="head", show_default=True, help="Parent: a revision, label@head, or base."),
            click.option("--splice", is_flag=True, help="Allow a parent that is not a head (starts a branch)."),
            click.option("--branch-label", help="Label for a new branch or base."),
            click.option("--version-path", help="Base folder to write into (must be a base in the config)."),
            click.option("--depends-on", multiple=True, help="Revision or label this one depends on (repeatable)."),
            click.option("--rev-id", help="Use this revision id instead of a generated one."),
        ]
    ):
        f = option(f)
    return f


def _write_revision(database: str, autogenerate: bool, as_json: bool, x_arguments: tuple = (), **kw) -> None:
    from ..commands import revision

    project = with_x(load_project(), x_arguments)
    target = one_target(project, database) if autogenerate else one_database(project, database)
    written = revision(project, target, autogenerate=autogenerate, **kw)
    if not written and not as_json:
        click.echo(f"{database}: the models match the database; no revision written")
        return
    emit(written, as_json, lambda items: "\n".join(f"wrote {i.path}" for i in items))


@main.command("revision")
@click.argument("database")
@_authoring_options
@click.option("--autogenerate", is_flag=True, help="Compare the models with the database (at head).")
@click.option("--data", "data_step", is_flag=True, help="A data step: frozen copies of --tables and the data helpers.")
@click.option("--tables", help="With --data: comma-separated tables to freeze into the revision.")
@x_option
@project_options
@json_option
def revision_cmd(database: str, autogenerate: bool, data_step: bool, tables: str | None, as_json: bool, **kw) -> None:
    """Write a new revision file for one database.

    A database's first revision creates its version folder when missing and carries the base's
    configured label (so NEWDB@head works at once).

    \b
    Examples:
      multidb revision catalog -m "add tags" --autogenerate
      multidb revision newdb -m "first"          # a database just added to the config
      multidb revision catalog --data -m "backfill status" --tables holdings,files
      multidb revision catalog -m "start archive" --head base \\
          --branch-label archive --version-path catalog_archive_versions
      multidb revision catalog -m "tenant tables" --autogenerate -x tenant=acme
    """
    if data_step != bool(tables):
        raise click.UsageError("--data and --tables go together: --data --tables t1,t2")
    names = tuple(t.strip() for t in (tables or "").split(",") if t.strip())
    _write_revision(database, autogenerate, as_json, data_tables=names, **kw)


@main.command("migrate")
@click.argument("database")
@_authoring_options
@x_option
@project_options
@json_option
def migrate_cmd(database: str, as_json: bool, **kw) -> None:
    """Autogenerate a revision from the models (shorthand for revision --autogenerate).

    \b
    Example:
      multidb migrate catalog -m "add holdings.status"
      multidb migrate catalog -m "add tags" -x tenant=acme   # for the comparison hooks
    """
    _write_revision(database, True, as_json, **kw)


@main.command("merge")
@click.argument("database")
@click.argument("revisions", nargs=-1, required=True)
@click.option("-m", "--message", required=True, help="What the merge joins.")
@click.option("--branch-label", help="Label for the merge revision.")
@click.option("--rev-id", help="Use this revision id instead of a generated one.")
@project_options
@json_option
def merge_cmd(database: str, revisions: tuple[str, ...], message: str, branch_label, rev_id, as_json: bool) -> None:
    """Write a revision that merges several heads of one database.

    \b
    Example:
      multidb merge catalog heads -m "merge tags and archive"
    """
    from ..commands import merge

    project = load_project()
    written = merge(project, one_database(project, database), revisions, message, branch_label, rev_id)
    emit(written, as_json, lambda items: "\n".join(f"wrote {i.path}" for i in items))


@main.command("check")
@databases_arg
@all_option
@x_option
@project_options
@json_option
def check_cmd(databases, all_, x_arguments, as_json) -> None:
    """Exit 1 when the models and the migrations differ, listing each difference.

    \b
    Examples:
      multidb check --all
      multidb check catalog
      multidb check catalog -x role=migrator    # -x values for the on_connect hook
    """
    from ..commands import check
    from ..errors import DriftDetected

    try:
        results = check(with_x(load_project(), x_arguments), *read_targets(databases, all_))
    except DriftDetected as e:
        if as_json:
            emit(e.diffs, True, str)
        else:
            for name, lines in e.diffs.items():
                click.echo(f"{name}: {len(lines)} difference(s) between the models and the migrations:")
                for line in lines:
                    click.echo(f"  - {line}")
        sys.exit(EXIT_FAILED)
    emit(
        {r.name: [] for r in results},
        as_json,
        lambda d: "\n".join(f"{name}: the models match the migrations" for name in d),
    )

"""The subcommands of ``multidb``. Each parses its options, calls one API function and renders."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import render
from .cli import emit, json_option, load_project, main, project_options
from .errors import EXIT_FAILED, UsageError

databases_arg = click.argument("databases", nargs=-1, metavar="[DB]...")
all_option = click.option("--all", "all_", is_flag=True, help="Every database of the config.")


def _one(project, name: str):
    return project.select([name])[0]


def _read_targets(databases: tuple[str, ...], all_: bool) -> tuple[tuple[str, ...], bool]:
    """Read-only commands look at every database when none is named."""
    return databases, all_ or not databases


@main.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@project_options
def init_cmd(directory: Path) -> None:
    """Create a new project: a config with two databases, profiles and version folders.

    \b
    Example:
      multidb init myservice && cd myservice && multidb upgrade --all
    """
    from .commands import init

    for path in init(directory):
        click.echo(f"created {path}")
    where = "" if directory == Path(".") else f"cd {directory} && "
    click.echo(f"next: {where}multidb upgrade --all")


@main.command("list")
@project_options
@json_option
def list_cmd(as_json: bool) -> None:
    """List the databases of the active profile (passwords masked).

    \b
    Example:
      multidb list --profile production
    """
    from .commands import list_databases

    emit(list_databases(load_project()), as_json, render.databases)


@main.command("status")
@databases_arg
@all_option
@click.option("--check", is_flag=True, help="Exit 1 when any database is not at head (for deploy gates).")
@project_options
@json_option
def status_cmd(databases: tuple[str, ...], all_: bool, check: bool, as_json: bool) -> None:
    """Show each database's current revisions, heads and pending count.

    \b
    Examples:
      multidb status --all
      multidb status catalog --json
      multidb status --all --check     # exit 1 if anything is pending
    """
    from .commands import status

    items = status(load_project(), *_read_targets(databases, all_))
    emit(items, as_json, render.statuses)
    if any(s.state == "error" for s in items) or (check and not all(s.up_to_date for s in items)):
        sys.exit(EXIT_FAILED)


@main.command("current")
@databases_arg
@all_option
@project_options
@json_option
def current_cmd(databases: tuple[str, ...], all_: bool, as_json: bool) -> None:
    """Show the revisions stamped in each database's version table.

    \b
    Example:
      multidb current catalog
    """
    from .commands import current

    items = current(load_project(), *_read_targets(databases, all_))
    emit(items, as_json, render.currents)
    if any(s.state == "error" for s in items):
        sys.exit(EXIT_FAILED)


def _per_database(fetch, as_json: bool, databases: tuple[str, ...], all_: bool, line=render.revision_line) -> None:
    project = load_project()
    found = {db.name: fetch(project, db) for db in project.select(*_read_targets(databases, all_))}
    if as_json:
        emit(found, True, str)
        return
    text = [
        f"{name}:\n" + "\n".join("  " + line(i) for i in infos) if infos else f"{name}: (none)"
        for name, infos in found.items()
    ]
    emit(text, False, "\n".join)


@main.command("heads")
@databases_arg
@all_option
@project_options
@json_option
def heads_cmd(databases: tuple[str, ...], all_: bool, as_json: bool) -> None:
    """Show the head revisions of each database's history.

    \b
    Example:
      multidb heads catalog
    """
    from .commands import heads

    _per_database(heads, as_json, databases, all_)


@main.command("branches")
@databases_arg
@all_option
@project_options
@json_option
def branches_cmd(databases: tuple[str, ...], all_: bool, as_json: bool) -> None:
    """Show the revisions where a database's history forks.

    \b
    Example:
      multidb branches catalog
    """
    from .commands import branches

    _per_database(branches, as_json, databases, all_)


@main.command("history")
@click.argument("database")
@click.option("-r", "--rev-range", help="FROM:TO, e.g. base:head or c1a0:.")
@project_options
@json_option
def history_cmd(database: str, rev_range: str | None, as_json: bool) -> None:
    """List a database's revisions, newest first.

    \b
    Examples:
      multidb history catalog
      multidb history catalog -r base:catalog@head --json
    """
    from .commands import history

    project = load_project()
    emit(
        history(project, _one(project, database), rev_range),
        as_json,
        lambda items: "\n".join(render.revision_line(i) for i in items),
    )


@main.command("show")
@click.argument("database")
@click.argument("revision")
@project_options
@json_option
def show_cmd(database: str, revision: str, as_json: bool) -> None:
    """Show one revision of a database in detail.

    \b
    Example:
      multidb show catalog head
    """
    from .commands import show

    project = load_project()
    emit(
        show(project, _one(project, database), revision),
        as_json,
        lambda items: "\n\n".join(render.revision_detail(i) for i in items),
    )


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


def _write_revision(database: str, autogenerate: bool, as_json: bool, **kw) -> None:
    from .commands import revision

    project = load_project()
    written = revision(project, _one(project, database), autogenerate=autogenerate, **kw)
    if not written and not as_json:
        click.echo(f"{database}: the models match the database; no revision written")
        return
    emit(written, as_json, lambda items: "\n".join(f"wrote {i.path}" for i in items))


@main.command("revision")
@click.argument("database")
@_authoring_options
@click.option("--autogenerate", is_flag=True, help="Compare the models with the database (at head).")
@project_options
@json_option
def revision_cmd(database: str, autogenerate: bool, as_json: bool, **kw) -> None:
    """Write a new revision file for one database.

    \b
    Examples:
      multidb revision catalog -m "add tags" --autogenerate
      multidb revision catalog -m "start archive" --head base \\
          --branch-label archive --version-path catalog_archive_versions
    """
    _write_revision(database, autogenerate, as_json, **kw)


@main.command("migrate")
@click.argument("database")
@_authoring_options
@project_options
@json_option
def migrate_cmd(database: str, as_json: bool, **kw) -> None:
    """Autogenerate a revision from the models (shorthand for revision --autogenerate).

    \b
    Example:
      multidb migrate catalog -m "add holdings.status"
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
    from .commands import merge

    project = load_project()
    written = merge(project, _one(project, database), revisions, message, branch_label, rev_id)
    emit(written, as_json, lambda items: "\n".join(f"wrote {i.path}" for i in items))


def _progress_reporter():
    from .progress import reporter_for

    return reporter_for(sys.stderr)


def _run_output(results, as_json: bool) -> None:
    emit(results, as_json, render.run_results)


sql_options = [
    click.option("--sql", is_flag=True, help="Write SQL files instead of connecting (one per database)."),
    click.option(
        "--output-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("sql"),
        show_default=True,
        help="Where --sql writes <database>.sql.",
    ),
]


def _with(options):
    def apply(f):
        for option in reversed(options):
            f = option(f)
        return f

    return apply


@main.command("upgrade")
@databases_arg
@all_option
@click.option(
    "--to",
    "target",
    default="heads",
    show_default=True,
    help="Target: heads, label@head, +N, an id or prefix; FROM:TO with --sql.",
)
@_with(sql_options)
@project_options
@json_option
def upgrade_cmd(databases, all_, target, sql, output_dir, as_json) -> None:
    """Upgrade databases to head, in depends_on order, stopping at the first failure.

    \b
    Examples:
      multidb upgrade --all
      multidb upgrade catalog --to +1
      multidb upgrade --all --sql --profile production   # sql/catalog.sql, sql/monitor.sql
    """
    from .commands import upgrade

    results = upgrade(
        load_project(), databases, all_, target, sql, output_dir, None if as_json else _progress_reporter()
    )
    _run_output(results, as_json)


@main.command("downgrade")
@databases_arg
@click.option("--to", "target", required=True, help="Target: base, -N, label@-N, an id; FROM:TO with --sql.")
@_with(sql_options)
@project_options
@json_option
def downgrade_cmd(databases, target, sql, output_dir, as_json) -> None:
    """Downgrade the named databases (never all by default).

    \b
    Examples:
      multidb downgrade catalog --to -1
      multidb downgrade catalog --to base
      multidb downgrade catalog --sql --to heads:base
    """
    from .commands import downgrade

    if not databases:
        raise UsageError("name the database(s) to downgrade")
    results = downgrade(load_project(), databases, target, sql, output_dir, None if as_json else _progress_reporter())
    _run_output(results, as_json)


@main.command("stamp")
@databases_arg
@click.option("--to", "target", required=True, help="Revision(s) to record, comma-separated; base or heads.")
@click.option("--purge", is_flag=True, help="Empty the version table first.")
@project_options
@json_option
def stamp_cmd(databases, target, purge, as_json) -> None:
    """Record a revision in the version table without running migrations.

    \b
    Example:
      multidb stamp catalog --to heads
    """
    from .commands import stamp

    if not databases:
        raise UsageError("name the database(s) to stamp")
    _run_output(stamp(load_project(), databases, target, purge), as_json)


@main.command("check")
@databases_arg
@all_option
@project_options
@json_option
def check_cmd(databases, all_, as_json) -> None:
    """Exit 1 when the models and the migrations differ, listing each difference.

    \b
    Examples:
      multidb check --all
      multidb check catalog
    """
    from .commands import check
    from .errors import DriftDetected

    try:
        results = check(load_project(), *_read_targets(databases, all_))
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

"""Read-only subcommands: list, status, current, heads, branches, history, show."""

from __future__ import annotations

import sys

import click

from .. import render
from ..errors import EXIT_FAILED
from . import emit, json_option, load_project, main, project_options
from .params import all_option, databases_arg, fleet_options, one_database, one_target, read_targets, with_options


@main.command("list")
@project_options
@json_option
def list_cmd(as_json: bool) -> None:
    """List the databases of the active profile (passwords masked).

    \b
    Example:
      multidb list --profile production
    """
    from ..commands import list_databases

    emit(list_databases(load_project()), as_json, render.databases)


@main.command("status")
@databases_arg
@all_option
@click.option("--check", is_flag=True, help="Exit 1 when any database is not at head (for deploy gates).")
@click.option("--targets", "list_targets", is_flag=True, help="Fleets: one row per target instead of a summary.")
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    help="SQLite: seconds to wait for a runner migrating the file (default: migration_lock_timeout, 300).",
)
@with_options(fleet_options)
@project_options
@json_option
def status_cmd(databases, all_, check, list_targets, lock_timeout, jobs, shard, as_json) -> None:
    """Show each database's current revisions, heads and pending count.

    \b
    Examples:
      multidb status --all
      multidb status catalog --json
      multidb status --all --check     # exit 1 if anything is pending
      multidb status tenants --targets --jobs 4
      multidb status --all --lock-timeout 5   # a SQLite file being migrated: wait 5 s at most
    """
    from ..commands import status

    items = status(load_project(), *read_targets(databases, all_), jobs=jobs, shard=shard, lock_timeout=lock_timeout)
    named_targets = any("/" in name for name in databases)
    emit(items, as_json, lambda found: render.statuses(found, targets=list_targets or named_targets))
    refused = ("error", "interrupted", "squashed away")  # upgrade refuses these until someone acts
    if any(s.state in refused for s in items) or (check and not all(s.up_to_date for s in items)):
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
    from ..commands import current

    items = current(load_project(), *read_targets(databases, all_))
    emit(items, as_json, render.currents)
    if any(s.state == "error" for s in items):
        sys.exit(EXIT_FAILED)


def _per_database(fetch, as_json: bool, databases: tuple[str, ...], all_: bool, line=render.revision_line) -> None:
    project = load_project()
    found = {db.name: fetch(project, db) for db in project.select(*read_targets(databases, all_))}
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
    from ..commands import heads

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
    from ..commands import branches

    _per_database(branches, as_json, databases, all_)


@main.command("history")
@click.argument("database")
@click.option("-r", "--rev-range", help="FROM:TO, e.g. base:head or c1a0:.")
@click.option("-i", "--indicate-current", is_flag=True, help="Mark the revisions the database is at (connects to it).")
@click.option("-v", "--verbose", is_flag=True, help="Each revision in full: parents, labels, path, docstring.")
@project_options
@json_option
def history_cmd(database: str, rev_range: str | None, indicate_current: bool, verbose: bool, as_json: bool) -> None:
    """List a database's revisions, newest first.

    \b
    Examples:
      multidb history catalog
      multidb history catalog -r base:catalog@head --json
      multidb history catalog -i -p production   # "(current)" marks where production is
      multidb history catalog -v                 # as 'multidb show' prints each revision
    """
    from ..commands import history

    project = load_project()
    found = history(project, one_database(project, database), rev_range, doc=verbose)
    current: tuple[str, ...] = ()
    if indicate_current:
        from ..runner import current_heads

        current = current_heads(one_target(project, database))
    if as_json:
        from ..results import to_json

        items = [{**to_json(i), **({"is_current": i.revision in current} if indicate_current else {})} for i in found]
        emit(items, True, str)
        return
    show = render.revision_detail if verbose else render.revision_line
    emit(
        found,
        False,
        lambda items: ("\n\n" if verbose else "\n").join(_marked(show(i), i.revision in current) for i in items),
    )


def _marked(text: str, current: bool) -> str:
    """``(current)`` at the end of a revision's first line."""
    first, newline, rest = text.partition("\n")
    return f"{first} (current){newline}{rest}" if current else text


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
    from ..commands import show

    project = load_project()
    emit(
        show(project, one_database(project, database), revision),
        as_json,
        lambda items: "\n\n".join(render.revision_detail(i) for i in items),
    )


@main.command("validate")
@databases_arg
@all_option
@click.option(
    "--accept",
    is_flag=True,
    help="Record the revision files as they are now (after you checked the edits), so upgrade runs again.",
)
@project_options
@json_option
def validate_cmd(databases: tuple[str, ...], all_: bool, accept: bool, as_json: bool) -> None:
    """Report applied revisions whose files were edited or deleted after they were applied.

    multidb keeps a sha256 of each applied revision file in a ledger table beside the version
    table. Exit 1 when any revision changed (or a database cannot be read).

    \b
    Examples:
      multidb validate --all
      multidb validate catalog --json
      multidb validate catalog --accept   # the edit was a comment: take the file as it is now
    """
    from ..commands.validate import validate  # (the package attribute may be the module)

    items = validate(load_project(), *read_targets(databases, all_), accept=accept)
    emit(items, as_json, render.validations)
    if any(v.error or (v.changed and not v.accepted) for v in items):
        sys.exit(EXIT_FAILED)


@main.command("lint")
@databases_arg
@all_option
@click.option("--since", metavar="REV", help="Check the revisions after REV (default: those not yet applied).")
@click.option("--all-revisions", "everything", is_flag=True, help="Check every revision of the history.")
@project_options
@json_option
def lint_cmd(databases: tuple[str, ...], all_: bool, since: str | None, everything: bool, as_json: bool) -> None:
    """Check revisions for operations that lock or break a live database; exit 1 on an error finding.

    Each revision is rendered offline for the database's dialect (nothing is changed). Rules:
    pg-index-not-concurrent, not-null-without-default, pg-fk-not-valid, contract-before-expand
    (errors); pg-set-not-null-scans, type-change-rewrites, mariadb-ddl-with-dml,
    rename-breaks-running-code, unbatched-update, sqlite-batch-rebuild-large, no-downgrade,
    not-rendered (warnings). By default the pending revisions are also checked against the live
    tables' sizes (lint_large_table_rows). Silence a rule in a revision with
    '# multidb: allow=RULE reason', or for a database with lint_allow in the config.

    \b
    Examples:
      multidb lint --all                       # the revisions each database has not applied yet
      multidb lint catalog --since c1a0f0a1b005
      multidb lint --all --all-revisions --json
    """
    from ..lint import lint

    if since and everything:
        raise click.UsageError("--since and --all-revisions do not go together")
    items = lint(load_project(), *read_targets(databases, all_), since=since, everything=everything)
    emit(items, as_json, render.lint_results)
    if any(item.errors for item in items):
        sys.exit(EXIT_FAILED)


@main.command("plan")
@databases_arg
@all_option
@project_options
@json_option
def plan_cmd(databases: tuple[str, ...], all_: bool, as_json: bool) -> None:
    """Show what 'upgrade' would do, changing nothing: per pending revision its SQL, statement by
    statement, the PostgreSQL lock each takes on which table, the table's size now, and lint findings.

    \b
    Examples:
      multidb plan --all
      multidb -p production plan catalog --json
      multidb upgrade --all --plan          # the same
    """
    from ..deploy_plan import plan

    emit(plan(load_project(), *read_targets(databases, all_)), as_json, render.plans)

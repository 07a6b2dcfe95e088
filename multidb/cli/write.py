"""Subcommands that change databases: upgrade, downgrade, stamp."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from .. import render
from ..errors import UsageError
from ..scratch import ADOPT_PREFIX, MAX_PREFIX
from . import emit, json_option, load_project, main, project_options
from .params import Seconds, all_option, databases_arg, fleet_options, with_options, with_x, x_option


def _progress_reporter():
    from ..progress import reporter_for

    return reporter_for(sys.stderr)


def _run_output(results, as_json: bool) -> None:
    emit(results, as_json, render.run_results)


@contextmanager
def _interruptible() -> Iterator[None]:
    """A write command with SIGINT/SIGTERM handled (see multidb.interrupts): exit 130 or 143."""
    from ..commands.migrate import Interrupted
    from ..interrupts import Stopped, handling

    try:
        with handling():
            yield
    except Stopped as e:
        raise Interrupted(e.signum, " (run 'multidb status' to see where each database stands)") from e


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


lock_timeout_option = click.option(
    "--lock-timeout",
    type=Seconds(),
    help="Seconds to wait for another runner's migration lock (default: migration_lock_timeout, 300).",
)
fail_fast_option = click.option(
    "--fail-fast", is_flag=True, help="Fleets: stop at the first failed target (default: the rest carry on)."
)
yes_option = click.option("--yes", "-y", is_flag=True, help="Confirm a change a protected profile guards.")
tag_option = click.option(
    "--tag",
    help="Alembic's tag argument, read in a revision with context.get_tag_argument(), e.g. --tag release-42.",
)
forget_option = click.option(
    "--forget-interrupted",
    is_flag=True,
    help="MariaDB/MySQL: you undid by hand what an interrupted revision had run; run it again from its start.",
)


def _options(
    project,
    *,
    from_current=False,
    allow_edited=False,
    jobs=1,
    shard=None,
    fail_fast=False,
    phase=None,
    sql=False,
    output_dir=None,
    as_json=False,
    lock_timeout=None,
    atomic=False,
    yes=False,
    action="",
    purge=False,
    tag=None,
    forget_interrupted=False,
):
    from ..commands import RunOptions

    confirmed = yes or _confirm_at_terminal(project, action)
    reporter = None if as_json or sql else _progress_reporter()
    return RunOptions(
        sql=sql,
        output_dir=output_dir,
        reporter=reporter,
        lock_timeout=lock_timeout,
        atomic=atomic,
        confirmed=confirmed,
        purge=purge,
        jobs=jobs,
        shard=shard,
        fail_fast=fail_fast,
        phase=phase,
        from_current=from_current,
        tag=tag,
        forget_interrupted=forget_interrupted,
        allow_edited=allow_edited,
    )


def _confirm_at_terminal(project, action: str) -> bool:
    if not (project.protected and action and sys.stdin.isatty()):
        return False
    return click.confirm(f"Profile '{project.profile}' is protected. Really {action}?", default=False, err=True)


def _handled(f):
    """The command's whole body runs with the signals handled."""
    import functools

    @functools.wraps(f)
    def run(*args, **kwargs):
        with _interruptible():
            return f(*args, **kwargs)

    return run


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
@click.option("--atomic", is_flag=True, help="Commit every database only if all succeed; else roll all back.")
@click.option(
    "--phase",
    type=click.Choice(["expand", "contract"]),
    help="expand: everything but contract steps (release before the new code); contract: the rest.",
)
@lock_timeout_option
@with_options(fleet_options)
@fail_fast_option
@with_options(sql_options)
@click.option(
    "--from-current",
    is_flag=True,
    help="With --sql: start at each database's current revision (read from it), not at base.",
)
@tag_option
@x_option
@forget_option
@click.option("--plan", "show_plan", is_flag=True, help="Show what would run (as 'multidb plan'); change nothing.")
@click.option(
    "--allow-edited",
    is_flag=True,
    help="Upgrade even past revisions edited or deleted after they were applied (a warning names each).",
)
@project_options
@json_option
@_handled
def upgrade_cmd(
    databases,
    all_,
    target,
    atomic,
    phase,
    lock_timeout,
    jobs,
    shard,
    fail_fast,
    sql,
    output_dir,
    from_current,
    tag,
    x_arguments,
    forget_interrupted,
    show_plan,
    allow_edited,
    as_json,
) -> None:
    """Upgrade databases to head, in depends_on order, stopping at the first failure.

    \b
    Examples:
      multidb upgrade --all
      multidb upgrade catalog --to +1
      multidb upgrade --all --atomic                     # all databases or none
      multidb upgrade --all --phase expand               # before deploying the new code
      multidb upgrade tenants --jobs 4 --shard 1/2       # half a fleet, 4 at a time
      multidb upgrade --all --sql --profile production   # sql/catalog.sql, sql/monitor.sql
      multidb -p production upgrade --all --sql --from-current   # only what each database lacks
      multidb upgrade --all --tag release-42             # context.get_tag_argument() in revisions
      multidb upgrade catalog -x tenant=acme             # multidb.x_arguments() in revisions
      multidb upgrade catalog --forget-interrupted       # MariaDB: a half-run revision was undone by hand
      multidb upgrade catalog --allow-edited             # 'multidb validate' reported an edited revision
      multidb upgrade --all --plan                       # what would run, with locks and sizes
    """
    from ..commands import upgrade

    project = with_x(load_project(), x_arguments)
    if show_plan:
        from ..deploy_plan import plan

        if sql or atomic or target != "heads":
            raise UsageError("--plan shows an upgrade to heads: it goes with no --sql, --atomic or --to")
        emit(plan(project, databases, all_ or not databases), as_json, render.plans)
        return
    if allow_edited and not sql:
        _warn_edited(project, databases, all_)
    options = _options(
        project,
        from_current=from_current,
        sql=sql,
        output_dir=output_dir,
        as_json=as_json,
        lock_timeout=lock_timeout,
        atomic=atomic,
        jobs=jobs,
        shard=shard,
        fail_fast=fail_fast,
        phase=phase,
        tag=tag,
        forget_interrupted=forget_interrupted,
        allow_edited=allow_edited,
    )
    _run_output(upgrade(project, databases, all_, target, options), as_json)


def _warn_edited(project, databases: tuple[str, ...], all_: bool) -> None:
    """``--allow-edited``: a warning line for each applied revision edited or deleted since."""
    from ..commands.validate import changed_revisions
    from ..errors import DatabaseError
    from ..fleet import select_targets
    from ..redact import scrub

    for db in select_targets(project, databases, all_) if databases or all_ else []:
        try:
            found = changed_revisions(project, db)
        except DatabaseError:
            continue  # the upgrade's own checks report it
        for item in found:
            line = f"multidb: warning: {item.describe()}; upgrading anyway (--allow-edited)"
            click.echo(scrub(line, db.secrets), err=True)


@main.command("downgrade")
@databases_arg
@click.option("--to", "target", required=True, help="Target: base, -N, label@-N, an id; FROM:TO with --sql.")
@click.option("--atomic", is_flag=True, help="With several databases: all or none.")
@lock_timeout_option
@yes_option
@with_options(sql_options)
@tag_option
@x_option
@forget_option
@project_options
@json_option
@_handled
def downgrade_cmd(
    databases, target, atomic, lock_timeout, yes, sql, output_dir, tag, x_arguments, forget_interrupted, as_json
) -> None:
    """Downgrade the named databases (never all by default).

    \b
    Examples:
      multidb downgrade catalog --to -1
      multidb downgrade catalog --to base
      multidb downgrade catalog --sql --to heads:base   # sql/catalog.downgrade.sql
      multidb downgrade catalog --to -1 --profile production --yes
      multidb downgrade catalog --to -1 -x keep_rows=yes
      multidb downgrade catalog --to -1 --forget-interrupted   # MariaDB: a half-run downgrade undone by hand
    """
    from ..commands import downgrade

    project, action = _named(databases, "downgrade", x_arguments)
    options = _options(
        project,
        sql=sql,
        output_dir=output_dir,
        as_json=as_json,
        lock_timeout=lock_timeout,
        atomic=atomic,
        yes=yes,
        action=action,
        tag=tag,
        forget_interrupted=forget_interrupted,
    )
    _run_output(downgrade(project, databases, target, options), as_json)


@main.command("stamp")
@databases_arg
@click.option("--to", "target", required=True, help="Revision(s) to record, comma-separated; base or heads.")
@click.option(
    "--purge",
    is_flag=True,
    help="Empty the version table first; also recovers a database at a revision no folder holds.",
)
@lock_timeout_option
@yes_option
@tag_option
@x_option
@project_options
@json_option
@_handled
def stamp_cmd(databases, target, purge, lock_timeout, yes, tag, x_arguments, as_json) -> None:
    """Record a revision in the version table without running migrations.

    On MariaDB/MySQL it also clears the record of a revision an interrupted run left half-applied:
    stamp the revision the schema now matches, after finishing or undoing that revision by hand.

    \b
    Examples:
      multidb stamp catalog --to heads
      multidb stamp catalog --to heads --purge   # its version row names a deleted revision
      multidb stamp catalog --to heads -x reason=restored   # for the hooks
      multidb stamp catalog --to c1a0f0a1b004   # MariaDB: c1a0f0a1b004 was finished by hand
    """
    from ..commands import stamp

    project, action = _named(databases, "stamp", x_arguments)
    options = _options(
        project, as_json=as_json, lock_timeout=lock_timeout, yes=yes, purge=purge, action=action, tag=tag
    )
    _run_output(stamp(project, databases, target, options), as_json)


def _named(databases: tuple[str, ...], verb: str, x_arguments: tuple[str, ...] = ()) -> tuple[Any, str]:
    """The project, and what is about to happen, for a command that never defaults to all databases."""
    if not databases:
        raise UsageError(f"name the database(s) to {verb}")
    return with_x(load_project(), x_arguments), f"{verb} " + ", ".join(databases)


@main.command("adopt")
@click.argument("database")
@click.option("--to", "to", metavar="REV", help="Stamp REV, after checking that its schema matches the database's.")
@click.option(
    "--scratch-prefix",
    metavar="PREFIX",
    default=ADOPT_PREFIX,
    show_default=True,
    help=f"Start the scratch database's name with PREFIX (a-z, 0-9 and _, at most {MAX_PREFIX}), e.g. a team's "
    "own on a shared server.",
)
@lock_timeout_option
@x_option
@project_options
@json_option
def adopt_cmd(database, to, scratch_prefix, lock_timeout, x_arguments, as_json) -> None:
    """Version a database whose tables exist but were not made by these migrations.

    Replays the migrations in a scratch database of the same dialect and stamps the revision
    whose schema matches. If several match (a data revision keeps the schema of the one before
    it), lists them and changes nothing: say which with --to. If none matches, lists the differences.

    \b
    Examples:
      multidb adopt catalog                      # a database created with metadata.create_all()
      multidb adopt catalog --to c1a0f0a1b005    # its data step (c1a0f0a1b006) has not run yet
      multidb adopt catalog --scratch-prefix team_a_adopt_   # on a server other teams share
      multidb adopt catalog -x tenant=acme       # -x values for the revisions it replays
    """
    from ..commands.adopt import adopt  # (the package attribute 'adopt' may be the module)

    _run_output([adopt(with_x(load_project(), x_arguments), database, lock_timeout, to, scratch_prefix)], as_json)

"""``multidb squash``: replace the oldest revisions of a database with one verified baseline."""

from __future__ import annotations

import click

from ..errors import EXIT_FAILED
from ..scratch import MAX_PREFIX
from . import emit, json_option, load_project, main, project_options


@main.command("squash")
@click.argument("database")
@click.option("--to", "to", required=True, metavar="REV", help="The last revision to squash (it keeps its id).")
@click.option(
    "--dialects",
    metavar="LIST",
    help="Verify on these dialects (comma-separated). Default: the plugin's multidb_dialects setting, else sqlite.",
)
@click.option("--dry-run", is_flag=True, help="Print the baseline and the comparison; change nothing.")
@click.option(
    "--scratch-prefix",
    default="multidb_squash_",
    show_default=True,
    help=f"Start the throwaway databases' names with PREFIX (a-z, 0-9 and _, at most {MAX_PREFIX}).",
)
@project_options
@json_option
def squash_cmd(database: str, to: str, dialects: str | None, dry_run: bool, scratch_prefix: str, as_json: bool) -> None:
    """Replace REV and every revision before it with one baseline revision.

    The baseline keeps REV's id, so databases at REV or past it have nothing to do, and the revisions
    after REV keep pointing at it. It is rendered by autogenerate from a replay of the old revisions,
    plus what autogenerate does not see (PostgreSQL enums, sequences and extensions, server defaults,
    reference rows, each dialect's views); a history that made what a baseline cannot carry (a trigger,
    a function, ...) is refused. On each dialect, the old revisions and the baseline run on two throwaway
    databases (the plugin's servers: MULTIDB_TEST_POSTGRESQL_URL, ...) and are compared; only if every
    dialect is equal are the old files deleted (git keeps them) and the baseline written. Otherwise
    nothing changes and the command exits 1 with the differences.

    \b
    Examples:
      multidb squash catalog --to c1a0f0a1b004 --dry-run
      multidb squash catalog --to c1a0f0a1b004 --dialects sqlite,postgresql,mariadb
      multidb squash catalog --to c1a0f0a1b004 --json
    """
    from ..commands.squash import squash
    from ..squashing.verify import summary

    chosen = tuple(d for d in (dialects or "").split(",") if d.strip()) or None
    result = squash(load_project(), database, to, chosen, dry_run, scratch_prefix)
    if as_json:
        emit(_json(result), True, str)
    else:
        if dry_run:
            click.echo(result.text)
        lines = [line for check in result.checks for line in summary(check)]
        click.echo("\n".join(lines))
        click.echo(_outcome(result))
    if not result.verified:
        click.get_current_context().exit(EXIT_FAILED)


def _json(result) -> dict:
    return {
        "database": result.database,
        "revision": result.revision,
        "replaced": result.replaced,
        "file": result.file,
        "removed": list(result.removed),
        "dry_run": result.dry_run,
        "verified": result.verified,
        "written": result.written,
        "baseline": result.text,
        "checks": [
            {"dialect": c.dialect, "equal": c.equal, "own_section": c.own_section, "categories": c.categories}
            for c in result.checks
        ],
    }


def _outcome(result) -> str:
    from ..runner import relative

    if not result.verified:
        return "the baseline differs from the old revisions: nothing was changed"
    if result.dry_run:
        return f"dry run: would remove {len(result.removed)} revision files and write {relative(result.file)}"
    return f"squashed {len(result.removed)} revisions into {relative(result.file)}"

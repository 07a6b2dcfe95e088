"""``multidb import``: write a multidb config for an Alembic or Flask-Migrate project; ``--split`` and
``--stamp`` move a lockstep (``multidb`` template) project onto one history per database."""

from __future__ import annotations

from pathlib import Path

import click

from . import emit, json_option, load_project, main, project_options


@main.command("import")
@click.argument("path", required=False, default=".", type=click.Path(file_okay=True, dir_okay=True))
@click.option("--split", "do_split", is_flag=True, help="Split a lockstep (multidb template) history per database.")
@click.option("--out", type=click.Path(file_okay=False), help="With --split: where the DB_versions folders go.")
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@click.option(
    "--verify-on",
    default="sqlite",
    show_default=True,
    help="With --split: dialects to replay both histories on (e.g. sqlite,postgresql); 'none' to skip.",
)
@click.option("--stamp", "do_stamp", is_flag=True, help="Move each database's version row to its split history.")
@click.option("--map", "map_file", type=click.Path(dir_okay=False), help="With --stamp: the revision map file.")
@click.option("--yes", "-y", is_flag=True, help="With --stamp: confirm it on a protected profile.")
@project_options
@json_option
def import_cmd(path, do_split, out, force, verify_on, do_stamp, map_file, yes, as_json) -> None:
    """Move an Alembic or Flask-Migrate project onto multidb; its revision files stay as they are.

    Reads PATH/alembic.ini (or PATH/migrations/alembic.ini) and writes config/multidb.yaml: one database
    per ini section or engine, each sqlalchemy.url as a ${VAR} reference (never copied). It lists
    what env.py did that the config must now say. A lockstep history (Alembic's multidb template,
    Flask-Migrate --multidb) needs --split: one history per database, a revision map, and a replay
    of both histories from empty whose schemas are compared. Then --stamp moves each live
    database's version row onto its new history, one transaction per database.

    \b
    Examples:
      multidb import                         the project in this folder
      multidb import ../legacy --force       overwrite config/multidb.yaml
      multidb import --split --verify-on sqlite,postgresql
      multidb import --stamp -p production   after --split, on the live databases
    """
    if do_stamp:
        if do_split:
            raise click.UsageError("--split and --stamp are separate steps: split, review and commit, then stamp")
        _stamp(map_file, yes, as_json)
        return
    from ..importing.run import import_project

    ctx = click.get_current_context()
    config = ctx.meta.get("multidb.config")
    report = import_project(Path(path), Path(config) if config else None, do_split, Path(out) if out else None, force)
    dialects = tuple(d.strip() for d in verify_on.split(",") if d.strip() and d.strip() != "none")
    from ..importing.report import as_data, as_text, comparison_text

    if not as_json:  # what was written is shown before the replay, which may take a while (or fail)
        emit(report, False, as_text)
    if report.split is not None and dialects:
        import dataclasses

        from ..importing.verify import verify

        report = dataclasses.replace(report, verification=verify(report.plan.source, report.plan.config_path, dialects))
        if not as_json:
            emit(report.verification, False, comparison_text)
    if as_json:
        emit(as_data(report), True, str)
    if any(not c.same for c in report.verification):
        ctx.exit(1)


def _stamp(map_file: str | None, yes: bool, as_json: bool) -> None:
    from ..errors import UsageError
    from ..importing.report import stamped_text
    from ..importing.stamping import MAP_NAME, read_map, stamp_all

    project = load_project()
    if project.protected and not yes:
        raise UsageError(
            f"profile '{project.profile}' is protected: import --stamp rewrites version rows, so it needs --yes"
        )
    mapping = read_map(Path(map_file) if map_file else project.path.parent / MAP_NAME)
    emit(stamp_all(project, mapping), as_json, stamped_text)

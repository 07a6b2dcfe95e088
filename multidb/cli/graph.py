"""``multidb graph``: draw each database's revision graph to an HTML page, an SVG file or JSON."""

from __future__ import annotations

from pathlib import Path

import click

from . import emit, json_option, load_project, main, project_options
from .params import all_option, databases_arg, read_targets


@main.command("graph")
@databases_arg
@all_option
@click.option("--html", "html_file", type=click.Path(dir_okay=False), help="Write one self-contained HTML page here.")
@click.option("--svg", "svg_file", type=click.Path(dir_okay=False), help="Write one standalone SVG file here.")
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Fleet targets to read at once."
)
@project_options
@json_option
def graph_cmd(databases, all_, html_file, svg_file, jobs, as_json) -> None:
    """Draw each database's revision graph and where it (or each fleet target) stands.

    Bases, branch labels, merge points, depends_on, expand and contract steps; for a fleet, how many
    targets are at each revision and which could not be read. Databases are only read, never changed.

    \b
    Examples:
      multidb graph --all --html graph.html
      multidb graph catalog --svg catalog.svg
      multidb graph tenants --jobs 4 --html tenants.html
      multidb graph --all --json
    """
    if not (html_file or svg_file or as_json):
        raise click.UsageError("say what to write: --html FILE, --svg FILE or --json")
    from .. import graph_page as drawing
    from ..commands.graph import graph  # (the package attribute 'graph' may be the module)

    project = load_project()
    graphs = graph(project, *read_targets(databases, all_), jobs=jobs)
    title = f"multidb graph: {project.path.name}" + (f" ({project.profile})" if project.profile else "")
    written = []
    if html_file:
        written.append(_write(Path(html_file), drawing.html_page(graphs, title)))
    if svg_file:
        written.append(_write(Path(svg_file), drawing.svg_document(graphs)))
    if as_json:
        emit(graphs, True, str)  # stdout is the JSON only
    else:
        _say_written(written, len(graphs))
    _warn_unknown(graphs)


def _say_written(paths: list[Path], count: int) -> None:
    """One line per file written (none under -q/--quiet or MULTIDB_QUIET)."""
    from ..progress import quiet

    databases = f"{count} database{'s' if count != 1 else ''}"
    if not quiet():
        for path in paths:
            emit(path, False, lambda p: f"wrote graph of {databases} to {p}")


def _warn_unknown(graphs: list) -> None:
    """The picture is drawn either way (exit 0); stderr says what it could not read."""
    from ..redact import scrub

    secrets = click.get_current_context().meta.get("multidb.secrets", ())
    for g in graphs:
        unknown = [p for p in g.positions if p.state == "unknown"]
        if g.error:
            lines = [f"{g.name}: targets unknown: {g.error}"]
        elif g.fleet and unknown:
            lines = [f"{g.name}: {len(unknown)} of {len(g.positions)} targets unknown (see the summary)"]
        else:
            lines = [f"{p.name}: unknown: {p.error}" for p in unknown]
        for line in lines:
            click.echo(scrub(f"multidb: warning: {line}", secrets), err=True)


def _write(path: Path, document: str) -> Path:
    import html

    from ..errors import MultiDBError
    from ..redact import scrub

    secrets = click.get_current_context().meta.get("multidb.secrets", ())
    try:
        path.write_text(scrub(document, [*secrets, *(html.escape(s) for s in secrets if s)]), encoding="utf-8")
    except OSError as e:
        raise MultiDBError(f"cannot write {path}: {e.strerror or e}") from e
    return path

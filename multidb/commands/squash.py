"""``multidb squash DB --to REV``: replace REV and its ancestors with one verified baseline revision.

Plan (which revisions, or a refusal), then replay the old history to REV on a throwaway database per
dialect, render the baseline from one replay, apply it on a second throwaway database per dialect and
compare; only when every dialect compares equal are the files changed.
"""

from __future__ import annotations

import dataclasses
import datetime
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Database, Project
from ..errors import DatabaseError, UsageError
from ..scratch import check_prefix
from ..squashing import replay
from ..squashing.replay import BASELINE_SUFFIX

if TYPE_CHECKING:
    from ..squashing.plan import Squash
    from ..squashing.render import Baseline, Tables

SQUASH_PREFIX = "multidb_squash_"
# the dialect whose replay the generic body is rendered from, when tested: it reflects the most
# (constraint names, enum types); SQLite's DDL text keeps names too
SOURCE_ORDER = ("postgresql", "sqlite", "mariadb", "mysql")


@dataclass(frozen=True)
class SquashResult:
    database: str
    revision: str
    replaced: dict[str, str]  # revision id -> message, oldest first
    dialects: tuple[str, ...]
    checks: tuple[Any, ...]  # verify.DialectCheck per dialect
    file: str  # the baseline's path (written unless dry_run or not verified)
    removed: tuple[str, ...]
    text: str = field(repr=False)
    dry_run: bool = False
    written: bool = False

    @property
    def verified(self) -> bool:
        return all(c.equal for c in self.checks)


def squash(
    project: Project,
    name: str,
    to: str,
    dialects: tuple[str, ...] | None = None,
    dry_run: bool = False,
    prefix: str = SQUASH_PREFIX,
) -> SquashResult:
    """Squash database ``name`` up to ``to`` (see the module docstring); returns what was compared."""
    from ..squashing.plan import plan
    from ..testing.dialects import parse_dialects

    try:
        check_prefix(prefix)
    except ValueError as e:
        raise UsageError(f"--scratch-prefix: {e}") from e
    db = project.select([name])[0]  # a fleet entry is replayed on one representative target (as the plugin does)
    try:
        dialects = parse_dialects(",".join(dialects)) if dialects else project_dialects(project)
    except ValueError as e:
        raise UsageError(f"--dialects: {e}") from e
    script = _history(project, db)
    planned = plan(db, script, to)
    with tempfile.TemporaryDirectory(prefix="multidb-squash-") as tmp, replay.Scratch(Path(tmp), prefix) as scratch:
        text, checks = _build(project, db, planned, dialects, scratch, Path(tmp))
    target = planned.folder / f"{planned.revision}{BASELINE_SUFFIX}"
    result = SquashResult(
        database=db.name,
        revision=planned.revision,
        replaced=dict(planned.replaced),
        dialects=dialects,
        checks=tuple(checks),
        file=str(target),
        removed=tuple(str(p) for p in planned.files),
        text=text,
        dry_run=dry_run,
    )
    if dry_run or not result.verified:
        return result
    _write(project, planned, target, text)
    return dataclasses.replace(result, written=True)


def project_dialects(project: Project) -> tuple[str, ...]:
    """The dialects the project's plugin tests: ``multidb_dialects`` in the pytest settings found upwards
    from the config file (pyproject.toml, pytest.ini, tox.ini, setup.cfg), else ``sqlite``."""
    from ..testing.dialects import parse_dialects

    for folder in [project.path.parent, *project.path.parent.parents]:
        found = _ini_dialects(folder)
        if found:
            return parse_dialects(found)
    return ("sqlite",)


def _ini_dialects(folder: Path) -> str | None:
    import configparser
    import tomllib

    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            data = {}
        value = data.get("tool", {}).get("pytest", {}).get("ini_options", {}).get("multidb_dialects")
        if value:
            return str(value)
    for file_name, section in (("pytest.ini", "pytest"), ("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        path = folder / file_name
        if path.is_file():
            parser = configparser.ConfigParser()
            try:
                parser.read(path, encoding="utf-8")
            except configparser.Error:
                continue
            if parser.has_option(section, "multidb_dialects"):
                return parser.get(section, "multidb_dialects")
    return None


def _history(project: Project, db: Database) -> Any:
    from ..runner import load_history

    try:
        return load_history(project, db)
    except DatabaseError as e:
        if "share an id" in str(e):
            raise UsageError(str(e)) from e
        raise


def _build(
    project: Project, db: Database, planned: Squash, dialects: tuple[str, ...], scratch: replay.Scratch, tmp: Path
) -> tuple[str, list[Any]]:
    """The baseline's text and each dialect's comparison: the generic body first, then a section of its
    own for each dialect that body does not match (kept only when it makes that dialect equal)."""
    from ..squashing import render
    from ..squashing.project_types import rendering

    settings = rendering(project, db)
    old = {}
    for dialect in dialects:
        old[dialect] = replay.replay(project, db, planned.revision, dialect, scratch)
        _refuse_uncarried(planned, old[dialect])
    source = next((d for d in SOURCE_ORDER if d in dialects), dialects[0])
    generic = replay.render_body(old[source], scratch, generic=True, rendering=settings)
    parts = _parts(planned, dialects, old, source, generic)
    text = render.file_text(parts)
    checks = {d: replay.check(project, db, planned, text, old[d], scratch, tmp) for d in dialects}
    for dialect in [d for d in dialects if not checks[d].equal]:
        own = replay.render_body(old[dialect], scratch, generic=False, rendering=settings)
        trial = dataclasses.replace(parts, per_dialect={**parts.per_dialect, dialect: own})
        if replay.check(project, db, planned, render.file_text(trial), old[dialect], scratch, tmp).equal:
            parts = trial
    if parts.per_dialect:  # the final file, with its sections, compared again on every dialect
        text = render.file_text(parts)
        checks = {d: replay.check(project, db, planned, text, old[d], scratch, tmp) for d in dialects}
        for dialect in parts.per_dialect:
            checks[dialect] = dataclasses.replace(checks[dialect], own_section=True)
    return render.file_text(parts), [checks[d] for d in dialects]


def _refuse_uncarried(planned: Squash, old: replay.Replay) -> None:
    """A usage error (exit 2, before any file changes) when the replay made what the baseline would lose."""
    from ..errors import printable

    if old.uncarried:
        raise UsageError(
            printable(
                f"cannot squash {planned.database} to {planned.revision}: the replay on {old.dialect} made objects "
                f"a baseline cannot carry: {', '.join(old.uncarried)} (squash up to a revision before them, or keep "
                "these revisions)"
            )
        )


def _parts(
    planned: Squash, dialects: tuple[str, ...], old: dict[str, replay.Replay], source: str, generic: Tables
) -> Baseline:
    """The baseline with the generic body: rows from the source's replay, PostgreSQL's objects from its own,
    each dialect's views from its own."""
    from ..squashing import capture, render

    imports = render.Imports()
    with replay.connected(old[source].url) as conn:
        metadata = capture.schema_metadata(conn, old[source].keep, generic=False)
    pg = old.get("postgresql")
    pg_next = pg.state.next_ids if pg is not None else None
    rows, resets = render.rows_code(metadata, old[source].state.rows, imports, pg_next)
    before, after, drops = [], [], []
    if pg is not None:
        before, after = render.postgresql_code(pg.state, generic.enum_names, resets)
        drops = render.postgresql_drops(pg.state, generic.enum_names)
    views = {d: render.view_code(d, old[d].state.views) for d in dialects if old[d].state.views}
    return render.Baseline(
        squash=planned,
        when=datetime.datetime.now(datetime.UTC).replace(tzinfo=None),
        dialects=dialects,
        tables=generic,
        per_dialect={},
        rows=rows,
        imports=frozenset(imports.modules),
        pg_before=tuple(before),
        pg_after=tuple(after),
        pg_drops=tuple(drops),
        views={d: creates for d, (creates, _) in views.items()},
        view_drops={d: drops for d, (_, drops) in views.items()},
    )


def _write(project: Project, planned: Squash, target: Path, text: str) -> None:
    """Remove the replaced revision files and write the baseline (post-write hooks run on it)."""
    from .. import hooks

    post_write = hooks.commands(project)
    for path in planned.files:
        path.unlink()
        cached = path.parent / "__pycache__"
        for stale in cached.glob(f"{path.stem}.*.pyc") if cached.is_dir() else ():
            stale.unlink()
    target.write_text(text, encoding="utf-8")
    hooks.run(project, post_write, [str(target)])
    from ..alembic_config import forget_scripts

    forget_scripts(project.databases[planned.database])

"""``multidb squash DB --to REV``: replace REV and its ancestors with one verified baseline revision.

Plan (which revisions, or a refusal), then replay the old history to REV on a throwaway database per
dialect, render the baseline from one replay, apply it on a second throwaway database per dialect and
compare; only when every dialect compares equal are the files changed.
"""

from __future__ import annotations

import dataclasses
import datetime
import shutil
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Database, Project
from ..errors import DatabaseError, MultiDBError, UsageError
from ..scratch import check_prefix

SQUASH_PREFIX = "multidb_squash_"
BASELINE_SUFFIX = "_squashed_baseline.py"
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
    with tempfile.TemporaryDirectory(prefix="multidb-squash-") as tmp, _Scratch(Path(tmp), prefix) as scratch:
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


class _Scratch:
    """Throwaway databases per dialect (the plugin's :class:`~multidb.testing.dialects.Servers`), all
    dropped at the end."""

    def __init__(self, folder: Path, prefix: str):
        from ..testing.dialects import Servers, server_urls

        self.servers = Servers(server_urls(), folder / "sqlite", prefix=prefix)
        self.stack = ExitStack()

    def __enter__(self) -> _Scratch:
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.stack.close()
        finally:
            self.servers.close()

    def database(self, dialect: str) -> str:
        from ..testing.dialects import ServerUnavailable

        try:
            return self.stack.enter_context(self.servers.database(dialect))
        except ServerUnavailable as e:
            raise MultiDBError(f"cannot verify the squash on {dialect}: {e}; nothing was changed") from e


@dataclass
class _Replay:
    dialect: str
    url: str
    keep: Any
    state: Any


def _build(
    project: Project, db: Database, planned: Any, dialects: tuple[str, ...], scratch: _Scratch, tmp: Path
) -> tuple[str, list[Any]]:
    from ..squashing import render

    old = {d: _replay(project, db, planned.revision, d, scratch) for d in dialects}
    source = next((d for d in SOURCE_ORDER if d in dialects), dialects[0])
    generic = _tables(old[source], scratch, generic=True)
    parts = _parts(planned, dialects, old, source, generic)
    text = render.file_text(parts)
    checks = {d: _check(project, db, planned, text, old[d], scratch, tmp) for d in dialects}
    for dialect in [d for d in dialects if not checks[d].equal]:
        own = _tables(old[dialect], scratch, generic=False)
        trial = dataclasses.replace(parts, per_dialect={**parts.per_dialect, dialect: own})
        if _check(project, db, planned, render.file_text(trial), old[dialect], scratch, tmp).equal:
            parts = trial
    if parts.per_dialect:  # the final file, with its sections, compared again on every dialect
        text = render.file_text(parts)
        checks = {d: _check(project, db, planned, text, old[d], scratch, tmp) for d in dialects}
        for dialect in parts.per_dialect:
            checks[dialect] = dataclasses.replace(checks[dialect], own_section=True)
    return render.file_text(parts), [checks[d] for d in dialects]


def _parts(planned: Any, dialects: tuple[str, ...], old: dict[str, _Replay], source: str, generic: Any) -> Any:
    """The baseline with the generic body: rows from the source's replay, PostgreSQL's objects from its own."""
    import sqlalchemy as sa

    from ..squashing import capture, render

    imports = render.Imports()
    with sa.create_engine(_sync(old[source].url)).connect() as conn:
        metadata = capture.schema_metadata(conn, old[source].keep, generic=False)
    pg = old.get("postgresql")
    pg_next = pg.state.next_ids if pg is not None else None
    rows, resets = render.rows_code(metadata, old[source].state.rows, imports, pg_next)
    before, after, drops = [], [], []
    if pg is not None:
        before, after = render.postgresql_code(pg.state, generic.enum_names, resets)
        drops = render.postgresql_drops(pg.state, generic.enum_names)
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
    )


def _sync(url: str) -> Any:
    from ..engines import sync_url

    return sync_url(url)


def _tables(replay: _Replay, scratch: _Scratch, generic: bool) -> Any:
    import sqlalchemy as sa

    from ..squashing import capture, render

    with sa.create_engine(_sync(replay.url)).connect() as conn:
        metadata = capture.schema_metadata(conn, replay.keep, generic=generic)
    empty = scratch.database(replay.dialect)
    engine = sa.create_engine(_sync(empty))
    try:
        with engine.connect() as conn:
            return render.render_tables(metadata, conn)
    finally:
        engine.dispose()


def _replay(project: Project, db: Database, to: str, dialect: str, scratch: _Scratch) -> _Replay:
    """The old history up to ``to`` on a new throwaway database of ``dialect``, and what it holds."""
    url = scratch.database(dialect)
    failure = f"replaying the revisions up to {to} on {dialect} fails"
    try:
        keep = _migrate(project, db, url, to, failure)
    except MultiDBError as e:
        raise MultiDBError(f"{e.lines()[0]}; nothing was changed") from e
    return _Replay(dialect, url, keep, _state(url, keep))


def _migrate(project: Project, db: Database, url: str, to: str, failure: str) -> Any:
    """Upgrade ``db`` (its same-database dependencies first, to heads) on ``url``; the filter of the tables
    the squash is about: not multidb's bookkeeping, not a dependency's, not excluded by the config."""
    import sqlalchemy as sa

    from ..commands import upgrade
    from ..customize import table_filter
    from ..environment import bookkeeping_names
    from ..testing.dialects import dependencies, retarget

    copy = retarget(project, db.name, url)
    try:
        for dep in dependencies(copy, db.name):
            upgrade(copy, (dep,), to="heads")
        engine = sa.create_engine(_sync(url))
        with engine.connect() as conn:
            neighbours = set(sa.inspect(conn).get_table_names())
        engine.dispose()
        upgrade(copy, (db.name,), to=to)
    except MultiDBError as e:
        raise MultiDBError(f"{db.name}: {failure}: {e.lines()[0]}") from e
    finally:
        from .. import engines

        engines.close_shared()
    skip = bookkeeping_names(db.version_table) | neighbours
    wanted = table_filter(project, db)
    return lambda name: name not in skip and wanted(name, None)


def _state(url: str, keep: Any) -> Any:
    import sqlalchemy as sa

    from ..squashing import capture

    engine = sa.create_engine(_sync(url))
    try:
        with engine.connect() as conn:
            return capture.read_state(conn, keep)
    finally:
        engine.dispose()


def _check(project: Project, db: Database, planned: Any, text: str, old: _Replay, scratch: _Scratch, tmp: Path) -> Any:
    """Apply the baseline (in a copy of the version folders) on a new database of the dialect; compare."""
    from ..squashing import verify

    folders = tmp / f"history-{len(list(tmp.glob('history-*')))}"
    new_db = _squashed_copy(db, planned, text, folders)
    new_project = dataclasses.replace(project, databases={**project.databases, db.name: new_db})
    url = scratch.database(old.dialect)
    try:
        _migrate(new_project, new_db, url, planned.revision, "the baseline fails")
    except MultiDBError as e:
        failed = verify.Category("baseline upgrade", None, (e.lines()[0],))
        return verify.DialectCheck(old.dialect, (failed,))
    finally:
        from ..alembic_config import forget_scripts

        forget_scripts(new_db)
    check = verify.compare(old.dialect, old.state, _state(url, old.keep))
    left = _downgrade_leftovers(new_project, new_db, url, old.keep)
    return dataclasses.replace(check, categories=(*check.categories, verify.Category("downgrade to base", None, left)))


def _downgrade_leftovers(project: Project, db: Database, url: str, keep: Any) -> tuple[str, ...]:
    """The baseline's downgrade to base: what it fails with, or the tables and types it leaves."""
    import sqlalchemy as sa

    from ..squashing import capture
    from ..testing.dialects import retarget
    from . import RunOptions, downgrade

    try:
        downgrade(retarget(project, db.name, url), (db.name,), to="base", options=RunOptions(confirmed=True))
    except MultiDBError as e:
        return (f"the downgrade to base fails: {e.lines()[0]}",)
    finally:
        from .. import engines

        engines.close_shared()
    engine = sa.create_engine(_sync(url))
    try:
        with engine.connect() as conn:
            tables = [n for n in sa.inspect(conn).get_table_names() if keep(n)]
            types = list(capture.enums(conn))
    finally:
        engine.dispose()
    return tuple(
        f"the downgrade to base leaves {kind} {name}"
        for kind, names in (("table", tables), ("enum", types))
        for name in names
    )


def _squashed_copy(db: Database, planned: Any, text: str, folder: Path) -> Database:
    """``db`` with its version folders copied under ``folder``, the squash applied to the copies."""
    bases = []
    moved = {}
    for i, base in enumerate(db.bases):
        copy = folder / f"base{i}"
        if base.path.is_dir():
            shutil.copytree(base.path, copy, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            copy.mkdir(parents=True)
        moved[base.path.resolve()] = copy
        bases.append(dataclasses.replace(base, path=copy))
    for path in planned.files:
        _relocated(path, moved).unlink()
    (_relocated(planned.folder / "x", moved).parent / f"{planned.revision}{BASELINE_SUFFIX}").write_text(
        text, encoding="utf-8"
    )
    return dataclasses.replace(db, bases=tuple(bases))


def _relocated(path: Path, moved: dict[Path, Path]) -> Path:
    resolved = path.resolve()
    for original, copy in moved.items():
        if resolved.is_relative_to(original):
            return copy / resolved.relative_to(original)
    raise MultiDBError(f"{path} is in none of the database's version folders")


def _write(project: Project, planned: Any, target: Path, text: str) -> None:
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

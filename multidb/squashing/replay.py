"""The throwaway databases of a squash: the old history replayed, the baseline applied, the two compared.

Server databases come from the plugin's :class:`~multidb.testing.dialects.Servers` (the same admin URLs and
environment variables), all dropped when the squash ends.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Database, Project
from ..errors import MultiDBError

if TYPE_CHECKING:
    from .plan import Squash

BASELINE_SUFFIX = "_squashed_baseline.py"


class Scratch:
    """Throwaway databases per dialect (the plugin's :class:`~multidb.testing.dialects.Servers`), all
    dropped at the end."""

    def __init__(self, folder: Path, prefix: str):
        from ..testing.dialects import Servers, server_urls

        self.servers = Servers(server_urls(), folder / "sqlite", prefix=prefix)
        self.stack = ExitStack()
        self.accounts: dict[str, set[Any]] = {}  # dialect -> the roles and users the replays made
        self.dialects: dict[str, str] = {}  # a server database's URL -> its dialect

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc: Any) -> None:
        from . import accounts

        try:
            self.stack.close()
        finally:
            try:
                self.servers.close()
            finally:  # after the databases: a PostgreSQL role can't go while it owns objects in one
                for dialect, made in self.accounts.items():
                    accounts.drop(self.servers.urls[dialect], sorted(made))

    def database(self, dialect: str) -> str:
        from ..testing.dialects import ServerUnavailable

        try:
            url = self.stack.enter_context(self.servers.database(dialect))
        except ServerUnavailable as e:
            raise MultiDBError(
                f"cannot verify the squash on {dialect}: {e}; nothing was changed (--dialects names where to verify)"
            ) from e
        if dialect != "sqlite":
            self.dialects[url] = dialect
        return url

    def tracker(self, url: str, named: Any) -> Any:
        """An :class:`~.accounts.Tracker` of the server of ``url`` (a database of this scratch), None for SQLite."""
        from . import accounts

        return accounts.Tracker(url, named) if url in self.dialects else None

    def forget(self, url: str, made: Any) -> None:
        """Drop the accounts ``made`` on ``url``'s server when the scratch closes."""
        self.accounts.setdefault(self.dialects[url], set()).update(made)


@dataclass
class Replay:
    """The old history replayed to REV on one dialect: where, which tables count, and what it left;
    ``uncarried``: what the history made that a baseline cannot carry (see :mod:`.objects`)."""

    dialect: str
    url: str
    keep: Any
    state: Any
    uncarried: tuple[str, ...] = ()


@contextmanager
def connected(url: str) -> Iterator[Any]:
    """A connection to a throwaway database (its engine disposed afterwards)."""
    import sqlalchemy as sa

    from ..engines import sync_url

    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def render_body(replay: Replay, scratch: Scratch, generic: bool, rendering: Any = None) -> Any:
    """Autogenerate's tables from ``replay`` (generic types, or the dialect's own), against an empty database,
    with the project's rendering settings (a :class:`~.project_types.Rendering`)."""
    from . import capture, render

    with connected(replay.url) as conn:
        metadata = capture.schema_metadata(conn, replay.keep, generic=generic)
    with connected(scratch.database(replay.dialect)) as conn:
        return render.render_tables(metadata, conn, rendering)


def replay(project: Project, db: Database, to: str, dialect: str, scratch: Scratch) -> Replay:
    """The old history up to ``to`` on a new throwaway database of ``dialect``, and what it holds."""
    url = scratch.database(dialect)
    failure = f"replaying the revisions up to {to} on {dialect} fails"
    made: list[str] = []
    try:
        keep = _migrate(project, db, url, to, failure, made, scratch)
    except MultiDBError as e:
        raise MultiDBError(f"{e.lines()[0]}; nothing was changed") from e
    return Replay(dialect, url, keep, _state(url, keep), tuple(made))


def _migrate(
    project: Project,
    db: Database,
    url: str,
    to: str,
    failure: str,
    made: list[str] | None = None,
    scratch: Scratch | None = None,
) -> Any:
    """Upgrade ``db`` (its same-database dependencies first, to heads) on ``url``; the filter of the tables
    the squash is about: not multidb's bookkeeping, not a dependency's, not excluded by the config, not the
    shadow tables of a SQLite virtual table.
    ``made`` gets the objects :func:`.objects.found` reports that ``db``'s revisions made (not a dependency),
    then what :mod:`.accounts` puts down to the upgrade on the server (roles, users, settings, global grants;
    a dependency's too); the accounts are left to ``scratch`` to drop."""
    import sqlalchemy as sa

    from ..commands import upgrade
    from ..customize import table_filter
    from ..environment import bookkeeping_names
    from ..testing.dialects import dependencies
    from . import accounts, objects

    copy = _on_scratch(project, db.name, url)
    bookkeeping = bookkeeping_names(db.version_table)
    wanted = table_filter(project, db)
    neighbours: set[str] = set()

    def keep_object(name: str, schema: str | None) -> bool:
        if schema is None:
            return name not in bookkeeping | neighbours and wanted(name, None)
        return not (schema == db.version_table_schema and name in bookkeeping) and wanted(name, schema)

    server = scratch.tracker(url, _names_in(copy, db.name)) if scratch is not None else None
    changed = accounts.Changes()
    try:
        for dep in dependencies(copy, db.name):
            upgrade(copy, (dep,), to="heads")
        with connected(url) as conn:
            inspector = sa.inspect(conn)
            neighbours = {*inspector.get_table_names(), *inspector.get_view_names()}
            earlier = objects.found(conn, keep_object) if made is not None else ()
        upgrade(copy, (db.name,), to=to)
    except MultiDBError as e:
        raise MultiDBError(f"{db.name}: {failure}: {e.lines()[0]}") from e
    finally:
        from .. import engines

        engines.close_shared()
        if server is not None and scratch is not None:
            changed = server.finish()
            scratch.forget(url, changed.accounts)
    with connected(url) as conn:
        if made is not None:
            made.extend(o for o in objects.found(conn, keep_object) if o not in earlier)
            made.extend(changed.labels)
        shadows = objects.sqlite_shadow_tables(conn)  # a virtual table's own, never the baseline's
    skip = bookkeeping | neighbours | shadows
    return lambda name: name not in skip and wanted(name, None)


def _names_in(project: Project, name: str) -> Any:
    """Whether a name is written in the version folders of database ``name`` or of its same-database
    dependencies (which :func:`_migrate` upgrades too)."""
    from ..testing.dialects import dependencies
    from .accounts import named_in

    names = [*dependencies(project, name), name]
    return named_in(base.path for other in names for base in project.databases[other].bases)


def _on_scratch(project: Project, name: str, url: str) -> Project:
    """``project`` with database ``name`` (and its same-database dependencies) at ``url``, each in that
    database's default schema: a fleet by schema runs its revisions with the tenant's schema on the search
    path, so they make the same tables there as in a tenant's, and the baseline, read from the default
    schema, serves every tenant (a tenant's schema would put its name into the baseline, or hide the tables
    from what the squash reads)."""
    from ..testing.dialects import retarget

    copy = retarget(project, name, url)
    databases = {}
    for other, target in copy.databases.items():
        original = project.databases[other]
        if original.fleet is not None and original.fleet.by == "schema":
            target = dataclasses.replace(target, schema=None, version_table_schema=original.version_table_schema)
        databases[other] = target
    return dataclasses.replace(copy, databases=databases)


def _state(url: str, keep: Any) -> Any:
    from . import capture

    with connected(url) as conn:
        return capture.read_state(conn, keep)


def check(project: Project, db: Database, planned: Squash, text: str, old: Replay, scratch: Scratch, tmp: Path) -> Any:
    """Apply the baseline (in a copy of the version folders) on a new database of the dialect; compare."""
    from . import verify

    folders = tmp / f"history-{len(list(tmp.glob('history-*')))}"
    new_db = _squashed_copy(db, planned, text, folders)
    new_project = dataclasses.replace(project, databases={**project.databases, db.name: new_db})
    url = scratch.database(old.dialect)
    try:
        _migrate(new_project, new_db, url, planned.revision, "the baseline fails", scratch=scratch)
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
    """The baseline's downgrade to base: what it fails with, or the tables, types and views it leaves."""
    import sqlalchemy as sa

    from ..commands import RunOptions, downgrade
    from . import capture

    try:
        downgrade(_on_scratch(project, db.name, url), (db.name,), to="base", options=RunOptions(confirmed=True))
    except MultiDBError as e:
        return (f"the downgrade to base fails: {e.lines()[0]}",)
    finally:
        from .. import engines

        engines.close_shared()
    with connected(url) as conn:
        tables = [n for n in sa.inspect(conn).get_table_names() if keep(n)]
        types = list(capture.enums(conn))
        views = list(capture.views(conn, keep))
    return tuple(
        f"the downgrade to base leaves {kind} {name}"
        for kind, names in (("table", tables), ("enum", types), ("view", views))
        for name in names
    )


def _squashed_copy(db: Database, planned: Squash, text: str, folder: Path) -> Database:
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

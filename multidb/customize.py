"""What a project's ``env.py`` would customize, from the config: comparison settings and run hooks.

:func:`compare_options` is the one place that builds the ``configure()`` arguments of a comparison
(``revision --autogenerate``, ``migrate``, ``check``, ``adopt`` and the plugin's drift test);
:func:`table_filter` applies the same table choice to the plugin's schema snapshots. The run hooks
(``on_connect``, ``before_migrate``, ``after_migrate``, ``after_each_revision``) are called through
:class:`Hooks` with the connection and a :class:`RunContext`. A ``module:function`` reference is
imported with the config's ``python_path`` when first needed; one that cannot be imported is a
config error naming its key path.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .config import Database, Project
from .errors import ConfigError, ConfigProblem, MigrationError, UsageError

if TYPE_CHECKING:
    from sqlalchemy import MetaData


def resolve(project: Project, reference: str, where: str) -> Callable[..., Any]:
    """Import ``package.module:attr`` (with the config's ``python_path``); a config error names ``where``."""
    from .environment import lookup

    obj = lookup(project, reference, where)
    if not callable(obj):
        raise _problem(project, where, f"'{reference}' is not a function")
    return obj


def _problem(project: Project, where: str, text: str) -> ConfigError:
    return ConfigError([ConfigProblem(str(project.path), where, text)])


def _hook(project: Project, db: Database, section: str, key: str) -> Callable[..., Any] | None:
    settings = db.autogenerate if section == "autogenerate" else db.hooks
    reference = getattr(settings, key)
    if not isinstance(reference, str):
        return None
    return resolve(project, reference, settings.key_path(key))


# --- comparisons ------------------------------------------------------------------------------


def excluded(db: Database, name: str, schema: str | None = None) -> bool:
    """Whether ``exclude_tables`` names the table (a pattern with a dot matches ``schema.table``)."""
    qualified = f"{schema}.{name}" if schema else name
    return any(fnmatch.fnmatchcase(qualified if "." in p else name, p) for p in db.autogenerate.exclude_tables)


def compare_options(project: Project, db: Database, metadata: MetaData | None = None) -> dict[str, Any]:
    """The ``configure()`` arguments of every comparison of ``db``: its autogenerate settings, and the
    tables of other databases that share this one left out. ``metadata``: the models, when compared."""
    settings = db.autogenerate
    options: dict[str, Any] = {"include_schemas": settings.include_schemas}
    for key in ("compare_type", "compare_server_default"):
        value = getattr(settings, key)
        options[key] = _hook(project, db, "autogenerate", key) if isinstance(value, str) else value
    hook = _hook(project, db, "autogenerate", "process_revision_directives")
    if hook is not None:
        options["process_revision_directives"] = _only_with_directives(hook)
    options.update(render_options(project, db))
    options.update(_filters(project, db, metadata))
    return {k: v for k, v in options.items() if v is not None}


def render_options(project: Project, db: Database) -> dict[str, Any]:
    """How ``db``'s autogenerate writes Python (``render_item``, ``user_module_prefix``), the part of
    :func:`compare_options` that squash's baseline uses too; empty when the config sets neither."""
    options: dict[str, Any] = {}
    hook = _hook(project, db, "autogenerate", "render_item")
    if hook is not None:
        options["render_item"] = hook
    if db.autogenerate.user_module_prefix is not None:
        options["user_module_prefix"] = db.autogenerate.user_module_prefix
    return options


def _filters(project: Project, db: Database, metadata: MetaData | None = None) -> dict[str, Any]:
    """``include_name`` and ``include_object``: the project's, with ``exclude_tables`` and (given the
    models) the tables of other entries sharing this database left out."""
    from .environment import include_name_for

    foreign = include_name_for(project, db, metadata) if metadata is not None else None
    return {
        "include_name": _names(db, foreign, _hook(project, db, "autogenerate", "include_name")),
        "include_object": _objects(db, _hook(project, db, "autogenerate", "include_object")),
    }


def _names(db: Database, *hooks: Callable[..., Any] | None) -> Callable[..., bool]:
    """Always a filter: multidb's own bookkeeping tables (beside the version table) are never compared."""
    from .environment import bookkeeping_tables

    given = [h for h in hooks if h is not None]
    own = bookkeeping_tables(db)

    def include_name(name: Any, type_: str, parent_names: Any) -> bool:
        if type_ == "table" and (name in own or excluded(db, name, (parent_names or {}).get("schema_name"))):
            return False
        return all(hook(name, type_, parent_names) for hook in given)

    return include_name


def _objects(db: Database, hook: Callable[..., Any] | None) -> Callable[..., bool] | None:
    if hook is None and not db.autogenerate.exclude_tables:
        return None

    def include_object(obj: Any, name: Any, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and excluded(db, name, getattr(obj, "schema", None)):
            return False
        return hook is None or bool(hook(obj, name, type_, reflected, compare_to))

    return include_object


def _only_with_directives(hook: Callable[..., Any]) -> Callable[..., None]:
    """The project's ``process_revision_directives``, after multidb's own (which drops an empty revision:
    the project's is then not called, so ``directives[0]`` is always there for it)."""

    def process(context: Any, revision: Any, directives: list) -> None:
        if directives:
            hook(context, revision, directives)

    return process


def table_filter(project: Project, db: Database) -> Callable[[str, str | None], bool]:
    """Whether a reflected table takes part in a schema comparison (the plugin's parity snapshots)."""
    import sqlalchemy as sa

    filters = _filters(project, db)
    by_name, by_object = filters["include_name"], filters["include_object"]

    def keep(name: str, schema: str | None) -> bool:
        if by_name is not None and not by_name(name, "table", {"schema_name": schema}):
            return False
        return by_object is None or by_object(sa.Table(name, sa.MetaData(), schema=schema), name, "table", True, None)

    return keep


# --- -x arguments and the run context -----------------------------------------------------------


def parse_x(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``-x KEY=VALUE`` values as given; a value without ``=`` or with an empty key is a usage error."""
    for value in values:
        key, equals, _ = value.partition("=")
        if not equals or not key.strip():
            raise UsageError(f"-x {value!r}: expected KEY=VALUE, e.g. -x tenant=acme")
    return tuple(values)


def as_dictionary(values: tuple[str, ...]) -> dict[str, str]:
    """The ``-x`` values as Alembic's ``get_x_argument(as_dictionary=True)`` gives them (last one wins)."""
    return dict(value.partition("=")[::2] for value in values)


@dataclass
class RunContext:
    """What a hook (and :func:`multidb.run_context`) knows about the run in progress.

    ``execute(sql)`` runs a statement (a string is taken as ``op.execute`` takes it, as ``sa.text()``)
    on the connection, or, under ``--sql``, writes it into the database's SQL file; a hook written
    with it works both ways.
    """

    database: str
    profile: str | None
    action: str  # upgrade, downgrade, stamp, revision (autogenerate) or check
    x: dict[str, str]
    offline: bool
    dialect: str
    revision: str | None = None  # after_each_revision: the revision just applied
    connection: Any = field(default=None, repr=False)
    migration_context: Any = field(default=None, repr=False)

    def execute(self, statement: Any) -> None:
        if self.migration_context is not None and self.offline:
            self.migration_context.execute(statement)
            return
        if self.connection is None:
            raise UsageError(f"{self.database}: no connection to run a hook's statement on")
        if isinstance(statement, str):  # as op.execute() and the --sql file take it: text()
            import sqlalchemy as sa

            statement = sa.text(statement)
        self.connection.execute(statement)


_current: ContextVar[RunContext | None] = ContextVar("multidb_run_context", default=None)


def run_context() -> RunContext | None:
    """The run in progress (its database, profile, ``-x`` values, ...), or None outside a multidb run."""
    return _current.get()


def x_arguments() -> dict[str, str]:
    """The ``-x KEY=VALUE`` values of the multidb command running now (empty outside a run).

    For revision files and hooks: ``multidb.x_arguments().get("tenant")``. Alembic's
    ``context.get_x_argument(as_dictionary=True)`` gives the same values.
    """
    found = _current.get()
    return dict(found.x) if found is not None else {}


@contextmanager
def running(context: RunContext) -> Iterator[RunContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def new_context(project: Project, db: Database, action: str, connection: Any, dialect: str) -> RunContext:
    return RunContext(
        database=db.name,
        profile=project.profile,
        action=action,
        x=as_dictionary(project.x_arguments),
        offline=connection is None,
        dialect=dialect,
        connection=connection,
    )


# --- run hooks ----------------------------------------------------------------------------------

HOOK_NAMES = ("on_connect", "before_migrate", "after_migrate", "after_each_revision")


class Hooks:
    """The database's run hooks, imported up front (a bad reference fails before anything runs)."""

    def __init__(self, project: Project, db: Database):
        self.db = db
        self.found = {name: _hook(project, db, "hooks", name) for name in HOOK_NAMES}
        self.found = {name: hook for name, hook in self.found.items() if hook is not None}

    def __bool__(self) -> bool:
        return bool(self.found)

    def call(self, name: str, context: RunContext) -> None:
        """Call hook ``name`` (if set) with the connection and ``context``; its failure names the hook."""
        hook = self.found.get(name)
        if hook is None:
            return
        try:
            hook(context.connection, context)
        except Exception as e:
            from .redact import first_line

            at = f" after revision {context.revision}" if context.revision else ""
            reason = first_line(f"{type(e).__name__}: {e}", *self.db.secrets)
            if context.offline and "'NoneType'" in str(e):
                reason += "; under --sql there is no connection: run statements with context.execute(...)"
            raise MigrationError(
                self.db.name, f"hooks.{name} ({getattr(self.db.hooks, name)}){at} failed: {reason}"
            ) from e


def check_hooks(project: Project, dbs: list[Database]) -> None:
    """Import every run hook of ``dbs`` now: a bad reference is reported before any database changes."""
    for db in dbs:
        Hooks(project, db)


MIGRATING = ("upgrade", "downgrade", "stamp")


def before_run(hooks: Hooks, context: RunContext) -> None:
    """``on_connect`` (every run), then ``before_migrate`` (runs that migrate)."""
    hooks.call("on_connect", context)
    if context.action in MIGRATING:
        hooks.call("before_migrate", context)


def after_run(hooks: Hooks, context: RunContext) -> None:
    if context.action in MIGRATING:
        hooks.call("after_migrate", context)


def each_revision(hooks: Hooks, context: RunContext) -> Callable[..., None] | None:
    """An ``on_version_apply`` callback calling ``after_each_revision`` inside the revision's transaction."""
    if "after_each_revision" not in hooks.found:
        return None

    def applied(*, step: Any, **_: Any) -> None:
        revision = ",".join(step.up_revision_ids) or "base"
        hooks.call("after_each_revision", replace(context, revision=revision))

    return applied


@contextmanager
def connected(project: Project, db: Database, connection: Any, action: str) -> Iterator[RunContext]:
    """A comparison's connection (``check``, ``adopt``): ``on_connect`` called on it, the run context set."""
    context = new_context(project, db, action, connection, connection.dialect.name)
    with running(context):
        Hooks(project, db).call("on_connect", context)
        yield context

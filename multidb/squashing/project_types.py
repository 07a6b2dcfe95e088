"""The project's rendering settings in the baseline: ``autogenerate.render_item`` and ``user_module_prefix``.

A replay's reflected schema knows only SQLAlchemy's types. When the config says how the project's own
types are written (either setting), a column whose model (``databases.X.metadata``) has such a type (a
``TypeDecorator`` or ``UserDefinedType`` defined outside SQLAlchemy) gets it back, provided it makes the
same DDL as the replay on that dialect; the rest stays as reflected (generic), as without the settings.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import Database, Project


@dataclass(frozen=True)
class Rendering:
    """``render_python_code``'s options (from the config) and the model types columns may get back."""

    options: Mapping[str, Any] = field(default_factory=dict)
    types: Mapping[tuple[str, str], Any] = field(default_factory=dict)  # (table, column) -> the model's type

    def module_imports(self, body: str) -> set[str]:
        """``import x.y`` for each module prefix of a project type that ``body`` uses (and Python finds)."""
        prefixes = {prefix(self.options, t) for t in self.types.values()}
        found = set()
        for text in prefixes:
            module = text.rstrip(".")
            if module and text in body and _importable(module):
                found.add(f"import {module}")
        return found


class RenderItem:
    """The project's ``render_item`` first (as in its revisions), then ``fallback`` (multidb's own); keeps
    the imports autogenerate's context collected (``render_python_code`` does not return them)."""

    def __init__(self, project_hook: Callable[..., Any] | None, fallback: Callable[..., Any]):
        self.project_hook = project_hook
        self.fallback = fallback
        self.imports: set[str] = set()

    def __call__(self, kind: str, obj: Any, autogen_context: Any) -> str | bool:
        rendered = self.project_hook(kind, obj, autogen_context) if self.project_hook else False
        if rendered is False:
            rendered = self.fallback(kind, obj, autogen_context)
        self.imports |= set(autogen_context.imports)
        return rendered


def rendering(project: Project, db: Database) -> Rendering:
    """The database's rendering settings; its models' own column types only when one is set."""
    from ..customize import render_options

    options = render_options(project, db)
    if not options or not db.metadata:
        return Rendering(options)
    from ..environment import load_metadata

    models = load_metadata(project, db)
    types = {
        (table.name, column.name): column.type
        for table in models.tables.values()
        for column in table.columns
        if is_project_type(column.type)
    }
    return Rendering(options, types)


def is_project_type(type_: Any) -> bool:
    """A type autogenerate writes with the user module prefix: one not defined in SQLAlchemy."""
    return not type(type_).__module__.startswith("sqlalchemy.")


def prefix(options: Mapping[str, Any], type_: Any) -> str:
    """What autogenerate puts before a project type's name: ``user_module_prefix``, else its module."""
    return options.get("user_module_prefix") or f"{type(type_).__module__}."


def use_model_types(metadata: Any, types: Mapping[tuple[str, str], Any], dialect: Any) -> None:
    """Give each column of ``metadata`` its model's project type where both compile alike on ``dialect``."""
    for table in metadata.tables.values():
        for column in table.columns:
            model = types.get((table.name, column.name))
            ddl = _ddl(model, dialect) if model is not None else None
            if ddl is not None and ddl == _ddl(column.type, dialect):
                column.type = model


def _ddl(type_: Any, dialect: Any) -> str | None:
    try:
        return type_.compile(dialect=dialect)
    except Exception:  # a type the dialect cannot write: not the same, keep the reflected one
        return None


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False

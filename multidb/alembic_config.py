"""The one place that turns a database's config into Alembic objects.

``script_directory`` caches one :class:`ScriptDirectory` per set of version folders per process,
so the revision files are read and the revision map is built once, however many commands or
fleet targets use them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .config import Database, Project

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

TEMPLATES = Path(__file__).parent / "templates"
DATABASE_KEY = "multidb.database"
PROJECT_KEY = "multidb.project"

_scripts: dict[tuple[Path, tuple[Path, ...]], tuple[ScriptDirectory, tuple[int, ...]]] = {}


def template_dir(project: Project) -> Path:
    """The folder holding ``script.py.mako``: the project's own, else multidb's."""
    if project.revision_template is not None:
        return project.revision_template.parent
    return TEMPLATES


def alembic_config(project: Project, db: Database) -> Config:
    """An in-memory Alembic ``Config`` for one database; nothing is read from an ini file.

    The database and project travel in ``Config.attributes``, the channel Alembic documents
    for handing objects to the environment.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(template_dir(project)))
    cfg.set_main_option("version_locations", " ".join(str(p) for p in db.version_paths))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes[DATABASE_KEY] = db
    cfg.attributes[PROJECT_KEY] = project
    return cfg


def script_directory(project: Project, db: Database) -> ScriptDirectory:
    """The cached ScriptDirectory for this database's version folders.

    A folder whose modification time changed (a revision file added or removed, e.g. by
    ``multidb revision`` in the same process) is read again.
    """
    from alembic.script import ScriptDirectory

    key = (template_dir(project), db.version_paths)
    stamp = _stamp(db.version_paths)
    cached = _scripts.get(key)
    if cached is not None and cached[1] == stamp:
        return cached[0]
    script = ScriptDirectory(
        str(key[0]),
        version_locations=[str(p) for p in db.version_paths],
        messaging_opts={"quiet": True},
    )
    _scripts[key] = (script, stamp)
    return script


def _stamp(folders: tuple[Path, ...]) -> tuple[int, ...]:
    return tuple(f.stat().st_mtime_ns if f.is_dir() else -1 for f in folders)


def forget_scripts() -> None:
    """Drop the cache, e.g. after revision files were written by another process."""
    _scripts.clear()

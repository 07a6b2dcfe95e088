"""The one place that turns a database's config into Alembic objects.

``script_directory`` caches one :class:`ScriptDirectory` per set of version folders per process,
so the revision files are read and the revision map is built once, however many commands or
fleet targets use them. The cache is keyed on every file of those folders (path and
:func:`file_version`), so a revision file edited in place is read again in a long-lived process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Database, Project

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

TEMPLATES = Path(__file__).parent / "templates"
DATABASE_KEY = "multidb.database"
PROJECT_KEY = "multidb.project"

FolderState = tuple[tuple[str, int, int, int, int], ...]
_scripts: dict[tuple[Path, tuple[Path, ...]], tuple[ScriptDirectory, FolderState]] = {}


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
    from argparse import Namespace

    from alembic.config import Config

    # -x KEY=VALUE travels as Alembic's own command line does, for context.get_x_argument()
    cfg = Config(cmd_opts=Namespace(x=list(project.x_arguments)))
    cfg.set_main_option("script_location", str(template_dir(project)))
    cfg.set_main_option("version_locations", " ".join(str(p) for p in db.version_paths))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes[DATABASE_KEY] = db
    cfg.attributes[PROJECT_KEY] = project
    return cfg


def script_directory(project: Project, db: Database, state: FolderState | None = None) -> ScriptDirectory:
    """The cached ScriptDirectory for this database's version folders.

    Read again when any file in them was added, removed or changed (``state``: their
    :func:`folder_state`, when the caller has it already).
    """
    from alembic.script import ScriptDirectory

    key = (template_dir(project), db.version_paths)
    if state is None:
        state = folder_state(db.version_paths)
    cached = _scripts.get(key)
    if cached is not None and cached[1] == state:
        return cached[0]
    script = ScriptDirectory(
        str(key[0]),
        version_locations=[str(p) for p in db.version_paths],
        messaging_opts={"quiet": True},
    )
    _scripts[key] = (script, state)
    return script


def folder_state(folders: tuple[Path, ...]) -> FolderState:
    """Each file of the folders (Alembic reads no subfolder) with its modification time and size.

    Raises OSError when a folder cannot be listed or an entry cannot be followed (a symlink loop,
    no permission): Alembic's own walk would skip such a folder silently.
    """
    state = []
    for folder in folders:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir():  # __pycache__ and the like
                    continue
                try:
                    st = entry.stat()  # follows a symlink: a loop raises
                except FileNotFoundError:  # a dangling symlink
                    state.append((entry.path, -1, -1, -1, -1))
                    continue
                state.append((entry.path, *file_version(st)))
    return tuple(sorted(state))


def file_version(st: os.stat_result) -> tuple[int, int, int, int]:
    """What changes when a file's content may have: its modification time, size, inode, and the inode's change
    time (which ``cp -p``, ``rsync -t`` or ``touch -d`` cannot set back, as they do the modification time)."""
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def forget_scripts(db: Database | None = None) -> None:
    """Drop the cache (or one database's entries), e.g. after a history failed to load."""
    if db is None:
        _scripts.clear()
        return
    for key in [k for k in _scripts if k[1] == db.version_paths]:
        del _scripts[key]

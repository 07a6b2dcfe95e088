"""``multidb init``: a new project with two databases, both profiles and a revision template."""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path

from ..alembic_config import TEMPLATES
from ..errors import UsageError

PROJECT = TEMPLATES / "project"


def init(folder: Path) -> list[Path]:
    """Write the project files into ``folder``; refuses if a config is already there."""
    config = folder / "config" / "multidb.yaml"
    if config.exists():
        raise UsageError(f"{config} already exists; init changes nothing in an existing project")
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    files = {
        config: _read("multidb.yaml"),
        folder / "config" / "script.py.mako": _read("script.py.mako"),
        folder / "db_models.py": _read("db_models.py"),
    }
    for name in ("app", "events"):
        rev = uuid.uuid4().hex[:12]
        text = _read(f"{name}_initial.py").replace("@REV@", rev).replace("@DATE@", now)
        files[folder / f"{name}_versions" / f"{rev}_create_{'items' if name == 'app' else 'events'}.py"] = text
    clashes = [p for p in files if p.exists()]
    if clashes:
        raise UsageError(f"{clashes[0]} already exists; init changes nothing in an existing project")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    gitignore = folder / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("var/\nsql/\n__pycache__/\n", encoding="utf-8")
        files[gitignore] = ""
    return list(files)


def _read(name: str) -> str:
    return (PROJECT / name).read_text(encoding="utf-8")

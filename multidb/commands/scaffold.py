"""``multidb init``: a new project with two databases, both profiles and a revision template."""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path

from ..alembic_config import TEMPLATES
from ..errors import UsageError

PROJECT = TEMPLATES / "project"


#: name -> what ``multidb init --template NAME`` makes (``init --list-templates`` prints this)
PROJECT_TEMPLATES = {
    "two-databases": "two SQLite databases, app and events (events upgraded after app); the default",
    "one-database": "one SQLite database, app",
    "async": "two-databases with URLs as an asyncio application writes them (sqlite+aiosqlite://); "
    "multidb migrates through the sync driver",
}
DEFAULT_TEMPLATE = "two-databases"
_EVENTS_MODELS = "# --- the events database ---"
_ASYNC_NOTE = (
    "# The URLs name an async driver, as the application's create_async_engine() takes them; multidb migrates\n"
    "# through its sync counterpart (postgresql+asyncpg:// -> psycopg2, sqlite+aiosqlite:// -> sqlite3).\n"
)


def init(folder: Path, template: str = DEFAULT_TEMPLATE) -> list[Path]:
    """Write the project files of ``template`` into ``folder``; refuses if a config is already there."""
    if template not in PROJECT_TEMPLATES:
        known = ", ".join(PROJECT_TEMPLATES)
        raise UsageError(f"unknown template '{template}'; templates: {known} (see 'multidb init --list-templates')")
    config = folder / "config" / "multidb.yaml"
    if config.exists():
        raise UsageError(f"{config} already exists; init changes nothing in an existing project")
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    names = ("app",) if template == "one-database" else ("app", "events")
    models = _read("db_models.py")
    files = {
        config: _config(template),
        folder / "config" / "script.py.mako": _read("script.py.mako"),
        folder / "db_models.py": models if "events" in names else models.split(_EVENTS_MODELS)[0].rstrip() + "\n",
    }
    for name in names:
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


def _config(template: str) -> str:
    if template == "one-database":
        return _read("multidb-one-database.yaml")
    text = _read("multidb.yaml")
    if template == "async":
        text = text.replace("url: sqlite:///", "url: sqlite+aiosqlite:///")
        text = text.replace("\ndatabases:", "\n" + _ASYNC_NOTE + "databases:")
    return text


def _read(name: str) -> str:
    return (PROJECT / name).read_text(encoding="utf-8")

"""Read an Alembic project: its ini file, its databases, its ``env.py`` files; nothing is changed.

The three shapes:

* ``sections``: one ini with a section per database (``alembic -n catalog upgrade head``);
* ``lockstep``: Alembic's ``multidb`` template or Flask-Migrate's ``--multidb``: one history whose
  revisions carry an ``upgrade_<engine>()`` per database;
* ``single``: one database, one history (plain Alembic or Flask-Migrate).
"""

from __future__ import annotations

import ast
import configparser
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from .pyproject import NAME as PYPROJECT
from .pyproject import read_tool_alembic

# sections of an ini that configure logging or hooks, never a database
_NOT_DATABASES = re.compile(r"^(loggers|handlers|formatters|logger_.*|handler_.*|formatter_.*|post_write_hooks)$")
_ENGINE_FN = re.compile(r"^(upgrade|downgrade)_(\w*)$")


@dataclass(frozen=True)
class SourceDatabase:
    """One database of the old project."""

    name: str  # the multidb name: the ini section, the engine, or the project's folder
    section: str  # where its settings were read ("alembic" for the main section)
    script_location: Path
    version_locations: tuple[Path, ...]
    version_table: str | None
    had_url: bool  # the ini held a sqlalchemy.url for it (its value is never kept)
    url_variable: str
    url_section: str  # the ini section whose sqlalchemy.url it had


@dataclass(frozen=True)
class SourceProject:
    ini: Path  # the ini; pyproject.toml itself for a project without one
    shape: str  # "sections", "lockstep" or "single"
    databases: tuple[SourceDatabase, ...]
    env_files: tuple[Path, ...]
    file_template: str | None
    post_write_hooks: tuple[str, ...]
    flask: bool
    engines: tuple[str, ...] = ()  # lockstep: the engine names of upgrade_<engine>(), "" for Flask's default
    # the ini was found in the migrations/ folder of the folder named (as Flask-Migrate keeps it, but also
    # a plain Alembic ini with script_location = %(here)s there): that folder is the project
    in_migrations: bool = False
    # the databases' sections' prepend_sys_path entries, relative to the ini's folder, in order
    sys_paths: tuple[Path, ...] = ()
    # the pyproject.toml whose [tool.alembic] was read (Alembic 1.16+), None without one
    toml: Path | None = None

    @property
    def has_ini(self) -> bool:
        return self.ini != self.toml

    @property
    def files(self) -> tuple[Path, ...]:
        """The files the settings were read from: the ini, pyproject.toml, or both."""
        return tuple(dict.fromkeys(p for p in (self.ini, self.toml) if p is not None))

    @property
    def root(self) -> Path:
        """The project's folder: the ini's, or the one above ``migrations/`` (Flask-Migrate, or found there)."""
        return self.ini.parent.parent if self.flask or self.in_migrations else self.ini.parent


@dataclass(frozen=True)
class Settings:
    """The project's Alembic settings, looked up as Alembic does: an option of the ini's section first, then
    the ``[tool.alembic]`` table of ``pyproject.toml`` (any ``-n`` section falls back to that one table)."""

    parser: configparser.ConfigParser
    ini: Path  # the ini's path (its folder is what relative ini values are relative to)
    toml: Path | None = None
    tool: dict = field(default_factory=dict)  # [tool.alembic], strings substituted (pyproject.read_tool_alembic)

    def get(self, section: str, key: str) -> str | None:
        """A string option (``script_location``, ``file_template``)."""
        if self.parser.has_option(section, key):
            return self.parser.get(section, key)
        return self.tool.get(key)

    def base(self, section: str, key: str) -> Path:
        """The folder a relative value of ``key`` is taken relative to: the ini's, or pyproject.toml's."""
        if self.toml is not None and not self.parser.get(section, key, fallback=""):
            return self.toml.parent
        return self.ini.parent


def find_ini(path: Path) -> Path | None:
    """``PATH`` itself if it is a file, else ``PATH/alembic.ini``, else ``PATH/migrations/alembic.ini``."""
    if path.is_file():
        return path
    for candidate in (path / "alembic.ini", path / "migrations" / "alembic.ini"):
        if candidate.is_file():
            return candidate
    return None


def read_settings(path: Path) -> tuple[Settings, bool, bool]:
    """The settings of the project at ``path`` (a folder, its ini, or its pyproject.toml), whether the ini is
    Flask-Migrate's, and whether it was found in the ``migrations/`` folder of ``path``.

    ``pyproject.toml`` is the one in the project's folder (where ``alembic`` runs and finds it), read only
    when it has a ``[tool.alembic]`` table; a project may have no ini at all then."""
    toml = path if path.is_file() and path.name == PYPROJECT else None
    ini = find_ini(path) if toml is None else path.parent / "alembic.ini"
    ini = ini if ini is not None and ini.is_file() else None
    flask = nested = False
    if ini is not None:
        flask = ini.parent.name == "migrations" and (ini.parent / "env.py").is_file() and _mentions_flask(ini.parent)
        nested = flask or ini == path / "migrations" / "alembic.ini"
        toml = toml or (ini.parent.parent if nested else ini.parent) / PYPROJECT
    else:
        toml = toml or path / PYPROJECT
    # Flask-Migrate builds Alembic's Config from its ini alone (script_location set in code): no TOML
    tool = read_tool_alembic(toml) if toml.is_file() and not flask else None
    if tool is None:
        if ini is None:
            raise UsageError(
                f"no alembic.ini in {path} or {path / 'migrations'}, and no [tool.alembic] in "
                f"{toml if toml.is_file() else path / PYPROJECT}; pass the project's folder or its ini file"
            )
        return Settings(read_ini(ini), ini), flask, nested
    if ini is None:
        return Settings(configparser.ConfigParser(interpolation=None), toml, toml, tool), False, False
    return Settings(read_ini(ini), ini, toml, tool), flask, nested


def read_ini(path: Path) -> configparser.ConfigParser:
    """The ini without interpolation (a '%' in a password must not break reading), ``%(here)s`` resolved."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, configparser.Error) as e:
        raise UsageError(f"{path}: cannot be read as an ini file ({type(e).__name__})") from None
    here = str(path.parent.resolve())
    for section in parser.sections():
        for key, value in parser.items(section):
            if "%(here)s" in value:
                parser.set(section, key, value.replace("%(here)s", here))
    return parser


def read_project(path: Path) -> SourceProject:
    """What ``multidb import`` needs to know of the Alembic project at ``path``."""
    cfg, flask, nested = read_settings(path)
    parser, ini = cfg.parser, cfg.ini
    sections = _sections(cfg)
    if not sections:
        if not flask:
            raise UsageError(f"{ini}: no section has a script_location; is this an Alembic project's ini?")
        if not parser.has_section("alembic"):
            parser.add_section("alembic")
        parser.set("alembic", "script_location", ".")  # Flask-Migrate sets it in code: the ini's folder
        sections = ["alembic"]
    main = "alembic" if "alembic" in sections else sections[0]
    file_template = cfg.get(main, "file_template")
    hooks = post_write_hooks(cfg)
    own = _database_sections(cfg, sections) or [main]
    paths = tuple(dict.fromkeys(p for s in own for p in prepend_sys_path(cfg, s)))
    common = {"in_migrations": nested, "sys_paths": paths, "toml": cfg.toml}
    if len(own) > 1:
        names = {s: _plain(_location(cfg, s).name if s == "alembic" else s) for s in own}
        dbs = tuple(_database(cfg, s, names[s], f"{_var(names[s])}_DATABASE_URL", s) for s in own)
        envs = tuple(dict.fromkeys(db.script_location / "env.py" for db in dbs))
        return SourceProject(ini, "sections", dbs, envs, file_template, hooks, flask, **common)
    location = _location(cfg, main)
    engines = lockstep_engines(parser, main, location)
    name = _plain(main) if main != "alembic" else _single_name(ini, nested)
    if engines is None:
        db = _database(cfg, main, name, "DATABASE_URL", main)
        return SourceProject(ini, "single", (db,), (location / "env.py",), file_template, hooks, flask, **common)
    dbs = tuple(
        _database(cfg, main, engine or "default", f"{_var(engine or 'default')}_DATABASE_URL", engine or main)
        for engine in engines
    )
    envs = (location / "env.py",)
    return SourceProject(ini, "lockstep", dbs, envs, file_template, hooks, flask, engines, **common)


def _sections(cfg: Settings) -> list[str]:
    """The ini's sections that may be databases: those with a ``script_location``; with one in
    ``[tool.alembic]``, also those with a ``sqlalchemy.url`` (``alembic -n NAME`` takes the rest from the
    TOML), and ``[alembic]`` when the project has no other."""
    parser = cfg.parser
    candidates = [s for s in parser.sections() if not _NOT_DATABASES.match(s)]
    found = [s for s in candidates if parser.has_option(s, "script_location")]
    if "script_location" in cfg.tool:
        found = [s for s in candidates if s in found or parser.has_option(s, "sqlalchemy.url")]
        if not found:
            if not parser.has_section("alembic"):
                parser.add_section("alembic")
            found = ["alembic"]
    return found


def prepend_sys_path(cfg: Settings, section: str) -> list[Path]:
    """The section's ``prepend_sys_path`` folders, split as Alembic splits them (its ``path_separator``, else
    on spaces, commas and colons), or ``[tool.alembic]``'s list when the section has none. Alembic puts
    relative entries on ``sys.path`` as they are, so they are relative to the folder ``alembic`` runs in;
    they are taken here relative to the ini's folder (pyproject.toml's, for the TOML's)."""
    parser = cfg.parser
    raw = parser.get(section, "prepend_sys_path", fallback="")
    if raw:
        choice = parser.get(section, "path_separator", fallback=None)  # not version_path_separator: Alembic's rule
        separator = _SEPARATORS.get(choice, choice) if choice is not None else None
        entries = raw.split(separator) if separator else re.split(r", *| +|:", raw)
    else:
        entries = cfg.tool.get("prepend_sys_path") or []
    base = cfg.base(section, "prepend_sys_path")
    return [(base / p.strip()).resolve() for p in entries if p.strip()]


def _database_sections(cfg: Settings, sections: list[str]) -> list[str]:
    """The sections that are databases. ``[alembic]`` is one only when it has a URL and a history of its own
    (``alembic upgrade`` next to ``alembic -n other upgrade``); otherwise it holds the others' defaults."""
    own = [s for s in sections if s != "alembic"]
    if "alembic" in sections and own and cfg.parser.get("alembic", "sqlalchemy.url", fallback="").strip():
        others = {_location(cfg, s) for s in own}
        if _location(cfg, "alembic") not in others:
            own.insert(0, "alembic")
    return own


def _mentions_flask(folder: Path) -> bool:
    try:
        return "flask" in (folder / "env.py").read_text(encoding="utf-8", errors="replace").lower()
    except OSError:
        return False


def _single_name(ini: Path, nested: bool) -> str:
    folder = ini.parent.parent if nested else ini.parent
    name = re.sub(r"[^A-Za-z0-9_]+", "_", folder.resolve().name).strip("_")
    return name or "main"


def _plain(name: str) -> str:
    """A section name as a multidb database name (letters, digits, _ and -)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_-") or "main"


def _var(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper() or "DEFAULT"


def _location(cfg: Settings, section: str) -> Path:
    return _folder(cfg, section, "script_location", cfg.get(section, "script_location") or "")


def _folder(cfg: Settings, section: str, key: str, raw: str) -> Path:
    """A folder of the settings (relative to the ini's folder, or pyproject.toml's for a value of the TOML), or
    Alembic's package resource ``mypkg:migrations``."""
    if ":" in raw and not Path(raw).exists() and not re.match(r"^[A-Za-z]:[\\/]", raw):
        package, *parts = raw.split(":")
        found = _package_folder(cfg, section, package.strip())
        if found is None:
            where = f"[{section}]" if cfg.parser.has_option(section, key) or cfg.toml is None else "[tool.alembic]"
            origin = cfg.ini if where != "[tool.alembic]" else cfg.toml
            raise UsageError(
                f"{origin}: {where} {key} '{raw}': package '{package.strip()}' not found (looked on "
                "prepend_sys_path, in the ini's folder and on the Python path)"
            )
        return found.joinpath(*parts).resolve()
    return (cfg.base(section, key) / raw).resolve()


def _package_folder(cfg: Settings, section: str, package: str) -> Path | None:
    """The folder of an importable package, searched as Alembic's ``package:path`` finds it: on the ini's
    ``prepend_sys_path`` (relative to the ini's folder, where ``alembic`` runs), the ini's folder, then the
    Python path. Nothing is imported, and a package already imported is not taken from ``sys.modules``."""
    from importlib.machinery import PathFinder

    search = [str(p) for p in prepend_sys_path(cfg, section)]
    search += [str(cfg.ini.parent.resolve()), *sys.path]
    for name in package.split("."):
        spec = PathFinder.find_spec(name, search) if name else None
        search = list(spec.submodule_search_locations or []) if spec else []
        if not search:
            return None  # not found, or a module rather than a package
    return Path(search[0])


def _database(cfg: Settings, section: str, name: str, variable: str, url_section: str) -> SourceDatabase:
    parser = cfg.parser
    location = _location(cfg, section)
    raw = parser.get(section, "version_locations", fallback=None)
    if raw:
        separator = _separator(parser, section)
        parts = raw.split(separator) if separator else re.split(r"[\s,]+", raw)
    else:  # Alembic: the section's, else [tool.alembic]'s list
        parts = cfg.tool.get("version_locations") or []
    versions = tuple(_folder(cfg, section, "version_locations", p.strip()) for p in parts if p.strip())
    versions = versions or (location / "versions",)
    has_url = (
        bool(parser.get(url_section, "sqlalchemy.url", fallback="").strip())
        if parser.has_section(url_section)
        else False
    )
    table = parser.get(section, "version_table", fallback=None) or _env_version_table(location / "env.py")
    return SourceDatabase(name, section, location, versions, table, has_url, variable, url_section)


_SEPARATORS = {"space": " ", "newline": "\n", "os": os.pathsep, "colon": ":", "semicolon": ";"}


def _separator(parser: configparser.ConfigParser, section: str) -> str | None:
    """The separator of ``version_locations``; None: Alembic's legacy split on spaces and commas."""
    choice = parser.get(section, "path_separator", fallback=None) or parser.get(
        section, "version_path_separator", fallback=None
    )
    if choice is None:
        return None
    return _SEPARATORS.get(choice, choice)


def _env_version_table(env: Path) -> str | None:
    try:
        found = re.search(r"version_table\s*=\s*['\"]([\w.]+)['\"]", env.read_text(encoding="utf-8"))
    except OSError:
        return None
    return found.group(1) if found else None


def post_write_hooks(cfg: Settings) -> tuple[str, ...]:
    """Alembic's ``[post_write_hooks]`` as command lines (``console_scripts`` and ``exec`` hooks); without
    that section, ``[[tool.alembic.post_write_hooks]]``'s (Alembic reads one or the other, never both)."""
    parser = cfg.parser
    if not parser.has_section("post_write_hooks"):
        return tuple(
            _command(hook.get("entrypoint") or hook.get("executable"), hook.get("options", ""))
            for hook in cfg.tool.get("post_write_hooks", [])
            if hook.get("entrypoint") or hook.get("executable")
        )
    names = re.split(r"[\s,]+", parser.get("post_write_hooks", "hooks", fallback="").strip())
    commands = []
    for name in filter(None, names):
        program = parser.get("post_write_hooks", f"{name}.entrypoint", fallback=None) or parser.get(
            "post_write_hooks", f"{name}.executable", fallback=None
        )
        if not program:
            continue
        commands.append(_command(program, parser.get("post_write_hooks", f"{name}.options", fallback="")))
    return tuple(commands)


def _command(program: str | None, options: str) -> str:
    """A hook as the command line multidb runs on a written file (which it appends)."""
    return f"{program} {options.replace('REVISION_SCRIPT_FILENAME', '').strip()}".strip()


def lockstep_engines(parser: configparser.ConfigParser, section: str, location: Path) -> tuple[str, ...] | None:
    """The engine names of a lockstep project, or None when the project is not one.

    From the ini's ``databases = a, b`` (Alembic's template), else from the ``upgrade_<engine>``
    functions of the revision files (Flask-Migrate's ``--multidb``, whose default bind is ``upgrade_()``).
    """
    listed = parser.get(section, "databases", fallback="").strip()
    template = location / "script.py.mako"
    text = template.read_text(encoding="utf-8", errors="replace") if template.is_file() else ""
    if listed:
        return tuple(n for n in re.split(r"[\s,]+", listed) if n)
    if "upgrade_${" not in text and "upgrade_%s" not in text:
        return None
    found: dict[str, None] = {}
    for path in sorted((location / "versions").glob("*.py")):
        for name in engine_functions(path):
            found.setdefault(name, None)
    return tuple(found) or None


def engine_functions(path: Path) -> list[str]:
    """The engine names of the ``upgrade_<engine>`` functions a revision file defines."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return []
    names = []
    for node in tree.body:
        match = isinstance(node, ast.FunctionDef) and _ENGINE_FN.match(node.name)
        if match and match.group(1) == "upgrade":
            names.append(match.group(2))
    return names

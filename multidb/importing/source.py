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
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError

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
    ini: Path
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

    @property
    def root(self) -> Path:
        """The project's folder: the ini's, or the one above ``migrations/`` (Flask-Migrate, or found there)."""
        return self.ini.parent.parent if self.flask or self.in_migrations else self.ini.parent


def find_ini(path: Path) -> Path:
    """``PATH`` itself if it is a file, else ``PATH/alembic.ini``, else ``PATH/migrations/alembic.ini``."""
    if path.is_file():
        return path
    for candidate in (path / "alembic.ini", path / "migrations" / "alembic.ini"):
        if candidate.is_file():
            return candidate
    raise UsageError(f"no alembic.ini in {path} or {path / 'migrations'}; pass the project's folder or its ini file")


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
    ini = find_ini(path)
    parser = read_ini(ini)
    flask = ini.parent.name == "migrations" and (ini.parent / "env.py").is_file() and _mentions_flask(ini.parent)
    nested = flask or ini == path / "migrations" / "alembic.ini"
    sections = [s for s in parser.sections() if not _NOT_DATABASES.match(s) and parser.has_option(s, "script_location")]
    if not sections:
        if not flask:
            raise UsageError(f"{ini}: no section has a script_location; is this an Alembic project's ini?")
        if not parser.has_section("alembic"):
            parser.add_section("alembic")
        parser.set("alembic", "script_location", ".")  # Flask-Migrate sets it in code: the ini's folder
        sections = ["alembic"]
    main = "alembic" if "alembic" in sections else sections[0]
    file_template = parser.get(main, "file_template", fallback=None)
    hooks = post_write_hooks(parser)
    own = _database_sections(parser, ini, sections) or [main]
    paths = tuple(dict.fromkeys(p for s in own for p in prepend_sys_path(parser, ini, s)))
    if len(own) > 1:
        names = {s: _plain(_location(parser, ini, s).name if s == "alembic" else s) for s in own}
        dbs = tuple(_database(parser, ini, s, names[s], f"{_var(names[s])}_DATABASE_URL", s) for s in own)
        envs = tuple(dict.fromkeys(db.script_location / "env.py" for db in dbs))
        return SourceProject(
            ini, "sections", dbs, envs, file_template, hooks, flask, in_migrations=nested, sys_paths=paths
        )
    location = _location(parser, ini, main)
    engines = lockstep_engines(parser, main, location)
    name = _plain(main) if main != "alembic" else _single_name(ini, nested)
    if engines is None:
        db = _database(parser, ini, main, name, "DATABASE_URL", main)
        return SourceProject(
            ini,
            "single",
            (db,),
            (location / "env.py",),
            file_template,
            hooks,
            flask,
            in_migrations=nested,
            sys_paths=paths,
        )
    dbs = tuple(
        _database(parser, ini, main, engine or "default", f"{_var(engine or 'default')}_DATABASE_URL", engine or main)
        for engine in engines
    )
    envs = (location / "env.py",)
    return SourceProject(ini, "lockstep", dbs, envs, file_template, hooks, flask, engines, nested, paths)


def prepend_sys_path(parser: configparser.ConfigParser, ini: Path, section: str) -> list[Path]:
    """The section's ``prepend_sys_path`` folders, split as Alembic splits them (its ``path_separator``, else
    on spaces, commas and colons). Alembic puts relative entries on ``sys.path`` as they are, so they are
    relative to the folder ``alembic`` runs in; they are taken here relative to the ini's folder."""
    raw = parser.get(section, "prepend_sys_path", fallback="")
    choice = parser.get(section, "path_separator", fallback=None)  # not version_path_separator: Alembic's rule
    separator = _SEPARATORS.get(choice, choice) if choice is not None else None
    entries = raw.split(separator) if separator else re.split(r", *| +|:", raw)
    return [(ini.parent / p.strip()).resolve() for p in entries if p.strip()]


def _database_sections(parser: configparser.ConfigParser, ini: Path, sections: list[str]) -> list[str]:
    """The sections that are databases. ``[alembic]`` is one only when it has a URL and a history of its own
    (``alembic upgrade`` next to ``alembic -n other upgrade``); otherwise it holds the others' defaults."""
    own = [s for s in sections if s != "alembic"]
    if "alembic" in sections and own and parser.get("alembic", "sqlalchemy.url", fallback="").strip():
        others = {_location(parser, ini, s) for s in own}
        if _location(parser, ini, "alembic") not in others:
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


def _location(parser: configparser.ConfigParser, ini: Path, section: str) -> Path:
    return _folder(parser, ini, section, "script_location", parser.get(section, "script_location"))


def _folder(parser: configparser.ConfigParser, ini: Path, section: str, key: str, raw: str) -> Path:
    """A folder of the ini (relative to the ini's folder), or Alembic's package resource ``mypkg:migrations``."""
    if ":" in raw and not Path(raw).exists() and not re.match(r"^[A-Za-z]:[\\/]", raw):
        package, *parts = raw.split(":")
        found = _package_folder(parser, ini, section, package.strip())
        if found is None:
            raise UsageError(
                f"{ini}: [{section}] {key} '{raw}': package '{package.strip()}' not found (looked on "
                "prepend_sys_path, in the ini's folder and on the Python path)"
            )
        return found.joinpath(*parts).resolve()
    return (ini.parent / raw).resolve()


def _package_folder(parser: configparser.ConfigParser, ini: Path, section: str, package: str) -> Path | None:
    """The folder of an importable package, searched as Alembic's ``package:path`` finds it: on the ini's
    ``prepend_sys_path`` (relative to the ini's folder, where ``alembic`` runs), the ini's folder, then the
    Python path. Nothing is imported, and a package already imported is not taken from ``sys.modules``."""
    from importlib.machinery import PathFinder

    search = [str(p) for p in prepend_sys_path(parser, ini, section)]
    search += [str(ini.parent.resolve()), *sys.path]
    for name in package.split("."):
        spec = PathFinder.find_spec(name, search) if name else None
        search = list(spec.submodule_search_locations or []) if spec else []
        if not search:
            return None  # not found, or a module rather than a package
    return Path(search[0])


def _database(parser, ini: Path, section: str, name: str, variable: str, url_section: str) -> SourceDatabase:
    location = _location(parser, ini, section)
    raw = parser.get(section, "version_locations", fallback=None)
    if raw:
        separator = _separator(parser, section)
        parts = raw.split(separator) if separator else re.split(r"[\s,]+", raw)
        versions = tuple(_folder(parser, ini, section, "version_locations", p.strip()) for p in parts if p.strip())
    else:
        versions = (location / "versions",)
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


def post_write_hooks(parser: configparser.ConfigParser) -> tuple[str, ...]:
    """Alembic's ``[post_write_hooks]`` as command lines (``console_scripts`` and ``exec`` hooks)."""
    if not parser.has_section("post_write_hooks"):
        return ()
    names = re.split(r"[\s,]+", parser.get("post_write_hooks", "hooks", fallback="").strip())
    commands = []
    for name in filter(None, names):
        program = parser.get("post_write_hooks", f"{name}.entrypoint", fallback=None) or parser.get(
            "post_write_hooks", f"{name}.executable", fallback=None
        )
        if not program:
            continue
        options = parser.get("post_write_hooks", f"{name}.options", fallback="")
        options = options.replace("REVISION_SCRIPT_FILENAME", "").strip()
        commands.append(f"{program} {options}".strip())
    return tuple(commands)


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

"""Load ``multidb.yaml`` into frozen dataclasses: the one place where YAML becomes typed objects.

``load_config`` reads the file with :mod:`multidb.safe_yaml` (``safe_load`` with limits on aliases,
nesting and duplicate keys), checks every key of every profile, merges the active profile over the
databases, expands ``${VAR}`` references, resolves relative paths against the file's folder, and
reports every problem at once as a :class:`~multidb.errors.ConfigError`. Nothing here connects to a
database or imports Alembic.

The checks (here and in :mod:`multidb.schema`) are written by hand rather than declared for a schema
library, for what they print: one line per problem, ``file: key.path: what is wrong``, every problem
of the file at once, a "did you mean" for a misspelt key, and never a URL's value. A schema library
prints otherwise: jsonschema's ``validate`` raises one error at a time, its message echoes the bad
value (``'postgresql://app:secret@...' is not of type ...``) and gives the location separately;
pydantic lists every error, but over several lines each, with the rejected ``input_value`` (a
password in a URL included) and a documentation link.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from . import schema
from .errors import ConfigError, ConfigProblem, UsageError
from .interpolate import BadReference, MissingVariable, expand
from .redact import SECRET_QUERY_KEYS, mask_url

CONFIG_ENV = "MULTIDB_CONFIG"
PROFILE_ENV = "MULTIDB_PROFILE"
DEFAULT_LOCATION = Path("config") / "multidb.yaml"


# INT_MAX milliseconds, the longest lock_timeout/statement_timeout PostgreSQL takes (multidb also sets the
# migration lock's wait through it); MariaDB's lock_wait_timeout goes to 31536000 s: one bound for all
MAX_SECONDS = 2_147_483
MAX_SECONDS_WHY = "about 24.8 days, the longest PostgreSQL accepts"
_TIMEOUTS = ("connect_timeout", "migration_lock_timeout", "lock_timeout", "statement_timeout")

DEFAULTS: dict[str, Any] = {
    "metadata": None,
    "version_table": "alembic_version",
    "version_table_schema": None,
    "batch": "auto",
    "depends_on": [],
    "connect_timeout": 10,
    "transaction": "per_revision",
    "migration_lock_timeout": 300,
    "lock_timeout": None,
    "statement_timeout": None,
    "lock_retries": 3,
    "lint_since": None,
    "lint_allow": [],
    "lint_large_table_rows": 100_000,
}


@dataclass(frozen=True)
class Baseline:
    """The schema a base's history starts from (Flyway's baseline): models' ``MetaData`` or SQL files.

    ``sql`` holds ``(dialect, file)`` pairs; a ``mysql`` file also serves MariaDB, and a ``mariadb`` one MySQL.
    """

    metadata: str | None = None
    sql: tuple[tuple[str, Path], ...] = ()

    def sql_file(self, dialect: str) -> Path | None:
        files = dict(self.sql)
        twin = {"mysql": "mariadb", "mariadb": "mysql"}.get(dialect, dialect)
        return files.get(dialect) or files.get(twin)


@dataclass(frozen=True)
class Base:
    """One labelled base of a database's history and the folder holding its revisions."""

    label: str
    path: Path
    baseline: Baseline | None = None


@dataclass(frozen=True)
class Fleet:
    """Many targets sharing one database entry's history (tenants by schema, database or URL)."""

    by: str  # "schema", "database" or "url"
    names: tuple[str, ...] = ()
    query: str | None = None
    command: str | None = None
    query_url: str | None = None

    def __repr__(self) -> str:
        return _masked_repr(self, {"names": self.by == "url", "query_url": True})


@dataclass(frozen=True)
class Autogenerate:
    """How models and database are compared (``revision --autogenerate``, ``migrate``, ``check``, ``adopt``,
    the plugin's drift and parity tests). Hooks are ``module:function`` references, imported when a
    comparison needs them (:mod:`multidb.customize`); ``where`` maps each key set to its key path."""

    exclude_tables: tuple[str, ...] = ()
    include_object: str | None = None
    include_name: str | None = None
    include_schemas: bool = False
    compare_type: bool | str = True
    compare_server_default: bool | str = False
    render_item: str | None = None
    user_module_prefix: str | None = None
    process_revision_directives: str | None = None
    where: tuple[tuple[str, str], ...] = ()

    def key_path(self, key: str) -> str:
        return dict(self.where).get(key, f"autogenerate.{key}")


@dataclass(frozen=True)
class RunHooks:
    """``module:function`` references called while revisions run (:mod:`multidb.customize`)."""

    on_connect: str | None = None
    before_migrate: str | None = None
    after_migrate: str | None = None
    after_each_revision: str | None = None
    where: tuple[tuple[str, str], ...] = ()

    def key_path(self, key: str) -> str:
        return dict(self.where).get(key, f"hooks.{key}")


@dataclass(frozen=True)
class Database:
    """One database of the active profile, with every value resolved.

    A fleet entry (``fleet`` set) stands for many targets; :mod:`multidb.fleet` expands it into one
    Database per target, named ``entry/tenant``, with ``tenant`` (and ``schema`` for schema targets) set.
    """

    name: str
    url: str
    bases: tuple[Base, ...]
    metadata: str | None
    version_table: str
    version_table_schema: str | None
    batch: str
    depends_on: tuple[str, ...]
    connect_timeout: float
    transaction: str
    migration_lock_timeout: float = 300.0
    lock_timeout: float | None = None
    statement_timeout: float | None = None
    lock_retries: int = 3
    fleet: Fleet | None = None
    tenant: str | None = None
    schema: str | None = None  # a schema target: migrations run with search_path set to it
    bases_key: str = "bases"  # where 'bases' is in the YAML: databases.X.bases, a profile's or defaults.bases
    autogenerate: Autogenerate = Autogenerate()
    hooks: RunHooks = RunHooks()
    lint_since: str | None = None  # lint with no database at hand: the revisions after this one
    lint_allow: tuple[str, ...] = ()  # lint rules silenced for every revision of this database
    lint_large_table_rows: int = 100_000  # lint's size-dependent rules: a table with this many rows is large

    def __repr__(self) -> str:  # also str(): pytest -l, logging and debuggers print it
        return _masked_repr(self, {"url": True})

    @property
    def entry(self) -> str:
        """The config entry this database (or fleet target) comes from."""
        return self.name.split("/", 1)[0]

    @property
    def dialect(self) -> str:
        """The dialect name of the URL (``sqlite``, ``postgresql``, ``mysql``, ...)."""
        return self.url.split(":", 1)[0].split("+", 1)[0]

    @property
    def masked_url(self) -> str:
        """The URL with its password (and secret query parameters) masked: the only form ever shown."""
        return mask_url(self.url)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The password and any secret query parameters of the URL."""
        from sqlalchemy.engine import make_url

        url = make_url(self.url)
        found = [url.password] if url.password else []
        for key, value in url.query.items():
            if key.lower() in SECRET_QUERY_KEYS:
                found.extend([value] if isinstance(value, str) else value)
        return tuple(str(v) for v in found if v)

    @property
    def same_server_database(self) -> tuple:
        """What identifies the physical database, for telling whether two entries share one."""
        from sqlalchemy.engine import make_url

        url = make_url(self.url)
        return (url.get_backend_name(), url.host, url.port, url.database)

    @property
    def version_paths(self) -> tuple[Path, ...]:
        return tuple(b.path for b in self.bases)

    def uses_batch(self, dialect: str | None = None) -> bool:
        """Whether autogenerate renders batch operations for this database."""
        if self.batch == "auto":
            return (dialect or self.dialect) == "sqlite"
        return self.batch == "always"


def _masked_repr(obj: Any, urls: Mapping[str, bool]) -> str:
    """The dataclass repr of ``obj`` with the passwords of its URL fields (those ``urls`` marks) masked."""
    shown = []
    for f in fields(obj):
        value = getattr(obj, f.name)
        if urls.get(f.name) and value:
            value = tuple(map(_masked, value)) if isinstance(value, tuple) else _masked(value)
        shown.append(f"{f.name}={value!r}")
    return f"{type(obj).__name__}({', '.join(shown)})"


def _masked(url: str) -> str:
    try:
        return mask_url(url)
    except Exception:  # not a URL SQLAlchemy can read: nothing of it is shown
        return "***"


@dataclass(frozen=True)
class Project:
    """A loaded config file: its databases under the active profile, in dependency order."""

    path: Path
    profile: str | None
    profiles: tuple[str, ...]
    databases: Mapping[str, Database]
    python_path: tuple[Path, ...]
    revision_template: Path | None
    protected: bool = False
    post_write_hooks: tuple[str, ...] = ()  # commands run on every revision file written
    x_arguments: tuple[str, ...] = ()  # the command line's -x KEY=VALUE, for revisions and hooks

    @property
    def root(self) -> Path:
        return self.path.parent

    def select(self, names: tuple[str, ...] | list[str], all_: bool = False) -> list[Database]:
        """The named databases (or all of them), ordered so each comes after its ``depends_on``."""
        if names and all_:
            raise UsageError("name databases or use --all, not both")
        unknown = [n for n in names if n not in self.databases]
        if unknown:
            raise UsageError(self.unknown_database_message(unknown[0]))
        wanted = set(names) if names else set(self.databases)
        return [db for name, db in self.databases.items() if name in wanted]

    def unknown_database_message(self, name: str) -> str:
        hint = schema.did_you_mean(name, self.databases)
        known = ", ".join(self.databases)
        return f"unknown database '{name}'{hint}; {self.path.name} defines: {known}"

    def secrets(self) -> tuple[str, ...]:
        """Every password in the active URLs (fleet URLs included), so output can be scrubbed of them."""
        found = [secret for db in self.databases.values() for secret in db.secrets]
        for db in self.databases.values():
            if db.fleet is not None and db.fleet.by == "url":
                found += [s for url in db.fleet.names for s in replace(db, url=url).secrets]
            if db.fleet is not None and db.fleet.query_url:
                found += replace(db, url=db.fleet.query_url).secrets
        return tuple(found)


def find_config(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Path:
    """``-c`` if given, else ``$MULTIDB_CONFIG``, else ``config/multidb.yaml`` searched upwards."""
    chosen = explicit or os.environ.get(CONFIG_ENV)
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            source = "--config" if explicit else CONFIG_ENV
            raise ConfigError([ConfigProblem(str(path), "", f"no such config file (from {source})")])
        return path
    start = (cwd or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        candidate = folder / DEFAULT_LOCATION
        if candidate.is_file():
            return candidate
    raise ConfigError(
        [
            ConfigProblem(
                str(DEFAULT_LOCATION),
                "",
                f"no config file found here or in any parent folder of {start}; "
                "pass -c PATH, set MULTIDB_CONFIG, or run 'multidb init'",
            )
        ]
    )


def load_config(
    path: str | os.PathLike[str],
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Project:
    """Read, check and resolve a config file. Raises ConfigError listing every problem."""
    path = Path(path)
    environ = os.environ if environ is None else environ
    raw = _read_yaml(path)
    try:
        return _load(path, raw, profile, environ)
    except ConfigError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as e:  # a shape no check foresaw
        problem = f"cannot be read as a multidb config ({type(e).__name__}); check its structure"
        raise ConfigError([ConfigProblem(str(path), "", problem)]) from e


def _load(path: Path, raw: dict, profile: str | None, environ: Mapping[str, str]) -> Project:
    problems: schema.Problems = []
    _check_names(raw, problems)
    _check_raw(raw, problems)
    if not isinstance(raw.get("databases"), dict) or any(_affects_all(key) for key, _ in problems):
        _raise_if(path, problems)  # nothing sound to build databases from
    chosen = _choose_profile(raw, profile, environ, path)
    databases = {}
    for name in raw["databases"]:
        if any(_affects(key, name) for key, _ in problems):
            continue  # already reported; keep checking the others
        merged = _merge_layers(raw, name, chosen)
        db = _build_database(name, merged, path.parent, environ, problems)
        if db is not None:
            databases[name] = db
    python_path = tuple(path.parent / p for p in raw.get("python_path") or [])
    template = raw.get("revision_template")
    template_path = path.parent / template if template else None
    _check_cross(path, raw, databases, template_path, problems)
    _raise_if(path, problems)
    return Project(
        path=path,
        profile=chosen,
        profiles=tuple(raw.get("profiles") or {}),
        databases=_dependency_order(databases),
        python_path=python_path,
        revision_template=template_path,
        protected=bool(chosen and ((raw.get("profiles") or {}).get(chosen) or {}).get("protected")),
        post_write_hooks=tuple(raw.get("post_write_hooks") or ()),
    )


def _affects_all(key: str) -> bool:
    """A problem that makes every database's merged settings unsound."""
    parts = key.split(".")
    if parts[0] in ("defaults", "python_path", "default_profile", "revision_template", "names"):
        return True
    if parts[0] != "profiles":
        return False
    # 'profiles', 'profiles.X' (not a mapping), 'profiles.X.defaults...', 'profiles.X.databases'
    return len(parts) <= 2 or parts[2] == "defaults" or parts[2:] == ["databases"]


def _affects(key: str, name: str) -> bool:
    """A problem inside one database's own entry (top level or in a profile)."""
    parts = key.replace("[", ".[").split(".")
    return (parts[:2] == ["databases", name]) or (parts[0] == "profiles" and parts[2:4] == ["databases", name])


def _raise_if(path: Path, problems: schema.Problems) -> None:
    if problems:
        raise ConfigError([ConfigProblem(str(path), key, text) for key, text in problems])


def _read_yaml(path: Path) -> dict:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError([ConfigProblem(str(path), "", f"cannot read: {e.strerror}")]) from e
    raw = _parse_yaml(path, data)
    if not isinstance(raw, dict):
        got = schema.type_name(raw)
        raise ConfigError([ConfigProblem(str(path), "", f"expected a mapping at the top, got {got}")])
    return raw


def _parse_yaml(path: Path, data: bytes) -> Any:
    import yaml

    from . import safe_yaml

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        problem = f"not valid UTF-8 (byte 0x{data[e.start]:02x}); save the file as UTF-8"
        raise ConfigError([ConfigProblem(str(path), f"line {line}", problem)]) from None
    try:
        return safe_yaml.load(text)
    except safe_yaml.Refused as e:
        raise ConfigError([ConfigProblem(str(path), e.where, e.problem)]) from None
    except RecursionError:  # the loader refuses deep nesting first: a last guard
        raise ConfigError([ConfigProblem(str(path), "", "nested too deeply")]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(e, "problem", None) or "not valid YAML"
        raise ConfigError([ConfigProblem(str(path), where, f"malformed YAML: {what}")]) from e


_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


def _check_names(raw: dict, problems: schema.Problems) -> None:
    """Database and profile names become key paths and command-line words: plain names only."""
    for section in ("databases", "profiles"):
        entries = raw.get(section)
        if isinstance(entries, dict):
            for name in entries:
                if not isinstance(name, str) or not _NAME.match(name):
                    shown = repr(name)[:40]
                    problems.append(("names", f"{section}: {shown} is not a plain name (letters, digits, _ and -)"))


def _check_raw(raw: dict, problems: schema.Problems) -> None:
    schema.check_keys(raw, schema.TOP_KEYS, "", problems)
    databases = raw.get("databases")
    if databases is None:
        problems.append(("databases", "missing: declare at least one database"))
    elif schema.check_mapping(databases, "databases", problems):
        if not databases:
            problems.append(("databases", "declare at least one database"))
        for name, entry in databases.items():
            if isinstance(name, str) and _NAME.match(name):  # other names are reported by _check_names
                schema.check_database_entry(entry, f"databases.{name}", problems)
    if "defaults" in raw:
        schema.check_database_entry(raw["defaults"], "defaults", problems)
    for key in ("default_profile", "revision_template"):
        if key in raw and not isinstance(raw[key], str):
            problems.append((key, f"expected a string, got {schema.type_name(raw[key])}"))
    if "python_path" in raw and not schema.is_str_list(raw["python_path"]):
        problems.append(("python_path", "expected a list of folder paths"))
    hooks = raw.get("post_write_hooks")
    if hooks is not None and not (schema.is_str_list(hooks) and all(map(schema.is_command, hooks))):
        problems.append(("post_write_hooks", "expected a list of commands, like ['ruff format']"))
    profiles = raw.get("profiles")
    if profiles is not None and schema.check_mapping(profiles, "profiles", problems):
        known = databases if isinstance(databases, dict) else {}
        for name, profile in profiles.items():
            _check_profile(profile, f"profiles.{name}", known, problems)
    default = raw.get("default_profile")
    if isinstance(default, str) and isinstance(profiles, dict) and default not in profiles:
        problems.append(("default_profile", _unknown_profile(default, profiles)))


def _check_profile(profile: Any, where: str, known: dict, problems: schema.Problems) -> None:
    if profile is None:
        return
    if not schema.check_mapping(profile, where, problems):
        return
    schema.check_keys(profile, schema.PROFILE_KEYS, where, problems)
    if "protected" in profile and not isinstance(profile["protected"], bool):
        problems.append((f"{where}.protected", f"expected true or false, got {schema.type_name(profile['protected'])}"))
    if "defaults" in profile:
        schema.check_database_entry(profile["defaults"], f"{where}.defaults", problems)
    entries = profile.get("databases") or {}
    if not schema.check_mapping(entries, f"{where}.databases", problems):
        return
    for name, entry in entries.items():
        at = f"{where}.databases.{name}"
        if name not in known:
            hint = schema.did_you_mean(name, known)
            problems.append((at, f"no database '{name}' is declared under 'databases'{hint}"))
        else:
            schema.check_database_entry(entry, at, problems)


def _unknown_profile(name: str, profiles: Mapping) -> str:
    hint = schema.did_you_mean(name, profiles)
    known = ", ".join(profiles) or "none"
    return f"unknown profile '{name}'{hint}; profiles: {known}"


def _choose_profile(raw: dict, profile: str | None, environ: Mapping[str, str], path: Path) -> str | None:
    profiles = raw.get("profiles") or {}
    from_env = environ.get(PROFILE_ENV)
    for source, value in (("--profile", profile), (PROFILE_ENV, from_env)):
        if value is not None and not value.strip():
            # what `--profile "$ENV"` gives when ENV is unset: never quietly the default profile
            problem = f"an empty profile name (an unset variable?); profiles: {', '.join(profiles) or 'none'}"
            raise ConfigError([ConfigProblem(str(path), source, problem)])
        if value is not None:
            break
    chosen = profile or from_env or raw.get("default_profile")
    if chosen is None:
        return None
    if chosen not in profiles:
        source = "--profile" if profile else (PROFILE_ENV if from_env else "default_profile")
        raise ConfigError([ConfigProblem(str(path), source, _unknown_profile(chosen, profiles))])
    return chosen


def _merge_layers(raw: dict, name: str, profile: str | None) -> dict[str, tuple[Any, str]]:
    """Each key's winning value with the key path it came from (for error messages)."""
    layers: list[tuple[Any, str]] = [
        (raw.get("defaults"), "defaults"),
        (raw["databases"][name], f"databases.{name}"),
    ]
    if profile is not None:
        entry = (raw.get("profiles") or {}).get(profile) or {}
        layers.append((entry.get("defaults"), f"profiles.{profile}.defaults"))
        layers.append(((entry.get("databases") or {}).get(name), f"profiles.{profile}.databases.{name}"))
    merged: dict[str, tuple[Any, str]] = {}
    for layer, where in layers:
        for key, value in (layer or {}).items():
            if key in schema.SECTIONS:  # merged key by key: a profile may change one hook and keep the rest
                for sub, item in (value or {}).items():
                    merged[f"{key}.{sub}"] = (item, f"{where}.{key}.{sub}")
            else:
                merged[key] = (value, f"{where}.{key}")
    return merged


def _section(cls: type, name: str, values: dict, merged: dict) -> Any:
    """The ``autogenerate`` or ``hooks`` settings from the merged ``name.key`` values."""
    prefix = f"{name}."
    found = {k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix)}
    where = tuple((k, merged[prefix + k][1]) for k in found)
    if "exclude_tables" in found:
        found["exclude_tables"] = tuple(found["exclude_tables"] or ())
    if "compare_type" in found and found["compare_type"] is None:
        found["compare_type"] = True
    for key in ("include_schemas", "compare_server_default"):
        if key in found and found[key] is None:
            found[key] = False
    return cls(**found, where=where)


def _expand(value: Any, where: str, environ: Mapping[str, str], problems: schema.Problems) -> Any:
    if isinstance(value, str):
        if "\0" in value:
            problems.append((where, "contains a NUL character"))
            return None
        try:
            return expand(value, environ)
        except MissingVariable as e:
            problems.append((where, f"environment variable {e.name} is not set"))
        except BadReference:
            # the text after '${' is not echoed: in a URL it may be part of a password
            problems.append((where, "malformed ${...} reference: use ${NAME} or ${NAME:-default} ($$ for a '$')"))
        return None
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]", environ, problems) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}", environ, problems) for k, v in value.items()}
    return value


def _build_database(
    name: str, merged: dict, root: Path, environ: Mapping[str, str], problems: schema.Problems
) -> Database | None:
    before = len(problems)
    for key in ("url", "bases"):
        if key not in merged:
            problems.append((f"databases.{name}", f"missing '{key}'"))
    values = {k: _expand(v, where, environ, problems) for k, (v, where) in merged.items()}
    if len(problems) > before:
        return None
    values = {**DEFAULTS, **values}
    for key in _TIMEOUTS:
        seconds = values[key] if key == "connect_timeout" else schema.parse_duration(values[key])
        if seconds is not None and not seconds <= MAX_SECONDS:  # also inf
            problems.append((merged[key][1], f"too long: at most {MAX_SECONDS} seconds ({MAX_SECONDS_WHY})"))
    if len(problems) > before:
        return None
    url = _resolve_url(values["url"], root, merged["url"][1], problems)
    if url is None:
        return None
    bases = tuple(
        Base(
            b["label"],
            _folder(root / b["path"]),
            _baseline(b.get("baseline"), root, f"{merged['bases'][1]}[{i}]", problems),
        )
        for i, b in enumerate(values["bases"])
    )
    if len(problems) > before:
        return None
    return Database(
        name=name,
        url=url,
        bases=bases,
        metadata=values["metadata"],
        version_table=values["version_table"],
        version_table_schema=values["version_table_schema"],
        batch=values["batch"],
        depends_on=tuple(values["depends_on"]),
        connect_timeout=values["connect_timeout"],
        transaction=values["transaction"],
        migration_lock_timeout=schema.parse_duration(values["migration_lock_timeout"]) or 300.0,
        lock_timeout=schema.parse_duration(values["lock_timeout"]),
        statement_timeout=schema.parse_duration(values["statement_timeout"]),
        lock_retries=values["lock_retries"],
        fleet=_build_fleet(values.get("fleet"), merged.get("fleet", (None, ""))[1], root, problems),
        bases_key=merged["bases"][1],
        autogenerate=_section(Autogenerate, "autogenerate", values, merged),
        hooks=_section(RunHooks, "hooks", values, merged),
        lint_since=values["lint_since"],
        lint_allow=tuple(values["lint_allow"]),
        lint_large_table_rows=values["lint_large_table_rows"],
    )


def _baseline(raw: dict | None, root: Path, where: str, problems: schema.Problems) -> Baseline | None:
    """A base's baseline, its SQL files resolved against the config's folder (each must exist)."""
    if raw is None:
        return None
    files = []
    for dialect, name in (raw.get("sql") or {}).items():
        path = _folder(root / name)
        if not path.is_file():
            problems.append((f"{where}.baseline.sql.{dialect}", f"no such file {path}"))
        files.append((dialect, path))
    return Baseline(metadata=raw.get("metadata"), sql=tuple(files))


def _folder(path: Path) -> Path:
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # a symlink loop: reported, naming the folder, when its history loads
        return Path(os.path.abspath(path))


def _build_fleet(raw: dict | None, where: str, root: Path, problems: schema.Problems) -> Fleet | None:
    if raw is None:
        return None
    names = tuple(raw.get("names") or ())
    query_url = raw.get("query_url")
    if query_url:
        query_url = _resolve_url(query_url, root, f"{where}.query_url", problems)
    return Fleet(by=raw["by"], names=names, query=raw.get("query"), command=raw.get("command"), query_url=query_url)


def sqlite_file(url: Any) -> str | None:
    """The file path of a parsed SQLite URL (also inside a ``file:`` URI filename); None for memory."""
    name = url.database or ""
    if name.startswith("file:"):  # sqlite:///file:PATH?mode=rwc&uri=true
        if url.query.get("mode") == "memory":
            return None
        name = name[len("file:") :]
    return None if name in ("", ":memory:") else name


_UNENCODED_AT = "the password holds an unencoded '@': percent-encode it in the URL ('@' as %40, ':' as %3A, '/' as %2F)"
# what SQLAlchemy's URL grammar takes as user:password@ (the password ends at the first '@')
_USERINFO = re.compile(r"^[\w+]+://(?:[^:/]*(?::[^@]*)?@)?")


def _unencoded_at(url: str) -> bool:
    """A password with a raw '@' ends at that '@': the rest of it would be read as the host or the path.

    An '@' after a password's end (in the host, the database name or the query) is refused on a
    server URL; a real one there can be percent-encoded too. SQLite file paths are left alone.
    """
    parsed = _parsed_or_none(url)
    if parsed is None or parsed.password is None or parsed.get_backend_name() == "sqlite":
        return False
    rest = url[_USERINFO.match(url).end() :]  # type: ignore[union-attr]  # make_url matched the same
    return "@" in rest


def _resolve_url(url: str, root: Path, where: str, problems: schema.Problems) -> str | None:
    """Parse the URL, and make a relative SQLite file path relative to the config file."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # never echo the URL itself: it may carry a password
        problems.append((where, "not a valid database URL (expected dialect+driver://user:password@host/dbname)"))
        return None
    if _unencoded_at(url):
        problems.append((where, _UNENCODED_AT))
        return None
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        problems.append((where, f"unknown database dialect or driver '{parsed.drivername}' in the URL"))
        return None
    path = sqlite_file(parsed) if parsed.get_backend_name() == "sqlite" else None
    if path is not None and not Path(path).is_absolute():
        uri = (parsed.database or "").startswith("file:")
        resolved = ("file:" if uri else "") + str((root / path).resolve())
        rendered = parsed.set(database=resolved).render_as_string(hide_password=False)
        return rendered.replace("%7Btenant%7D", "{tenant}")  # a fleet's placeholder stays readable
    return url


def _check_cross(
    path: Path, raw: dict, databases: dict[str, Database], template: Path | None, problems: schema.Problems
) -> None:
    owners: dict[Path, str] = {}
    for name, db in databases.items():
        labels: set[str] = set()
        for i, base in enumerate(db.bases):
            where = f"{db.bases_key}[{i}]"  # where the YAML sets it: the entry, its profile or defaults
            if base.label in labels:
                problems.append((f"{where}.label", f"duplicate label '{base.label}' in database '{name}'"))
            labels.add(base.label)
            owner = owners.get(base.path)
            if owner is not None:
                whose = "this database" if owner == name else f"database '{owner}'"
                problems.append((f"{where}.path", f"folder {base.path} is already claimed by {whose}"))
            owners.setdefault(base.path, name)
        for dep in db.depends_on:
            if dep == name:
                problems.append((f"databases.{name}.depends_on", "a database cannot depend on itself"))
            elif dep not in raw["databases"]:
                hint = schema.did_you_mean(dep, raw["databases"])
                problems.append((f"databases.{name}.depends_on", f"unknown database '{dep}'{hint}"))
    for name, db in databases.items():
        fleet = db.fleet
        where = f"databases.{name}.fleet"
        if fleet is None:
            continue
        if fleet.by == "database" and "{tenant}" not in db.url:
            problems.append((f"{where}.by", "'by: database' needs '{tenant}' in the URL, where each name goes"))
        if fleet.by == "schema" and db.dialect == "sqlite":
            problems.append((f"{where}.by", "SQLite has no schemas: use 'by: database' with '{tenant}' in the path"))
        if fleet.by == "url" and any(":" not in n for n in fleet.names):
            problems.append((f"{where}.names", "'by: url' needs full database URLs"))
        elif fleet.by == "url" and any(map(_unencoded_at, fleet.names)):
            problems.append((f"{where}.names", _UNENCODED_AT))
    _check_shared_version_tables(databases, problems)
    if template is not None and template.name != "script.py.mako":
        problems.append(("revision_template", "Alembic needs the template file to be named script.py.mako"))
    cycle = _find_cycle(databases)
    if cycle:
        problems.append(("databases", "depends_on forms a cycle: " + " -> ".join(cycle)))


def _parsed_or_none(url: str) -> Any:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        return None


_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433, "oracle": 1521}


def _version_table_home(db: Database) -> tuple | None:
    """Where ``db``'s version table lives, as comparable data; None when each target has its own."""
    if db.fleet is not None and db.fleet.by in ("schema", "url"):
        return None
    url = _parsed_or_none(db.url)
    if url is None:
        return None
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = sqlite_file(url)
        if path is None:  # an in-memory database is the connection's own
            return None
        server: tuple = (os.path.realpath(path),)
    else:
        server = ((url.host or "").lower(), url.port or _DEFAULT_PORTS.get(backend), url.database)
        if backend == "postgresql" and db.version_table_schema is None:
            # an unqualified table is found through search_path: "$user", public, or the URL's options
            server += (url.username, url.query.get("options"))
    return (backend, *server, db.version_table_schema, db.version_table)


def _check_shared_version_tables(databases: dict[str, Database], problems: schema.Problems) -> None:
    """Two entries on one database may share it, but never its version table: each would rewrite the other's rows."""
    homes: dict[tuple, str] = {}
    for name, db in databases.items():
        home = _version_table_home(db)
        if home is None:
            continue
        other = homes.setdefault(home, name)
        if other != name:
            table = f"{db.version_table_schema}.{db.version_table}" if db.version_table_schema else db.version_table
            problems.append(
                (
                    f"databases.{name}",
                    f"same database and version table ({table}) as database '{other}': each history would "
                    "overwrite the other's version rows; give one its own version_table",
                )
            )


def _find_cycle(databases: dict[str, Database]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> list[str] | None:
        if state.get(name) == 1:
            return [*trail[trail.index(name) :], name]
        if state.get(name) == 2 or name not in databases:
            return None
        state[name] = 1
        for dep in databases[name].depends_on:
            found = visit(dep, [*trail, name])
            if found:
                return found
        state[name] = 2
        return None

    for name in databases:
        found = visit(name, [])
        if found:
            return found
    return None


def _dependency_order(databases: dict[str, Database]) -> dict[str, Database]:
    """Declaration order, moved only as far as ``depends_on`` requires (stable topological sort)."""
    ordered: dict[str, Database] = {}

    def place(name: str) -> None:
        if name in ordered or name not in databases:
            return
        for dep in databases[name].depends_on:
            place(dep)
        ordered[name] = databases[name]

    for name in databases:
        place(name)
    return ordered

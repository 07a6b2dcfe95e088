"""The shape of a config file: which keys exist where, and what type each one takes.

Checks here look at one raw YAML mapping at a time and collect problems; they never stop
at the first one, so a user sees everything that is wrong in a single run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Problems = list[tuple[str, str]]  # (key path, problem)

BATCH_MODES = ("auto", "always", "never")
TRANSACTION_MODES = ("per_revision", "per_run")


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_opt_str(v: Any) -> bool:
    return v is None or isinstance(v, str)


def is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(i, str) for i in v)


def _is_pos_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def is_command(v: Any) -> bool:
    """A command line that shell-style splitting accepts and that names a program."""
    import shlex

    try:
        return isinstance(v, str) and bool(shlex.split(v))
    except ValueError:  # an unclosed quote
        return False


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], bool]:
    return lambda v: v in choices


DURATION = "a duration: seconds (30, 0.5) or a string like '500ms', '5s', '2min', '1h'"
_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> float | None:
    """Seconds from a number or a string with a unit; None when it is not a positive duration."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if value > 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz ")
    unit = text[len(number) :].strip() or "s"
    try:
        seconds = float(number) * _UNITS[unit]
    except (ValueError, KeyError):
        return None
    return seconds if seconds > 0 else None


# key -> (check, what the check wants, in words)
DATABASE_KEYS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "url": (_is_str, "a database URL string"),
    "bases": (lambda v: isinstance(v, list), "a list of {label, path} mappings"),
    "metadata": (_is_opt_str, "an import path like 'package.module:metadata'"),
    "version_table": (_is_str, "a table name"),
    "version_table_schema": (_is_opt_str, "a schema name"),
    "batch": (_one_of(BATCH_MODES), "one of " + ", ".join(BATCH_MODES)),
    "depends_on": (is_str_list, "a list of database names"),
    "connect_timeout": (_is_pos_number, "a number of seconds greater than 0"),
    "transaction": (_one_of(TRANSACTION_MODES), "one of " + ", ".join(TRANSACTION_MODES)),
    "migration_lock_timeout": (lambda v: parse_duration(v) is not None, DURATION),
    "lock_timeout": (lambda v: v is None or parse_duration(v) is not None, DURATION),
    "statement_timeout": (lambda v: v is None or parse_duration(v) is not None, DURATION),
    "lock_retries": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a whole number >= 0"),
    "fleet": (lambda v: v is None or isinstance(v, dict), "a mapping: {by, names | query | command}"),
    "autogenerate": (lambda v: v is None or isinstance(v, dict), "a mapping: {exclude_tables, include_object, ...}"),
    "hooks": (lambda v: v is None or isinstance(v, dict), "a mapping: {on_connect, before_migrate, ...}"),
    "lint_since": (_is_opt_str, "a revision id"),
    "lint_allow": (is_str_list, "a list of lint rule ids (see 'multidb lint --help')"),
    "lint_large_table_rows": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "a whole number of rows >= 1",
    ),
}
_REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
REFERENCE = "a 'module:function' reference"


def is_reference(v: Any) -> bool:
    """``package.module:attr``: what a hook key names (imported only when the hook is needed)."""
    return isinstance(v, str) and bool(_REFERENCE.match(v))


def _is_opt_ref(v: Any) -> bool:
    return v is None or is_reference(v)


def _is_bool_or_ref(v: Any) -> bool:
    return v is None or isinstance(v, bool) or is_reference(v)


AUTOGENERATE_KEYS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "exclude_tables": (lambda v: v is None or is_str_list(v), "a list of table names or globs like 'tmp_*'"),
    "include_object": (_is_opt_ref, REFERENCE),
    "include_name": (_is_opt_ref, REFERENCE),
    "include_schemas": (lambda v: v is None or isinstance(v, bool), "true or false"),
    "compare_type": (_is_bool_or_ref, f"true, false or {REFERENCE}"),
    "compare_server_default": (_is_bool_or_ref, f"true, false or {REFERENCE}"),
    "render_item": (_is_opt_ref, REFERENCE),
    "user_module_prefix": (_is_opt_str, "a module prefix like 'myapp.types.'"),
    "process_revision_directives": (_is_opt_ref, REFERENCE),
}
HOOK_KEYS: dict[str, tuple[Callable[[Any], bool], str]] = {
    name: (_is_opt_ref, REFERENCE) for name in ("on_connect", "before_migrate", "after_migrate", "after_each_revision")
}
SECTIONS = {"autogenerate": AUTOGENERATE_KEYS, "hooks": HOOK_KEYS}
FLEET_BY = ("schema", "database", "url")
BASELINE_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb")
FLEET_KEYS = ("by", "names", "query", "command", "query_url")
BASE_KEYS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "label": (_is_str, "a branch label"),
    "path": (_is_str, "a folder path"),
}
TOP_KEYS = (
    "default_profile",
    "python_path",
    "revision_template",
    "post_write_hooks",
    "defaults",
    "databases",
    "profiles",
)
PROFILE_KEYS = ("description", "protected", "defaults", "databases")


def type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "true/false"}.get(
        type(value), {int: "an integer", float: "a number"}.get(type(value), f"a {type(value).__name__}")
    )


def did_you_mean(word: Any, known: Any, shown: str = "{}") -> str:
    """`` (did you mean 'X'?)`` for the closest of ``known`` (``shown`` formats it), else nothing."""
    import difflib  # only a mistake needs it

    guess = difflib.get_close_matches(str(word), [str(k) for k in known], n=1)
    return f" (did you mean '{shown.format(guess[0])}'?)" if guess else ""


def unknown_key(key: Any, known: Any) -> str:
    return f"unknown key '{key}'{did_you_mean(key, known)}"


def check_mapping(value: Any, where: str, problems: Problems) -> bool:
    if isinstance(value, dict):
        return True
    problems.append((where, f"expected a mapping, got {type_name(value)}"))
    return False


def check_keys(raw: dict, known: Any, where: str, problems: Problems) -> None:
    for key in raw:
        if key not in known:
            problems.append((join(where, str(key)), unknown_key(key, known)))


def join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def check_database_entry(raw: Any, where: str, problems: Problems) -> None:
    """Check one (possibly partial) database mapping: keys, types and its bases."""
    if not check_mapping(raw, where, problems):
        return
    check_keys(raw, DATABASE_KEYS, where, problems)
    for key, value in raw.items():
        if key not in DATABASE_KEYS:
            continue
        ok, wanted = DATABASE_KEYS[key]
        if not ok(value):
            # never echo a URL-like value: it may carry a password
            shown = "" if key == "url" or value is None or isinstance(value, (dict, list)) else f" {value!r}"
            problems.append((join(where, key), f"expected {wanted}, got {type_name(value)}{shown}"))
        elif key == "bases":
            _check_bases(value, join(where, key), problems)
        elif key == "fleet" and value is not None:
            _check_fleet(value, join(where, key), problems)
        elif key in SECTIONS and value is not None:
            _check_section(value, SECTIONS[key], join(where, key), problems)


def _check_section(raw: dict, known: dict, where: str, problems: Problems) -> None:
    check_keys(raw, known, where, problems)
    for key, value in raw.items():
        if key in known and not known[key][0](value):
            shown = f" {value!r}" if isinstance(value, str) else ""
            problems.append((join(where, key), f"expected {known[key][1]}, got {type_name(value)}{shown}"))


def _check_bases(bases: list, where: str, problems: Problems) -> None:
    if not bases:
        problems.append((where, "needs at least one base ({label, path})"))
    for i, base in enumerate(bases):
        at = f"{where}[{i}]"
        if not check_mapping(base, at, problems):
            continue
        check_keys(base, (*BASE_KEYS, "baseline"), at, problems)
        for key, (ok, wanted) in BASE_KEYS.items():
            if key not in base:
                problems.append((at, f"missing '{key}'"))
            elif not ok(base[key]):
                problems.append((f"{at}.{key}", f"expected {wanted}, got {type_name(base[key])}"))
        if "baseline" in base:
            _check_baseline(base["baseline"], f"{at}.baseline", problems)


def _check_baseline(baseline: Any, where: str, problems: Problems) -> None:
    """``{metadata: module:attr}`` or ``{sql: {dialect: file, ...}}``: the schema a base's history starts from."""
    if not check_mapping(baseline, where, problems):
        return
    check_keys(baseline, ("metadata", "sql"), where, problems)
    given = [key for key in ("metadata", "sql") if key in baseline]
    if len(given) > 1 or not baseline:  # a misspelt key alone is reported as such, above
        problems.append((where, "give exactly one of 'metadata' (module:attr) or 'sql' (a file per dialect)"))
    if "metadata" in baseline and not (isinstance(baseline["metadata"], str) and ":" in baseline["metadata"]):
        problems.append((f"{where}.metadata", "expected an import path like 'package.initial_models:metadata'"))
    sql = baseline.get("sql")
    if "sql" not in baseline:
        return
    if not isinstance(sql, dict) or not sql:
        problems.append((f"{where}.sql", "expected a mapping of dialect to SQL file, e.g. {sqlite: baseline.sql}"))
        return
    for dialect, path in sql.items():
        if dialect not in BASELINE_DIALECTS:
            hint = did_you_mean(dialect, BASELINE_DIALECTS)
            problems.append(
                (f"{where}.sql.{dialect}", f"unknown dialect '{dialect}'{hint}; known: {', '.join(BASELINE_DIALECTS)}")
            )
        elif not isinstance(path, str) or not path:
            problems.append((f"{where}.sql.{dialect}", f"expected a SQL file path, got {type_name(path)}"))


def _check_fleet(fleet: dict, where: str, problems: Problems) -> None:
    check_keys(fleet, FLEET_KEYS, where, problems)
    if fleet.get("by") not in FLEET_BY:
        problems.append((f"{where}.by", "expected one of " + ", ".join(FLEET_BY)))
    sources = [k for k in ("names", "query", "command") if fleet.get(k) is not None]
    if len(sources) != 1:
        problems.append((where, "give exactly one of 'names', 'query' or 'command'"))
    if "names" in fleet and not is_str_list(fleet["names"]):
        problems.append((f"{where}.names", "expected a list of strings"))
    for key in ("query", "command", "query_url"):
        if fleet.get(key) is not None and not isinstance(fleet[key], str):
            problems.append((f"{where}.{key}", "expected a string"))

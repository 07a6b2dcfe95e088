"""Read the ``[tool.alembic]`` table of a ``pyproject.toml`` as Alembic 1.16+ reads it.

Alembic's ``pyproject`` template keeps every setting but the database URL (and logging) there:
``script_location``, ``version_locations`` and ``prepend_sys_path`` as TOML lists, ``file_template``,
``[[tool.alembic.post_write_hooks]]``. Each string gets Alembic's ``%``-substitution: ``%(here)s`` is the
file's folder and ``%%`` a literal ``%``. The file is read with the standard library's ``tomllib``, so
reading it does not depend on the installed Alembic (1.13 to 1.15 never read it).

Only the keys ``multidb import`` uses are checked; a wrong one is one line naming the file (exit 2).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ..errors import UsageError

NAME = "pyproject.toml"
_STRINGS = ("script_location", "file_template")
_LISTS = ("version_locations", "prepend_sys_path")


def read_tool_alembic(path: Path) -> dict[str, Any] | None:
    """The ``[tool.alembic]`` table of ``path``, its strings substituted; None when the file has none."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        reason = getattr(e, "strerror", None) or str(e).splitlines()[0]
        raise UsageError(f"{path}: cannot be read as TOML ({reason})") from None
    tool = data.get("tool", {})
    table = tool.get("alembic") if isinstance(tool, dict) else None
    if table is None:
        if not isinstance(tool, dict):
            raise UsageError(f"{path}: [tool] is not a table")
        return None
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.alembic] is not a table (Alembic: 'Incorrect TOML format')")
    here = {"here": path.parent.resolve().as_posix()}
    settings: dict[str, Any] = {}
    for key in _STRINGS:
        if key in table:
            if not isinstance(table[key], str):
                raise UsageError(f"{path}: [tool.alembic] {key}: a string expected")
            settings[key] = _substitute(path, key, table[key], here)
    for key in _LISTS:
        if key in table:
            value = table[key]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(
                    f'{path}: [tool.alembic] {key}: a list of strings expected, as Alembic reads it ({key} = ["..."])'
                )
            settings[key] = [_substitute(path, key, v, here) for v in value]
    if "post_write_hooks" in table:
        settings["post_write_hooks"] = _hooks(path, table["post_write_hooks"], here)
    return settings


def _hooks(path: Path, value: object, here: dict[str, str]) -> list[dict[str, str]]:
    """``[[tool.alembic.post_write_hooks]]``: tables of strings, each with a ``name``."""
    ok = isinstance(value, list) and all(
        isinstance(h, dict) and isinstance(h.get("name"), str) and all(isinstance(v, str) for v in h.values())
        for h in value
    )
    if not ok:
        raise UsageError(
            f"{path}: [tool.alembic] post_write_hooks: [[tool.alembic.post_write_hooks]] tables of strings "
            "expected, each with a name"
        )
    return [{k: _substitute(path, "post_write_hooks", v, here) for k, v in h.items()} for h in value]  # type: ignore[union-attr]


def _substitute(path: Path, key: str, value: str, here: dict[str, str]) -> str:
    """Alembic's ``value % {"here": ...}``: an unknown ``%(name)s`` or a lone ``%`` is refused as Alembic fails."""
    try:
        return value % here
    except KeyError as e:
        raise UsageError(
            f"{path}: [tool.alembic] {key}: unknown %({e.args[0]})s in '{value}' (Alembic knows %(here)s; "
            "write %% for a literal %)"
        ) from None
    except (ValueError, TypeError):
        raise UsageError(f"{path}: [tool.alembic] {key}: a lone % in '{value}' (write %% for a literal %)") from None

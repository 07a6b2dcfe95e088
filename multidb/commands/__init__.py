"""The operations behind the CLI: plain functions over a loaded Project.

They return data (see :mod:`multidb.results`) and raise :class:`~multidb.errors.MultiDBError`;
they never print or exit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Each command's module is imported when the command is first used, so that `multidb upgrade` does
# not pay for autogenerate, adopt or init (start-up time is measured: docs/benchmarks.md).
_HOMES = {  # (adopt: import it from .adopt, since the submodule's name shadows it here)
    "check": "authoring",
    "merge": "authoring",
    "revision": "authoring",
    "branches": "inspect",
    "current": "inspect",
    "heads": "inspect",
    "history": "inspect",
    "list_databases": "inspect",
    "show": "inspect",
    "status": "inspect",
    "RunOptions": "migrate",
    "downgrade": "migrate",
    "stamp": "migrate",
    "upgrade": "migrate",
    "init": "scaffold",
}

if TYPE_CHECKING:
    from .authoring import check, merge, revision
    from .inspect import branches, current, heads, history, list_databases, show, status
    from .migrate import RunOptions, downgrade, stamp, upgrade
    from .scaffold import init


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "RunOptions",
    "branches",
    "check",
    "current",
    "downgrade",
    "heads",
    "history",
    "init",
    "list_databases",
    "merge",
    "revision",
    "show",
    "stamp",
    "status",
    "upgrade",
]

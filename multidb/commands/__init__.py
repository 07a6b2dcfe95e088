"""The operations behind the CLI: plain functions over a loaded Project.

They return data (see :mod:`multidb.results`) and raise :class:`~multidb.errors.MultiDBError`;
they never print or exit.
"""

from __future__ import annotations

from .adopt import adopt
from .authoring import check, merge, revision
from .inspect import branches, current, heads, history, list_databases, show, status
from .migrate import RunOptions, downgrade, stamp, upgrade
from .scaffold import init

__all__ = [
    "RunOptions",
    "adopt",
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

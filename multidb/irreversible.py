"""Irreversible revisions: a ``downgrade()`` that raises :class:`multidb.Irreversible` unconditionally.

Such a revision is a wall. ``downgrade`` refuses a target that would undo it, before anything
changes; the plugin's stairway and clean-downgrade tests test up to it and from it. The mark is
found by reading the revision file's ``downgrade()`` (nothing runs, nothing connects), so offline
``--sql`` runs and the plugin see it too::

    def downgrade():
        raise Irreversible("the old prices are gone; restore a backup instead")
"""

from __future__ import annotations

import ast
import functools
import os
from pathlib import Path
from typing import Any

NAME = "Irreversible"


class CrossesIrreversible(ValueError):
    """A downgrade target would undo an irreversible revision; :func:`multidb.runner.revision_errors`
    turns it into :class:`multidb.errors.IrreversibleDowngrade` naming the database."""


def reason(script: Any) -> str | None:
    """Why the revision (an Alembic ``Script``) cannot be downgraded; None when it can.

    The reason is the message given to ``Irreversible`` (or ``"no reason given"``). Read from the
    revision's file (``Script.path``), once per version of the file.
    """
    path = getattr(script, "path", None)
    try:
        stat = os.stat(path) if path else None
    except OSError:
        return None
    from .alembic_config import file_version

    return _reason(path, file_version(stat)) if stat else None


@functools.lru_cache(maxsize=1024)
def _reason(path: str, _version: tuple[int, ...]) -> str | None:
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if NAME.encode() not in data:  # cheap: most revisions never mention it
        return None
    try:
        tree = ast.parse(data, path)
    except (SyntaxError, ValueError):  # a sourceless (.pyc) revision that names Irreversible: assume the mark
        return "no reason given"
    for function in tree.body:
        if isinstance(function, ast.FunctionDef) and function.name == "downgrade":
            for statement in function.body:  # only unconditional raises count: a raise inside an if does not
                if isinstance(statement, ast.Raise) and _names_irreversible(statement.exc):
                    return _message(statement.exc) or "no reason given"
    return None


def _names_irreversible(node: ast.expr | None) -> bool:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id == NAME
    return isinstance(node, ast.Attribute) and node.attr == NAME


def _message(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        value = node.args[0].value
        return value if isinstance(value, str) and value.strip() else None
    return None


def walls(scripts: Any) -> list[Any]:
    """The irreversible revisions among ``scripts`` (Alembic ``Script`` objects), in the order given."""
    return [s for s in scripts if reason(s) is not None]


def refuse_crossing(steps: list) -> None:
    """Raise :class:`CrossesIrreversible` when a downgrade's steps would undo an irreversible revision."""
    for step in steps:
        script = getattr(step, "revision", None)
        why = reason(script) if script is not None else None
        if why is not None:
            from .runner import relative

            raise CrossesIrreversible(
                f"cannot downgrade past revision {script.revision} ({relative(script.path)}): it is irreversible "
                f"({why}); downgrade to {script.revision} at the lowest (nothing was changed)"
            )

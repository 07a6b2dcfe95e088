"""Split a lockstep history (one revision file per change, an ``upgrade_<engine>()`` per database)
into one history per database, with Python's ``ast``; the old files are only read.

For each database, walking the old history from its roots: a revision whose ``upgrade_<engine>`` or
``downgrade_<engine>`` does something (a body that is not just ``pass`` and a docstring) becomes a
revision of that database, under the same id, holding that code, the imports it uses and the
module-level helpers it uses. A revision with nothing for the database is left out, and maps to its
nearest kept ancestor; where two kept branches meet at a left-out merge, the merge is kept (empty),
so the history keeps its shape. The first revision of each database carries its name as branch label.
"""

from __future__ import annotations

import ast
import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError

_META = ("revision", "down_revision", "branch_labels", "depends_on")


@dataclass(frozen=True)
class OldRevision:
    revision: str
    parents: tuple[str, ...]
    depends_on: tuple[str, ...]
    branch_labels: tuple[str, ...]
    path: Path
    source: str
    tree: ast.Module


@dataclass(frozen=True)
class SplitResult:
    folders: dict[str, Path]  # database -> its new version folder
    mapping: dict[str, dict[str, str | None]]  # database -> old revision -> new revision (None: base)
    written: dict[str, list[str]]  # database -> new revision ids, in order


def _strings(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]


def read_history(folder: Path) -> list[OldRevision]:
    """Every revision file of ``folder``, parents before children (file order among equals)."""
    found: dict[str, OldRevision] = {}
    for path in sorted(folder.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(source, filename=str(path))
        except SyntaxError as e:
            raise UsageError(f"{path}, line {e.lineno}: cannot be parsed: {e.msg}") from None
        meta = revision_metadata(tree)
        if "revision" not in meta:
            continue
        rev = str(meta["revision"])
        if rev in found:
            raise UsageError(f"{path}: revision {rev} is also in {found[rev].path}")
        found[rev] = OldRevision(
            rev,
            _strings(meta.get("down_revision")),
            _strings(meta.get("depends_on")),
            _strings(meta.get("branch_labels")),
            path,
            source,
            tree,
        )
    return _ordered(found)


def revision_metadata(tree: ast.Module) -> dict[str, object]:
    """The literal revision, down_revision, branch_labels and depends_on of a revision file (not imported)."""
    values: dict[str, object] = {}
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        for target in targets:
            if isinstance(target, ast.Name) and target.id in _META and node.value is not None:
                with contextlib.suppress(ValueError):  # a computed value: not a literal we can read
                    values[target.id] = ast.literal_eval(node.value)
    return values


def _ordered(found: dict[str, OldRevision]) -> list[OldRevision]:
    order: list[OldRevision] = []
    placed: set[str] = set()

    def place(rev: OldRevision, trail: tuple[str, ...]) -> None:
        if rev.revision in placed:
            return
        for parent in rev.parents:
            if parent not in found:
                raise UsageError(f"{rev.path}: its down_revision {parent} is in no file of {rev.path.parent}")
            if parent in trail:
                raise UsageError(f"{rev.path}: the revisions form a cycle through {parent}")
            place(found[parent], (*trail, rev.revision))
        placed.add(rev.revision)
        order.append(rev)

    for rev in found.values():
        place(rev, ())
    return order


def _function(tree: ast.Module, name: str) -> ast.FunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


def does_something(fn: ast.FunctionDef | None) -> bool:
    """A body that is more than ``pass``, ``...`` and docstrings."""
    if fn is None:
        return False
    return any(
        not isinstance(stmt, ast.Pass) and not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
        for stmt in fn.body
    )


def split(history: list[OldRevision], engines: dict[str, str], out: Path, source_label: str) -> SplitResult:
    """Write each database's history into ``out/<database>_versions``. ``engines`` maps database -> engine name."""
    folders, mapping, written = {}, {}, {}
    for database in engines:  # every folder is checked before any is written
        folder = out / f"{database}_versions"
        if folder.exists() and any(folder.glob("*.py")):
            raise UsageError(
                f"{folder} already holds revision files; remove them (or pass another --out) to split again"
            )
    for database, engine in engines.items():
        folder = out / f"{database}_versions"
        folder.mkdir(parents=True, exist_ok=True)
        mapping[database], written[database] = _split_one(history, database, engine, folder, source_label)
        folders[database] = folder
    return SplitResult(folders, mapping, written)


def _split_one(
    history: list[OldRevision], database: str, engine: str, folder: Path, source_label: str
) -> tuple[dict[str, str | None], list[str]]:
    mapped: dict[str, str | None] = {}
    ancestors: dict[str, set[str]] = {}  # kept revision -> every kept revision below it
    kept: list[str] = []
    for rev in history:
        parents = _without_ancestors([m for p in rev.parents if (m := mapped[p]) is not None], ancestors)
        up = _function(rev.tree, f"upgrade_{engine}")
        down = _function(rev.tree, f"downgrade_{engine}")
        if not (does_something(up) or does_something(down) or len(parents) > 1):
            mapped[rev.revision] = parents[0] if parents else None
            continue
        labels = (database,) if not kept else ()
        labels = tuple(dict.fromkeys((*labels, *rev.branch_labels)))
        depends = [m for d in rev.depends_on if (m := mapped.get(d)) and m not in parents]
        text = render_revision(rev, engine, up, down, parents, labels, depends, source_label)
        (folder / rev.path.name).write_text(text, encoding="utf-8")
        mapped[rev.revision] = rev.revision
        ancestors[rev.revision] = set(parents).union(*(ancestors[p] for p in parents))
        kept.append(rev.revision)
    return mapped, kept


def _without_ancestors(revs: list[str], ancestors: dict[str, set[str]]) -> list[str]:
    unique = list(dict.fromkeys(revs))
    return [r for r in unique if not any(r in ancestors[o] for o in unique if o != r)]


def _literal(values: list[str] | tuple[str, ...]) -> str:
    if not values:
        return "None"
    return repr(values[0]) if len(values) == 1 else repr(tuple(values))


def render_revision(
    rev: OldRevision,
    engine: str,
    up: ast.FunctionDef | None,
    down: ast.FunctionDef | None,
    parents: list[str],
    labels: tuple[str, ...],
    depends: list[str],
    source_label: str,
) -> str:
    lines = rev.source.splitlines()
    functions = [fn for fn in (up, down) if fn is not None and does_something(fn)]
    helpers, imports = _needed(rev.tree, functions)
    doc = (ast.get_docstring(rev.tree) or "").split("\n\n")[0].strip().replace(chr(34) * 3, "'''") or rev.revision
    created = re.search(r"^Create Date: (.*)$", ast.get_docstring(rev.tree) or "", re.MULTILINE)
    header = [
        f'"""{doc}',
        "",
        f"Revision ID: {rev.revision}",
        f"Revises: {', '.join(parents)}",
        *([f"Create Date: {created.group(1)}"] if created else []),
        "",
        f"Split by 'multidb import --split' from {source_label}/{rev.path.name}:",
        f"its upgrade_{engine}() and downgrade_{engine}().",
        '"""',
    ]
    parts = ["\n".join(header)]
    if imports:
        parts.append("\n".join(_segment(lines, node) for node in imports))  # one block, as they were
    parts.append(
        "\n".join(
            [
                f"revision = {rev.revision!r}",
                f"down_revision = {_literal(parents)}",
                f"branch_labels = {_literal(labels)}",
                f"depends_on = {_literal(depends)}",
            ]
        )
    )
    parts += [_segment(lines, node) for node in helpers]
    parts.append(_renamed(lines, up, f"upgrade_{engine}", "upgrade"))
    parts.append(_renamed(lines, down, f"downgrade_{engine}", "downgrade"))
    return "\n\n\n".join(parts) + "\n"


def _segment(lines: list[str], node: ast.stmt) -> str:
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return "\n".join(lines[start - 1 : node.end_lineno])


def _renamed(lines: list[str], fn: ast.FunctionDef | None, old: str, new: str) -> str:
    if fn is None or not does_something(fn):
        return f"def {new}() -> None:\n    pass"
    text = _segment(lines, fn)
    return re.sub(rf"\bdef\s+{re.escape(old)}\s*\(", f"def {new}(", text, count=1)


def _names(nodes: list[ast.AST]) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)}


def _bound(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _needed(tree: ast.Module, functions: list[ast.FunctionDef]) -> tuple[list[ast.stmt], list[ast.stmt]]:
    """The module-level helpers (in file order) and imports the functions use, directly or through a helper."""
    skip = set(_META) | {"upgrade", "downgrade"}
    helpers = [
        node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign))
        and not (_bound(node) & skip)
        and not any(re.match(r"^(upgrade|downgrade)_", name) for name in _bound(node))
    ]
    wanted = _names(functions)
    chosen: list[ast.stmt] = []
    changed = True
    while changed:
        changed = False
        for node in helpers:
            if node not in chosen and _bound(node) & wanted:
                chosen.append(node)
                wanted |= _names([node])
                changed = True
    imports = [
        node
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        and (
            _bound(node) & wanted
            or (isinstance(node, ast.ImportFrom) and node.module == "__future__")
            or "*" in _bound(node)
        )
    ]
    return [n for n in tree.body if n in chosen], imports

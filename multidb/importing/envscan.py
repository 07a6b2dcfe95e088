"""What an ``env.py`` did that multidb's shared environment does not do by itself.

A plain text scan, line by line: it finds the customizations teams make (Alembic's cookbook and
templates), not every possible one. Each finding names the multidb setting that replaces it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# (pattern, what it is, the multidb replacement)
RULES: tuple[tuple[str, str, str], ...] = (
    (
        r"\binclude_object\b",
        "include_object",
        "autogenerate: {include_object: module:function} or {exclude_tables: [...]}",
    ),
    (r"\binclude_name\b", "include_name", "autogenerate: {include_name: module:function}"),
    (r"\binclude_schemas\b", "include_schemas", "autogenerate: {include_schemas: true}"),
    (
        r"\bcompare_server_default\b",
        "compare_server_default",
        "autogenerate: {compare_server_default: true or module:function}",
    ),
    (r"\bcompare_type\b", "compare_type", "autogenerate: {compare_type: true, false or module:function}"),
    (r"\brender_item\b", "render_item", "autogenerate: {render_item: module:function}"),
    (r"\buser_module_prefix\b", "user_module_prefix", "autogenerate: {user_module_prefix: ...}"),
    (
        r"\bprocess_revision_directives\b",
        "process_revision_directives",
        "autogenerate: {process_revision_directives: module:function} (runs after multidb's own)",
    ),
    (r"(?i)\bSET\s+ROLE\b", "SET ROLE on connect", "hooks: {on_connect: module:function} (called with the connection)"),
    (r"(?i)\bsearch_path\b", "search_path on connect", "hooks: {on_connect: module:function}, or a fleet 'by: schema'"),
    (r"\bon_version_apply\b", "on_version_apply", "hooks: {after_each_revision: module:function}"),
    (
        r"\bget_x_argument\b",
        "-x arguments",
        "-x key=value on the multidb command; context.get_x_argument keeps working",
    ),
    (r"\bversion_table_schema\b", "version_table_schema", "version_table_schema: in the database's entry"),
    (
        r"\btransaction_per_migration\b",
        "transaction_per_migration",
        "transaction: per_revision (the default) or per_run",
    ),
    (r"\brender_as_batch\b", "render_as_batch", "batch: auto (SQLite only, the default), always or never"),
    (
        r"\b(async_engine_from_config|run_sync|asyncio)\b",
        "an async engine",
        "the async URL as it is (see 'Coming from env.py')",
    ),
    (r"\btarget_metadata\s*=(?!\s*None\b)", "target_metadata", "metadata: module:attribute in the database's entry"),
    (
        r"\bsys\.path\s*(\.\s*(insert|append|extend)\b|\[[^\]]*\]\s*=|\+=|=(?!=))|\bsite\.addsitedir\b",
        "sys.path changed in env.py",
        "python_path: [folder, ...] at the top of the config (relative to the config's folder)",
    ),
    (r"\bfileConfig\b", "logging.config.fileConfig", "nothing: multidb leaves your logging configuration alone"),
    (
        r"\b(exec_driver_sql|connection\.execute|conn\.execute)\b",
        "SQL run on connect",
        "hooks: {on_connect or before_migrate: module:function}",
    ),
)


@dataclass(frozen=True)
class Finding:
    env: Path
    line: int
    what: str
    replacement: str


def scan(env: Path) -> list[Finding]:
    """Each customization found in ``env`` (its first line per kind), in the order of the file."""
    try:
        text = env.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: dict[str, Finding] = {}
    for number, line in enumerate(text.splitlines(), 1):
        code = line.split("#", 1)[0]
        on_line = [rule for rule in RULES if re.search(rule[0], code)]
        for _, what, replacement in on_line:
            if what == "SQL run on connect" and len(on_line) > 1:
                continue  # the line's more specific finding (SET ROLE, search_path) says it
            found.setdefault(what, Finding(env, number, what, replacement))
    return sorted(found.values(), key=lambda f: f.line)


def target_metadata(env: Path) -> dict[str | None, str]:
    """``target_metadata`` of ``env`` as multidb's ``module:attribute`` paths, when the file says it plainly.

    ``from app.models import Base`` with ``target_metadata = Base.metadata`` gives ``{None:
    "app.models:Base.metadata"}``; the multidb template's dict (``{"users": users.metadata, ...}``) gives one
    path per engine name. Anything else (``current_app...``, a function call) gives nothing for it.
    """
    import ast

    try:
        tree = ast.parse(env.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return {}
    imported: dict[str, tuple[str, str]] = {}
    value = None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.update({a.asname or a.name: (node.module, a.name) for a in node.names})
        elif isinstance(node, ast.Import):
            imported.update({a.asname: (a.name, "") for a in node.names if a.asname})
            # ``import app.storage.models``: the dotted name itself is usable (``app.storage.models.Base``)
            imported.update({a.name: (a.name, "") for a in node.names if not a.asname})
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "target_metadata" for t in node.targets
        ):
            value = node.value
    if isinstance(value, ast.Dict):
        pairs = [
            (k.value, _path(v, imported))
            for k, v in zip(value.keys, value.values, strict=True)
            if isinstance(k, ast.Constant) and isinstance(k.value, str)
        ]
        return {key: path for key, path in pairs if path}
    path = _path(value, imported) if value is not None else None
    return {None: path} if path else {}


def _path(node: object, imported: dict[str, tuple[str, str]]) -> str | None:
    import ast

    attrs: list[str] = []
    while isinstance(node, ast.Attribute):
        attrs.insert(0, node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    # the longest imported name the expression starts with: ``app.storage.models`` of ``import
    # app.storage.models`` in ``app.storage.models.Base.metadata``, else the plain name
    names = [node.id, *attrs]
    used = next((n for n in range(len(names), 0, -1) if ".".join(names[:n]) in imported), 0)
    if not used:
        return None
    module, first = imported[".".join(names[:used])]
    parts = [p for p in (first, *names[used:]) if p]
    return f"{module}:{'.'.join(parts)}" if parts else None

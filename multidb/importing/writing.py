"""Turn a read Alembic project into ``config/multidb.yaml``.

URLs become ``${VAR}`` references: a value read from the ini is never written or shown, so a
password in ``sqlalchemy.url`` stays where it was. Each version folder becomes a base; its label
is the branch label the folder's root revision carries, else the database's name (multidb then
tells the folder's heads apart by the folder, and ``LABEL@head`` targets need the label in the file).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from .envscan import Finding, scan, target_metadata
from .source import SourceDatabase, SourceProject


@dataclass(frozen=True)
class PlannedBase:
    label: str
    path: Path
    labelled: bool  # the root revision of the folder carries the label
    root: str | None  # that root revision's id, when the folder has one


@dataclass(frozen=True)
class PlannedDatabase:
    name: str
    url_variable: str
    had_url: bool
    url_section: str  # the ini section of its sqlalchemy.url
    bases: tuple[PlannedBase, ...]
    version_table: str | None
    fleet: tuple[SourceDatabase, ...] = ()  # the ini sections that share this history, one target each
    metadata: str | None = None  # env.py's target_metadata, as module:attribute


@dataclass(frozen=True)
class ImportPlan:
    source: SourceProject
    config_path: Path
    databases: tuple[PlannedDatabase, ...]
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


def plan(source: SourceProject, config_path: Path, folders: dict[str, tuple[Path, ...]] | None = None) -> ImportPlan:
    """The config to write. ``folders`` overrides each database's version folders (after a split)."""
    databases = []
    notes = []
    groups: dict[tuple[Path, ...], list[SourceDatabase]] = {}
    for db in source.databases:  # sections sharing their version folders share one history: a fleet
        groups.setdefault((folders or {}).get(db.name, db.version_locations), []).append(db)
    taken = {db.name for db in source.databases}
    for paths, members in groups.items():
        db = members[0]
        bases = _bases(db, paths)
        fleet = tuple(members) if len(members) > 1 else ()
        name = _fleet_name(db, taken) if fleet else db.name
        metadata = _metadata(source, db)
        databases.append(
            PlannedDatabase(name, db.url_variable, db.had_url, db.url_section, bases, db.version_table, fleet, metadata)
        )
        if metadata:
            notes.append(f"{name}: env.py's target_metadata carried over as metadata: {metadata}")
        if fleet:
            names = ", ".join(m.name for m in members)
            notes.append(f"{name}: sections {names} share one history: one fleet entry (by: url), see docs/fleets.md")
        for base in bases:
            if not base.labelled and base.root:
                notes.append(
                    f"{name}: the history in {_rel(base.path, Path.cwd())} has no branch label; "
                    "multidb knows it by its folder. "
                    f"'{base.label}@head' targets work once its root revision {base.root} declares "
                    f"branch_labels = ('{base.label}',) (this changes no database)"
                )
    for folder in source.sys_paths:
        if not folder.is_dir():
            notes.append(
                f"prepend_sys_path: '{_rel(folder, source.ini.parent)}' is no folder next to {source.ini.name}: left "
                "out of python_path; if alembic ran from another folder, add the folder it meant to python_path"
            )
    if source.file_template:
        notes.append(
            f"file_template ({source.file_template}) is not carried over: multidb names new revision files "
            "<id>_<message>.py; the existing files keep their names"
        )
    carried = {db.script_location / "env.py" for db in databases_with_metadata(source)}
    findings = tuple(
        f for env in source.env_files for f in scan(env) if not (f.what == "target_metadata" and env in carried)
    )
    return ImportPlan(source, config_path, tuple(databases), findings, tuple(notes))


def _metadata(source: SourceProject, db: SourceDatabase) -> str | None:
    found = target_metadata(db.script_location / "env.py")
    if source.shape == "lockstep":
        engine = dict(zip((d.name for d in source.databases), source.engines, strict=True))[db.name]
        return found.get(engine)
    return found.get(None)


def databases_with_metadata(source: SourceProject) -> list[SourceDatabase]:
    """The databases whose env.py's target_metadata is carried over (its finding is then not reported)."""
    return [db for db in source.databases if _metadata(source, db)]


def _fleet_name(db: SourceDatabase, taken: set[str]) -> str:
    """The folder of the shared history (``tenants`` for ``script_location = tenants``), unless a section has it."""
    import re

    name = re.sub(r"[^A-Za-z0-9_-]+", "_", db.script_location.name).strip("_-") or "fleet"
    return name if name not in taken else f"{name}_fleet"


def _bases(db: SourceDatabase, paths: tuple[Path, ...]) -> tuple[PlannedBase, ...]:
    bases = []
    used: set[str] = set()
    for path in paths:
        root, labels = _root_labels(path)
        label = next((x for x in labels if x not in used), None)
        labelled = label is not None
        if label is None:
            label = db.name if db.name not in used else f"{db.name}_{len(used) + 1}"
        used.add(label)
        bases.append(PlannedBase(label, path, labelled, root))
    return tuple(bases)


def _root_labels(folder: Path) -> tuple[str | None, tuple[str, ...]]:
    """The id and branch labels of the folder's first root revision, read without importing it."""
    import ast

    from .split import revision_metadata

    for path in sorted(folder.glob("*.py")) if folder.is_dir() else ():
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        values = revision_metadata(tree)
        if "revision" in values and values.get("down_revision") is None:
            labels = values.get("branch_labels") or ()
            return str(values["revision"]), (labels,) if isinstance(labels, str) else tuple(labels)
    return None, ()


def render(plan: ImportPlan) -> str:
    """The YAML text of the config (strings written as JSON, which YAML reads as they are)."""
    folder = plan.config_path.parent
    src = plan.source
    lines = [
        f"# Written by 'multidb import' from {' and '.join(_rel(p, folder) for p in src.files)} (shape: {src.shape}).",
        "# URLs are ${VAR} references: nothing was copied from sqlalchemy.url. Set each variable before running.",
        f"python_path: [{', '.join(json.dumps(_rel(p, folder)) for p in python_path(src))}]",
    ]
    if src.post_write_hooks:
        lines.append(f"post_write_hooks: [{', '.join(json.dumps(h) for h in src.post_write_hooks)}]")
    lines.append("databases:")
    for db in plan.databases:
        lines.append(f"  {db.name}:")
        lines.append(f"    url: {json.dumps('${' + db.url_variable + '}')}")
        lines.append("    bases:")
        for base in db.bases:
            lines.append(f"      - {{label: {json.dumps(base.label)}, path: {json.dumps(_rel(base.path, folder))}}}")
        if db.metadata:
            lines.append(f"    metadata: {json.dumps(db.metadata)}")
        if db.fleet:
            names = ", ".join(json.dumps("${" + m.url_variable + "}") for m in db.fleet)
            lines.append(f"    fleet: {{by: url, names: [{names}]}}")
        if db.version_table and db.version_table != "alembic_version":
            lines.append(f"    version_table: {json.dumps(db.version_table)}")
    return "\n".join(lines) + "\n"


def python_path(source: SourceProject) -> list[Path]:
    """The ini's ``prepend_sys_path`` folders, in Alembic's order (it puts them first on ``sys.path``), then the
    project's folder (where the models of a project without ``prepend_sys_path`` usually are)."""
    folders = [p for p in source.sys_paths if p.is_dir()] + [source.root.resolve()]
    return list(dict.fromkeys(folders))


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def write(plan: ImportPlan, force: bool) -> None:
    path = plan.config_path
    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to overwrite it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(plan), encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from e


def variables(plan: ImportPlan) -> list[str]:
    """What to export before running, one line per database (names of ini sections, never values)."""
    lines = []
    for db in plan.databases:
        for member in db.fleet or (db,):
            lines.append(_variable(plan, member, len(plan.databases)))
    return lines


def _variable(plan: ImportPlan, db: PlannedDatabase | SourceDatabase, count: int) -> str:
    if db.had_url:
        return f"export {db.url_variable}=...   # the sqlalchemy.url of [{db.url_section}] in {plan.source.ini.name}"
    if plan.source.flask:
        key = "SQLALCHEMY_DATABASE_URI" if count == 1 or db.name == "default" else f"SQLALCHEMY_BINDS['{db.name}']"
        return f"export {db.url_variable}=...   # the Flask app's {key}"
    return f"export {db.url_variable}=...   # the URL of database '{db.name}'"

"""The steps of ``multidb import`` as one function each; the CLI calls them and prints the result."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from . import source as src
from . import writing
from .split import SplitResult, read_history, split
from .stamping import MAP_NAME, write_map


@dataclass(frozen=True)
class ImportReport:
    plan: writing.ImportPlan
    split: SplitResult | None = None
    map_path: Path | None = None
    verification: list = field(default_factory=list)


def import_project(
    path: Path, config_path: Path | None = None, do_split: bool = False, out: Path | None = None, force: bool = False
) -> ImportReport:
    """Read the Alembic project at ``path`` and write its multidb config (and, with ``do_split``, its
    per-database histories and the revision map)."""
    source = src.read_project(path)
    config_path = config_path or source.root / "config" / "multidb.yaml"
    if config_path.exists() and not force:
        raise UsageError(f"{config_path} exists; pass --force to overwrite it")
    if source.shape == "lockstep" and not do_split:
        engines = ", ".join(db.name for db in source.databases)
        raise UsageError(
            f"{source.ini}: a lockstep history (one revision for every database: {engines}); "
            "'multidb import --split' writes one history per database"
        )
    if do_split and source.shape != "lockstep":
        raise UsageError(
            f"{source.ini}: --split is for a lockstep (multidb template) history; this one is '{source.shape}'"
        )
    result = map_path = None
    folders = None
    if do_split:
        versions = source.databases[0].version_locations
        if len(versions) != 1:
            raise UsageError(f"{source.ini}: --split reads one version folder; this history has {len(versions)}")
        history = read_history(versions[0])
        engines = {db.name: engine for db, engine in zip(source.databases, source.engines, strict=True)}
        label = Path(os.path.relpath(versions[0], source.root)).as_posix()
        result = split(history, engines, out or source.root, label)
        folders = {name: (folder,) for name, folder in result.folders.items()}
        map_path = config_path.parent / MAP_NAME
    plan = writing.plan(source, config_path, folders)
    writing.write(plan, force=True)
    if result is not None and map_path is not None:
        write_map(map_path, os.path.relpath(source.ini, config_path.parent), result.mapping)
    return ImportReport(plan, result, map_path)

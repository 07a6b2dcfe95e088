"""Offline SQL: one file per database, rendered with the profile URL's dialect, never connecting."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from ..config import Database, Project
from ..errors import MigrationError, MultiDBError, RunFailed, UsageError
from ..results import RunResult
from ..runner import check_known, current_heads, load_history, relative, revision_errors, run
from .steps import step_fn

DEFAULT_DIR = Path("sql")

_BATCH_HINT = (
    "this batch operation rebuilds a SQLite table, which --sql cannot do without the table's "
    "definition: pass copy_from=sa.Table(...) (the table as it is at that revision) to "
    "op.batch_alter_table() there, or run the migration online"
)


def write(
    project: Project,
    dbs: list[Database],
    action: str,
    target: str,
    output_dir: Path | None,
    from_current: bool = False,
) -> list[RunResult]:
    """Render every database's SQL first, then write all files; a failure writes nothing.

    ``from_current``: start each database's SQL at the revisions its version table holds now (one
    read-only query per database), so the file holds only what is pending there.
    """
    folder = output_dir or DEFAULT_DIR
    start, _, end = target.rpartition(":")
    rendered = []
    for db in dbs:
        try:
            begin = _current(project, db) if from_current else (start or None)
            rendered.append((db, render(project, db, action, begin, end), tuple(begin or ()) if from_current else ()))
        except MultiDBError as e:
            raise RunFailed(e, []) from e  # nothing was written, so there is no table to show
    _ensure_folder(folder)
    for db, _, _ in rendered:
        if (folder / f"{db.name}.sql").is_dir():
            raise UsageError(f"cannot write {folder / f'{db.name}.sql'}: it is a folder")
    # every file is written beside its place first; only when all are written do they replace it
    staged: list[tuple[str, Path, Database, tuple[str, ...]]] = []
    try:
        for db, text, before in rendered:
            path = folder / f"{db.name}.sql"
            staged.append((_stage(path, text), path, db, before))
    except UsageError:
        for tmp, *_ in staged:  # a later file could not be written: leave no stray temporary files
            Path(tmp).unlink(missing_ok=True)
        raise
    results = []
    for tmp, path, db, before in staged:
        os.replace(tmp, path)
        results.append(RunResult(db.name, before, (), (), "sql written", output=relative(path)))
    return results


def _current(project: Project, db: Database) -> list[str] | None:
    """The database's current revisions (None: an empty database, so the SQL starts at base)."""
    heads = current_heads(db)
    check_known(db, load_history(project, db), heads)
    return list(heads) or None


def render(project: Project, db: Database, action: str, start: str | list[str] | None, end: str) -> str:
    """The SQL of one database's ``action`` from ``start`` (default: base) to ``end``."""
    script = load_history(project, db)
    buffer = io.StringIO()
    header = _header(project, db, action, start, end)
    buffer.write(header)

    def steps(heads, _context):
        with revision_errors(db):
            return step_fn(action)(script, end, heads)

    try:
        run(project, db, steps, buffer=buffer, starting_rev=start, destination_rev=end)
    except MigrationError as e:
        if _is_offline_batch_failure(e):
            raise MigrationError(db.name, _BATCH_HINT, e.revision_file) from e
        raise
    text = buffer.getvalue()
    return text if text != header else text + "-- nothing to apply\n"


def _is_offline_batch_failure(error: MigrationError) -> bool:
    return "copy_from" in str(error.__cause__)


def _header(project: Project, db: Database, action: str, start: str | list[str] | None, end: str) -> str:
    profile = f", profile {project.profile}" if project.profile else ""
    begin = ",".join(start) if isinstance(start, list) else start or "base"
    return f"-- multidb: {action} of database '{db.name}' ({db.dialect}{profile})\n-- from {begin} to {end}\n\n"


def _ensure_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create output folder {folder}: {e.strerror}") from e
    if not os.access(folder, os.W_OK):
        raise UsageError(f"output folder {folder} is not writable")


def _stage(path: Path, text: str) -> str:
    """Write ``text`` to a temporary file beside ``path`` (a fleet target gets a folder per entry)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from e
    return tmp

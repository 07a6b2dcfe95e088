"""Offline SQL: one file per database, rendered with the profile URL's dialect, never connecting."""

from __future__ import annotations

import io
import os
import tempfile
from contextlib import suppress
from pathlib import Path

from .. import baseline
from ..config import Database, Project
from ..errors import MigrationError, MultiDBError, RunFailed, UsageError
from ..results import RunResult
from ..runner import check_known, current_heads, load_history, relative, revision_errors, run
from .steps import step_fn

DEFAULT_DIR = Path("sql")

_BATCH_HINT = (
    "this batch operation rebuilds a SQLite table{table}, which --sql cannot do without the table's "
    "definition: pass copy_from=sa.Table(...) (the table as it is at that revision) to "
    "op.batch_alter_table() there (revision --autogenerate writes it), or run the migration online"
)


def write(
    project: Project,
    dbs: list[Database],
    action: str,
    target: str,
    output_dir: Path | None,
    from_current: bool = False,
    tag: str | None = None,
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
            text = render(project, db, action, begin, end, tag)
            rendered.append((db, text, tuple(begin or ()) if from_current else ()))
        except MultiDBError as e:
            raise RunFailed(e, []) from e  # nothing was written, so there is no table to show
    _ensure_folder(folder)
    for db, _, _ in rendered:
        if _is_folder(folder / file_name(db, action)):
            raise UsageError(f"cannot write {folder / file_name(db, action)}: it is a folder")
    publish([(folder / file_name(db, action), text) for db, text, _ in rendered])
    return [
        RunResult(db.name, before, (), (), "sql written", output=relative(folder / file_name(db, action)))
        for db, _, before in rendered
    ]


def file_name(db: Database, action: str) -> str:
    """``<database>.sql`` for an upgrade; a downgrade's SQL has a name of its own, ``<database>.downgrade.sql``,
    so it never replaces the upgrade file written before it."""
    return f"{db.name}.downgrade.sql" if action == "downgrade" else f"{db.name}.sql"


def _is_folder(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # e.g. a name too long: writing it says so
        return False


def _current(project: Project, db: Database) -> list[str] | None:
    """The database's current revisions (None: an empty database, so the SQL starts at base)."""
    heads = current_heads(db)
    check_known(db, load_history(project, db), heads)
    return list(heads) or None


def render(
    project: Project, db: Database, action: str, start: str | list[str] | None, end: str, tag: str | None = None
) -> str:
    """The SQL of one database's ``action`` from ``start`` (default: base) to ``end``."""
    script = load_history(project, db)
    buffer = io.StringIO()
    header = _header(project, db, action, start, end)
    buffer.write(header)

    def steps(heads, context):
        with revision_errors(db):
            found = step_fn(action)(script, end, heads)
        if action in ("upgrade", "expand") and found:
            baseline.before_steps(project, db, context, found)
        return found

    try:
        run(
            project,
            db,
            steps,
            buffer=buffer,
            starting_rev=start,
            destination_rev=end,
            env_args={"tag": tag},
            action=_verb(action),
        )
    except MigrationError as e:
        if _is_offline_batch_failure(e):
            raise MigrationError(db.name, _BATCH_HINT.format(table=_table_of(e)), e.revision_file) from e
        raise
    text = buffer.getvalue()
    return text if text != header else text + "-- nothing to apply\n"


def _verb(action: str) -> str:
    return "upgrade" if action == "expand" else action


def _is_offline_batch_failure(error: MigrationError) -> bool:
    return "copy_from" in str(error.__cause__)


def _table_of(error: MigrationError) -> str:
    """`` (users)``: the table Alembic's message names (``... reflect the table "users"``), if it does."""
    import re

    found = re.search(r'the table "([^"]+)"', str(error.__cause__))
    return f" ({found.group(1)})" if found else ""


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


def publish(files: list[tuple[Path, str]]) -> None:
    """Write every file or none: each to a temporary file beside its place, then all renamed into place.

    When a file cannot be written or renamed, the temporary files and the folders made for them are
    removed and the files already replaced are put back: every file is as it was before.
    """
    made: list[Path] = []
    staged: list[tuple[str, Path]] = []
    replaced: list[tuple[Path, str | None]] = []  # each path with its previous version, set aside
    path = None
    try:
        for path, text in files:
            staged.append((_stage(path, text, made), path))
        for tmp, path in staged:
            replaced.append((path, _set_aside(path)))
            os.replace(tmp, path)
    except OSError as e:
        _undo(made, staged, replaced)
        assert path is not None
        raise MultiDBError(f"cannot write {relative(path)}: {_why(e, path)}") from e
    for _, old in replaced:
        if old is not None:
            Path(old).unlink(missing_ok=True)


def _stage(path: Path, text: str, made: list[Path]) -> str:
    """Write ``text`` to a temporary file beside ``path`` (a fleet target gets a folder per entry).

    Its name is short, so that only the rename can fail on a name the file system finds too long.
    """
    missing = [p for p in (path.parent, *path.parent.parents) if not os.path.lexists(p)]
    path.parent.mkdir(parents=True, exist_ok=True)
    made.extend(missing)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".multidb-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return tmp


def _set_aside(path: Path) -> str | None:
    """Move the file now at ``path`` to a temporary name beside it (None: there is none)."""
    if not path.exists():
        return None
    fd, spare = tempfile.mkstemp(dir=path.parent, prefix=".multidb-", suffix=".old")
    os.close(fd)
    try:
        os.replace(path, spare)
    except OSError:
        os.unlink(spare)
        raise
    return spare


def _undo(made: list[Path], staged: list[tuple[str, Path]], replaced: list[tuple[Path, str | None]]) -> None:
    for path, old in reversed(replaced):
        with suppress(OSError):
            if old is not None:
                os.replace(old, path)
            else:
                path.unlink(missing_ok=True)  # it was not there before
    for tmp, _ in staged:
        with suppress(OSError):
            os.unlink(tmp)
    for folder in sorted(made, key=lambda p: len(p.parts), reverse=True):  # innermost first
        with suppress(OSError):
            folder.rmdir()


def _why(error: OSError, path: Path) -> str:
    if isinstance(error, (FileExistsError, NotADirectoryError)):
        for parent in path.parents:
            if parent.exists() and not parent.is_dir():
                return f"{relative(parent)} is not a folder"
    return error.strerror or str(error)

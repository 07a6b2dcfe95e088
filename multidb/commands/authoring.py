"""Commands that write revision files or compare models: revision (and migrate), merge, check."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .. import alembic_private, drift, engines, hooks
from ..alembic_config import alembic_config
from ..config import Database, Project
from ..customize import compare_options, connected
from ..environment import load_metadata, options, search_path
from ..errors import DatabaseError, DriftDetected, UsageError
from ..fleet import select_targets
from ..results import Drift, RevisionInfo
from ..runner import (
    check_known,
    check_target,
    current_heads,
    database_errors,
    load_history,
    read_heads,
    relative,
    revision_errors,
    run,
)
from .inspect import describe, pending_revisions


def revision(
    project: Project,
    db: Database,
    message: str,
    autogenerate: bool = False,
    head: str = "head",
    splice: bool = False,
    branch_label: str | None = None,
    version_path: str | None = None,
    depends_on: tuple[str, ...] = (),
    rev_id: str | None = None,
    data_tables: tuple[str, ...] = (),
) -> list[RevisionInfo]:
    """Write a new revision file; with ``autogenerate``, compare the models with the database.

    An autogenerate run that finds no difference writes nothing and returns an empty list. With
    ``data_tables``, the revision is a data step carrying frozen copies of those tables.
    """
    _check_rev_id(rev_id)
    with revision_errors(db):
        for target in (head, *depends_on):
            check_target(target)
    if version_path:
        version_path = _configured_folder(db, version_path)
    post_write = hooks.commands(project)  # a missing formatter stops us before anything is written
    _make_base_folders(db)
    script = load_history(project, db)
    version_path, branch_label = _starting_a_base(db, script, head, version_path, branch_label)
    if data_tables:
        if autogenerate:
            raise UsageError("--data and --autogenerate do not go together: a data step changes rows, not schema")
        written = _data_revision(
            project, db, script, message, data_tables, head, splice, branch_label, version_path, depends_on, rev_id
        )
        return _after_writing(project, post_write, [written])
    args = {
        "message": message,
        "autogenerate": autogenerate,
        "sql": False,
        "head": head,
        "splice": splice,
        "branch_label": branch_label,
        "version_path": version_path,
        "rev_id": rev_id,
        "depends_on": list(depends_on) or None,
    }
    context = alembic_private.revision_context(alembic_config(project, db), script, args, _skip_empty)
    if autogenerate:
        _autogenerate(project, db, context)
    with revision_errors(db):
        written = [s for s in context.generate_scripts() if s is not None]
    return _after_writing(project, post_write, written)


def _after_writing(project: Project, post_write: list, written: list) -> list[RevisionInfo]:
    """Run the post-write hooks on the new files, then describe them (as the hooks left them)."""
    hooks.run(project, post_write, [s.path for s in written])
    return [describe(s) for s in written]


def _data_revision(
    project: Project,
    db: Database,
    script: Any,
    message: str,
    tables: tuple[str, ...],
    head: str,
    splice: bool,
    branch_label: str | None,
    version_path: str | None,
    depends_on: tuple[str, ...],
    rev_id: str | None,
) -> Any:
    from alembic.util import rev_id as new_rev_id

    from ..frozen import data_body, render_tables, variable_name

    metadata = load_metadata(project, db)
    try:
        frozen = render_tables(metadata, list(tables))
    except KeyError as e:
        raise UsageError(f"{db.name}: --tables: {e.args[0]}") from e
    upgrades, downgrades = data_body([variable_name(t) for t in tables])
    with revision_errors(db):
        written = script.generate_revision(
            rev_id or new_rev_id(),
            message,
            head=head,
            splice=splice,
            branch_labels=branch_label,
            version_path=version_path,
            depends_on=list(depends_on) or None,
            imports="from multidb import data\n\n" + frozen,
            upgrades=upgrades,
            downgrades=downgrades,
            data_step=True,  # the template leaves out its "data migration (optional)" hint
            config=alembic_config(project, db),
        )
    return written


REV_ID = re.compile(r"[A-Za-z0-9_]+")


def _check_rev_id(rev_id: str | None) -> None:
    """A rev id becomes the start of a file name: a path or anything but a plain token is refused."""
    if rev_id is not None and not REV_ID.fullmatch(rev_id):
        raise UsageError(
            f"--rev-id {rev_id!r} is not a plain revision id: use ASCII letters, digits and _ only "
            "(it starts the file name)"
        )


def _configured_folder(db: Database, version_path: str) -> str:
    wanted = Path(version_path).resolve()
    if wanted not in db.version_paths:
        known = ", ".join(str(p) for p in db.version_paths)
        raise UsageError(
            f"{db.name}: --version-path {version_path} is not a base folder of this database; "
            f"add it under databases.{db.name}.bases first (known: {known})"
        )
    wanted.mkdir(parents=True, exist_ok=True)
    return str(wanted)


def _make_base_folders(db: Database) -> None:
    """A database added to the config gets its version folders with its first revision (no mkdir by hand)."""
    for base in db.bases:
        if not os.path.lexists(base.path):
            try:
                base.path.mkdir(parents=True)
            except OSError as e:
                raise UsageError(f"{db.name}: cannot create version folder {base.path}: {e.strerror}") from e


def _starting_a_base(
    db: Database, script: Any, head: str, version_path: str | None, branch_label: str | None
) -> tuple[str | None, str | None]:
    """The folder and branch label of a revision that starts a base whose folder holds no revision yet.

    Such a revision has no parent (an empty history, or ``--head base``). It goes to the one empty base
    when ``--version-path`` does not say which, and gets that base's configured label (unless
    ``--branch-label`` gives one), so that ``LABEL@head`` names it from the start.
    """
    revisions = list(script.walk_revisions())
    if revisions and head != "base":
        return version_path, branch_label  # a child of an existing revision
    used = {Path(r.path).parent.resolve() for r in revisions}
    empty = [b for b in db.bases if b.path.resolve() not in used]
    if version_path is None:
        if len(db.bases) > 1 and len(empty) != 1:
            choices = " or ".join(f"--version-path {relative(b.path)}" for b in (empty or db.bases))
            raise UsageError(f"{db.name}: a revision without a parent starts one of the bases; choose with {choices}")
        version_path = str((empty or db.bases)[0].path)
    base = next((b for b in empty if b.path.resolve() == Path(version_path).resolve()), None)
    labels = {label for r in revisions for label in r.branch_labels}
    if base is not None and branch_label is None and base.label not in labels:
        branch_label = base.label
    return version_path, branch_label


def _skip_empty(context: Any, _revision: Any, directives: list) -> None:
    # only autogenerate runs reach this hook: an empty comparison writes no file
    if directives and all(_is_empty(d) for d in directives):
        directives[:] = []
    if directives:
        from .. import batch_copies

        batch_copies.add_copies(context, directives)


def _is_empty(script: Any) -> bool:
    return all(ops.is_empty() for ops in script.upgrade_ops_list)


def _autogenerate(project: Project, db: Database, context: Any) -> None:
    metadata = load_metadata(project, db)
    settings = compare_options(project, db, metadata)

    def compare(heads: Any, migration_context: Any) -> list:
        context.run_autogenerate(heads, migration_context)
        return []

    check_known(db, load_history(project, db), current_heads(db))
    with engines.connect(db) as conn:
        run(
            project,
            db,
            compare,
            connection=conn,
            env_args={"template_args": context.template_args, "revision_context": context},
            configure_args={"target_metadata": metadata, **settings},
            action="revision",
        )


def merge(
    project: Project,
    db: Database,
    revisions: tuple[str, ...],
    message: str,
    branch_label: str | None = None,
    rev_id: str | None = None,
) -> list[RevisionInfo]:
    """Write a revision that joins ``revisions`` (e.g. ``heads``) into one."""
    from alembic.util import rev_id as new_rev_id

    _check_rev_id(rev_id)
    post_write = hooks.commands(project)
    script = load_history(project, db)
    with revision_errors(db):
        for target in revisions:
            check_target(target)
        written = script.generate_revision(
            rev_id or new_rev_id(),
            message,
            refresh=True,
            head=list(revisions),
            branch_labels=branch_label,
            config=alembic_config(project, db),
        )
    return _after_writing(project, post_write, [written] if written is not None else [])


def check(project: Project, names: tuple[str, ...] = (), all_: bool = False) -> list[Drift]:
    """Compare each database (at head) with its models; raise DriftDetected on any difference."""
    results = [_drift(project, db) for db in select_targets(project, names, all_)]
    found = {d.name: list(d.differences) for d in results if d.differences}
    if found:
        raise DriftDetected(found)
    return results


def _drift(project: Project, db: Database) -> Drift:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    metadata = load_metadata(project, db)
    compare = compare_options(project, db, metadata)  # a bad hook reference is reported before connecting
    script = load_history(project, db)
    with engines.connect(db) as conn:
        heads = read_heads(db, conn)
        check_known(db, script, heads)
        pending = pending_revisions(db, script, heads)
        if pending:
            raise DatabaseError(
                db.name,
                f"the database is {len(pending)} revision(s) behind head; "
                f"run 'multidb upgrade {db.name}' first, then check",
            )
        path = search_path(db, conn.dialect)
        if path:  # a schema target of a fleet: compare the tenant's schema
            conn.exec_driver_sql(path)
        opts = {**options(db, conn.dialect.name), **compare}
        context = MigrationContext.configure(conn, opts=opts)
        with database_errors(db), connected(project, db, conn, "check"):
            diffs = compare_metadata(context, metadata)
        conn.rollback()
    return Drift(db.name, tuple(line for d in diffs for line in drift.describe(d)))

"""Every use of a private name of Alembic, SQLAlchemy or a database driver, in one module, and every
look at the interpreter's insides (stack frames, tracebacks' local variables).

multidb drives Alembic through its public API wherever one exists (``ScriptDirectory.get_revision``,
``walk_revisions``, ``generate_revision``, the revision map's ``get_revisions``, ``Revision.down_revision``
and ``dependencies``, ``ResolutionError``, ``Config.attributes``). What has none lives here, each use
with the Alembic / SQLAlchemy releases it was read against; tests/test_foundation.py exercises each one,
so an upgrade that changes one fails there first, not in a user's deploy.

Checked against Alembic 1.13.0 and 1.20.1, SQLAlchemy 2.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory


class AlembicAssertion(ValueError):
    """Alembic failed one of its internal asserts on a revision target (see :func:`_target_asserts`)."""


@contextmanager
def _target_asserts(target: Any) -> Iterator[None]:
    """Alembic 1.13.0 and 1.20.1 reach ``assert isinstance(rev, Revision)`` (``revision.is_revision``) when a
    walk from a named revision runs past the end of the history (``head+1`` at head, ``catalog-1`` as an
    upgrade target), and other asserts for empty parts ('', 'a@'; multidb refuses those before Alembic sees
    them): a target Alembic cannot use, not a bug."""
    try:
        yield
    except AssertionError as e:
        raise AlembicAssertion(f"'{target}' is not a revision target Alembic can follow from here") from e


def upgrade_steps(script: ScriptDirectory, target: str, heads: Any) -> list:
    """The steps ``alembic upgrade TARGET`` runs from ``heads``: the computation ``alembic.command.upgrade``
    hands to its environment. Alembic 1.13.0 and 1.20.1: ``ScriptDirectory._upgrade_revs(destination,
    current_rev)`` returning ``RevisionStep`` objects (``.revision`` is the Script; ``.up_revision_id``)."""
    with _target_asserts(target):
        return script._upgrade_revs(target, heads)


def downgrade_steps(script: ScriptDirectory, target: str, heads: Any) -> list:
    """The steps ``alembic downgrade TARGET`` runs. Alembic 1.13.0 and 1.20.1:
    ``ScriptDirectory._downgrade_revs(destination, current_rev)``."""
    with _target_asserts(target):
        return script._downgrade_revs(target, heads)


def stamp_steps(script: ScriptDirectory, targets: tuple[str, ...], heads: Any) -> list:
    """The steps ``alembic stamp TARGETS`` records. Alembic 1.13.0 and 1.20.1:
    ``ScriptDirectory._stamp_revs(revision, heads)`` returning ``StampStep`` objects (``.up_revision_ids``)."""
    with _target_asserts(",".join(targets)):
        return script._stamp_revs(targets, heads)


def revision_context(config: Any, script: ScriptDirectory, args: dict[str, Any], directives: Any) -> Any:
    """Alembic's revision-writing state, as ``alembic.command.revision`` builds it. That command would
    run an ``env.py`` from the template folder (a project's own ``script.py.mako`` folder has none), so
    multidb builds the context itself and runs autogenerate in its own environment.

    Alembic 1.13.0 and 1.20.1: ``alembic.autogenerate.api.RevisionContext(config, script_directory,
    command_args, process_revision_directives=None)`` with ``template_args``, ``run_autogenerate(rev,
    migration_context)`` and ``generate_scripts()``; ``command_args`` keys as ``command.revision``
    passes them (message, autogenerate, sql, head, splice, branch_label, version_path, rev_id, depends_on).
    An autogenerate run hands it to ``EnvironmentContext(..., template_args=context.template_args,
    revision_context=context)``, as ``command.revision`` does.
    """
    from alembic.autogenerate.api import RevisionContext

    return RevisionContext(config, script, args, process_revision_directives=directives)


def binary_type() -> type:
    """SQLAlchemy's common base of every binary type (``LargeBinary``, ``BINARY``, MySQL's ``*BLOB``):
    ``sqlalchemy.sql.sqltypes._Binary`` (SQLAlchemy 2.0 and 2.1; no public base covers MySQL's BLOBs)."""
    from sqlalchemy.sql import sqltypes

    return sqltypes._Binary


# --- database drivers: no public way to lift a read timeout once connected -------------------------------------


def pymysql_lift_read_timeout(dbapi_connection: Any) -> None:
    """PyMySQL's ``read_timeout`` bounds the handshake (a server that never greets); once connected it must
    not bound statements. PyMySQL keeps it in ``Connection._read_timeout`` (PyMySQL 1.1.0 and 1.2.4)."""
    dbapi_connection._read_timeout = None


def pg8000_lift_timeout(dbapi_connection: Any) -> None:
    """pg8000's ``timeout`` is its socket's, for every read; reset once connected through the socket it keeps
    in ``Connection._usock`` (pg8000 1.30.1 and 1.31.x)."""
    dbapi_connection._usock.settimeout(None)


BATCH_TEMP_PREFIX = "_alembic_tmp_"


def batch_temp_table(name: str) -> bool:
    """Whether ``name`` is the table Alembic's batch mode builds when it recreates a table: it creates
    ``_alembic_tmp_<table>`` (cut to 50 characters), copies the rows over, drops the table and renames the
    new one (``ApplyBatchImpl._calc_temp_name`` and ``_create``; Alembic 1.13.0 and 1.20.1). Lint reads
    a rebuild from those operations; the name is not public API."""
    return isinstance(name, str) and name.startswith(BATCH_TEMP_PREFIX)


# --- the interpreter's stack: reading other libraries' frames ----------------------------------------------------


def operation_table(exc: BaseException) -> str | None:
    """The table of the innermost Alembic operation object on ``exc``'s traceback: the local variable
    ``operation`` of Alembic's ``Operations`` implementations (``op.create_check_constraint(...)`` and the
    like; Alembic 1.13.0 to 1.20.1), whose ``table_name`` or ``source_table`` names it. None when there is none."""
    tb = exc.__traceback__
    table = None
    while tb is not None:
        operation = tb.tb_frame.f_locals.get("operation")
        name = getattr(operation, "table_name", None) or getattr(operation, "source_table", None)
        table = name if isinstance(name, str) else table
        tb = tb.tb_next
    return table


# the import system's own modules (CPython's frozen bootstrap, checked on 3.11 to 3.13): a frame of one of
# them on the stack is an import half done
IMPORT_MACHINERY = frozenset({"importlib", "_frozen_importlib", "_frozen_importlib_external"})


def stack_inside(frame: Any, packages: Any) -> bool:
    """Whether a module of one of ``packages`` (top-level names) runs anywhere on the stack of ``frame``
    (the frame a signal handler is given)."""
    while frame is not None:
        name = frame.f_globals.get("__name__") or ""
        if name.split(".", 1)[0] in packages:
            return True
        frame = frame.f_back
    return False

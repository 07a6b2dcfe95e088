"""What the tests expect of multidb's output, of the machine they run on, and which modules a test may forget."""

from __future__ import annotations

import functools
import os
import site
import sys
import sysconfig
from collections.abc import Iterable

ERROR = "multidb: error: "


def servers_required() -> bool:
    """In CI (or with MULTIDB_REQUIRE_SERVERS=1) a missing server or tool fails a test instead of skipping it."""
    return bool(os.environ.get("CI") or os.environ.get("MULTIDB_REQUIRE_SERVERS"))


def error_lines(stderr: str) -> list[str]:
    """The ``multidb: error:`` lines of a command's stderr."""
    return [line for line in stderr.splitlines() if line.startswith(ERROR.rstrip())]


def one_error_line(stderr: str) -> str:
    """The single ``multidb: error:`` line a failed command prints (the whole stderr on a mismatch)."""
    found = error_lines(stderr)
    assert len(found) == 1, stderr
    return found[0]


def assert_one_clean_error(result, *fragments: str, nothing_else: bool = False) -> str:
    """stderr is exactly one ``multidb: error:`` line holding every fragment, with no traceback.

    ``nothing_else``: stdout is empty too (the error is all the command printed).
    """
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(ERROR), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in: {lines[0]}"
    assert "Traceback" not in result.output
    if nothing_else:
        assert not result.stdout.strip(), result.output
    return lines[0]


def user_tables(
    names: Iterable[str], version_table: str = "alembic_version", with_version_table: bool = False
) -> set[str]:
    """``names`` without multidb's bookkeeping beside ``version_table`` and without SQLite's own tables.

    The bookkeeping is :func:`multidb.environment.bookkeeping_names`: the version table, the ledger of
    applied revisions' checksums (tests/test_ledger.py) and the progress table of interrupted
    MariaDB/MySQL revisions. ``with_version_table`` keeps the version table, for tests that check it.
    """
    from multidb.environment import bookkeeping_names

    hidden = bookkeeping_names(version_table) - ({version_table} if with_version_table else set())
    return {name for name in names if name not in hidden and not name.startswith("sqlite_")}


@functools.cache
def _shared_folders() -> tuple[str, ...]:
    import multidb

    paths = sysconfig.get_paths()
    folders = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    folders |= {*site.getsitepackages(), site.getusersitepackages(), os.path.dirname(multidb.__file__)}
    return tuple(os.path.join(os.path.realpath(folder), "") for folder in folders)


def shared_module(module: object) -> bool:
    """Whether ``module`` (a ``sys.modules`` value) is the interpreter's, an installed package's or multidb's.

    Those must stay in ``sys.modules`` once imported, whichever test imported them first: deleted, the
    next import makes a second copy while the first lives on in package attributes and in whatever
    imported it, so ``except yaml.YAMLError`` misses the other copy's error and pickling a function by
    its qualified name finds the other copy's. Only a test project's own modules (its models, env
    helpers, conftest, from a temporary folder or the repository's example) are forgotten after a test.
    """
    if module is None:  # an import blocked on purpose
        return False
    location = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", None) or ()), None)
    if location is None:  # built in, frozen, or made in memory: not a file a test wrote
        return True
    return os.path.realpath(location).startswith(_shared_folders())


def forget_test_modules(before: set[str]) -> None:
    """Delete from ``sys.modules`` the modules imported since ``before`` that are not :func:`shared_module`.

    Every module is judged before any is deleted: a namespace package's path is computed from its parent's,
    so judging ``tests.plugin_projects`` after ``tests`` is gone fails, and the half-done clean-up would leave
    the child without its parent (the next ``import tests.plugin_projects.x`` then fails with KeyError).
    """
    forget = [name for name in set(sys.modules) - before if not shared_module(sys.modules[name])]
    for name in forget:
        del sys.modules[name]

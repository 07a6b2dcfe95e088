"""One migration lock per database, so concurrent runners never migrate the same database at once.

* PostgreSQL: a session advisory lock keyed on the version table, taken on a connection of its own
  (so revisions may use ``autocommit_block()`` and ``CREATE INDEX CONCURRENTLY``), waited for
  with the server's ``lock_timeout``.
* MariaDB/MySQL: ``GET_LOCK`` with a timeout, on a connection of its own.
* SQLite: an exclusive ``flock`` on a file beside the database, which other processes honour.

A runner that cannot get the lock in time raises :class:`LockTimeout` naming the holder.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from . import engines
from .config import Database
from .errors import DatabaseError, UsageError
from .redact import first_line

POLL_SECONDS = 0.1


class LockTimeout(DatabaseError):
    """Another runner held the database's migration lock for longer than the timeout."""


def holder_label() -> str:
    """Who we are, as other runners will see it when we hold a lock."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers
        user = "?"
    return f"multidb {user}@{socket.gethostname()} pid {os.getpid()}"


def lock_key(db: Database) -> str:
    """What the lock is named after: the version table, so two apps on one server don't collide."""
    schema = db.version_table_schema or ""
    return f"multidb:{schema}.{db.version_table}"


@contextmanager
def locked(dbs: list[Database], timeout: float | None = None) -> Iterator[None]:
    """Hold the migration lock of every database in ``dbs``.

    ``timeout`` overrides each database's ``migration_lock_timeout``. The locks are taken in one
    global order (:func:`lock_order`), whatever the action and the order of ``dbs``, so two runners
    never wait for each other crosswise; entries that share a lock (two in one SQLite file) take it once.
    """
    with ExitStack() as stack:
        for db in lock_order(dbs):
            stack.enter_context(migration_lock(db, lock_wait(db, timeout)))
        yield


def lock_order(dbs: list[Database]) -> list[Database]:
    """``dbs`` sorted by what their lock is (one per lock), the order every runner takes them in."""
    by_lock = {}
    for db in dbs:
        by_lock.setdefault(lock_identity(db), db)
    return [by_lock[key] for key in sorted(by_lock)]


def lock_identity(db: Database) -> tuple[str, ...]:
    """What the lock of ``db`` is: its lock file, or its server, database and lock name."""
    if db.dialect == "sqlite":
        path = _lock_path(db)
        return ("sqlite", str(path)) if path is not None else ("memory", db.name)
    from sqlalchemy.engine import make_url

    url = make_url(db.url)
    name = _mysql_name(db) if db.dialect in ("mysql", "mariadb") else lock_key(db)
    return (db.dialect, url.host or "", str(url.port or ""), url.database or "", name)


def lock_wait(db: Database, timeout: float | None) -> float:
    """Seconds to wait for ``db``'s lock: ``--lock-timeout`` if given, else its ``migration_lock_timeout``."""
    return db.migration_lock_timeout if timeout is None else timeout


@contextmanager
def migration_lock(db: Database, timeout: float, connection: Any = None) -> Iterator[None]:
    """Hold ``db``'s migration lock, waiting up to ``timeout`` seconds for it.

    PostgreSQL and MariaDB/MySQL locks belong to a session: on ``connection`` when one is given (the
    connection the migrations then run on, sparing a connection per database), else on a connection
    of their own. Either way no transaction is left open, so revisions may use ``autocommit_block()``.
    """
    if db.dialect == "sqlite":
        path = _lock_path(db)
        if path is None:  # an in-memory database belongs to this process alone
            yield
            return
        with _file_lock(db, path, timeout):
            yield
    elif db.dialect == "postgresql":
        with _session(db, connection) as conn, _postgresql_lock(db, conn, timeout):
            yield
    elif db.dialect in ("mysql", "mariadb"):
        with _session(db, connection) as conn, _mysql_lock(db, conn, timeout):
            yield
    else:
        yield  # no lock primitive known for this dialect


def _timeout(db: Database, waited: float, holder: str | None) -> LockTimeout:
    who = f"held by {holder}" if holder else "held by another runner"
    return LockTimeout(
        db.name,
        f"could not get the migration lock within {waited:g} s ({who}); "
        "wait for that run to finish, or raise --lock-timeout",
    )


def _lock_path(db: Database) -> Path | None:
    """``<database file>.multidb-lock``, beside a SQLite file (None for an in-memory database)."""
    path = engines.sqlite_path(db)
    return None if path is None else path.with_name(path.name + ".multidb-lock")


# Lock files this process holds (how many times each): entries that share a SQLite file share its
# lock, and a reader inside a runner that holds the lock reads on (flock would make it wait for itself).
_held: dict[Path, int] = {}


@contextmanager
def reading_lock(db: Database, timeout: float) -> Iterator[None]:
    """Let a reader of a SQLite file wait (up to ``timeout``) while a runner migrates it.

    SQLite does not let anyone read a file while a writer holds its EXCLUSIVE lock (in the default
    rollback-journal mode), which a migration holds once it has written more than the page cache
    holds. So multidb's readers (``status``, the checks before a run) take the migration lock
    shared: they wait for a run to end, then read its result, or give up naming the runner.
    Other dialects let readers read during a migration: nothing to wait for.
    """
    path = _lock_path(db) if db.dialect == "sqlite" else None
    if path is None or path in _held:
        yield
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # no runner ever locked this database (or the folder is not ours to read)
        yield
        return
    try:
        _wait_for(db, fd, path, timeout, shared=True)
        yield
    finally:
        os.close(fd)  # releases the shared lock


def _fcntl(db: Database) -> Any:
    """POSIX's fcntl, which SQLite's migration lock (``flock`` on a file beside the database) needs."""
    try:
        import fcntl
    except ImportError:
        raise UsageError(
            f"{db.name}: the SQLite migration lock needs a POSIX system (Linux, macOS, BSD); this Python has no "
            "fcntl module (on Windows, run multidb under WSL)"
        ) from None
    return fcntl


def _wait_for(db: Database, fd: int, path: Path, timeout: float, shared: bool = False) -> None:
    fcntl = _fcntl(db)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise _timeout(db, timeout, _read_holder(path)) from None
            time.sleep(POLL_SECONDS)


@contextmanager
def _file_lock(db: Database, path: Path, timeout: float) -> Iterator[None]:
    fcntl = _fcntl(db)
    if path in _held:  # another entry in the same file, in this run: the lock is ours already
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise DatabaseError(
            db.name,
            f"cannot create the migration lock file {path}: {reason.lower()} "
            "(the runner must be able to create files in the database's folder, as SQLite does for its journal)",
        ) from e
    try:
        _wait_for(db, fd, path, timeout)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"holder": holder_label(), "since": time.time()}).encode())
        _held[path] = 1
        try:
            yield
        finally:
            del _held[path]
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder(path: Path) -> str | None:
    try:
        return json.loads(path.read_text() or "{}").get("holder")
    except (OSError, ValueError):
        return None


def _advisory_key(db: Database) -> int:
    digest = hashlib.blake2b(lock_key(db).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def _lock_connection(db: Database) -> Iterator[Any]:
    with engines.connect(db) as conn:
        yield conn.execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def _session(db: Database, connection: Any) -> Iterator[Any]:
    if connection is not None:
        yield connection
    else:
        with _lock_connection(db) as conn:
            yield conn


def _settle(conn: Any) -> None:
    """End the transaction a lock statement began (a session lock outlives it)."""
    if conn.in_transaction():
        conn.commit()


def _release(conn: Any, statement: str, params: dict) -> None:
    """Give the lock back; a connection that broke meanwhile took its session's locks with it."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    if conn.closed or conn.invalidated:
        return
    try:
        if conn.in_transaction():
            conn.rollback()  # a failed revision may have left its transaction aborted
        conn.execute(text(statement), params)
        _settle(conn)
    except DBAPIError:
        pass


@contextmanager
def _lock_errors(db: Database, conn: Any, holder: Any = None) -> Iterator[None]:
    """A driver error while taking the lock is one line naming the database (and who holds the lock)."""
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except DBAPIError as e:
        if conn.in_transaction():
            conn.rollback()
        reason = first_line(str(e.orig) if e.orig is not None else str(e), *db.secrets)
        try:
            who = holder() if holder is not None else None
        except DBAPIError:
            who = None
        held = f" (the lock is held by {who})" if who else ""
        raise DatabaseError(db.name, f"could not take the migration lock: {reason}{held}") from e


@contextmanager
def _postgresql_lock(db: Database, conn: Any, timeout: float) -> Iterator[None]:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    key = _advisory_key(db)
    with _lock_errors(db, conn, lambda: _postgresql_holder(db, key)):
        conn.execute(  # the name shows in pg_stat_activity, so a waiting runner can say who holds the lock
            text("SELECT set_config('application_name', :name, false), set_config('lock_timeout', :ms, false)"),
            {"name": holder_label()[:63], "ms": f"{max(1, int(timeout * 1000))}ms"},
        )
        try:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        except DBAPIError as e:  # OperationalError with psycopg, a plain DatabaseError with pg8000
            if engines.sqlstate(e.orig) != "55P03":  # lock_not_available
                raise  # e.g. the server's own statement_timeout ended the wait
            conn.rollback()
            raise _timeout(db, timeout, _postgresql_holder(db, key)) from None
        conn.execute(text("RESET lock_timeout"))  # the wait's limit must not apply to the revisions' statements
        _settle(conn)
    try:
        yield
    finally:
        _release(conn, "SELECT pg_advisory_unlock(:key)", {"key": key})


def _postgresql_holder(db: Database, key: int) -> str | None:
    from sqlalchemy import text

    query = text(
        "SELECT a.pid, a.application_name, a.client_addr, a.backend_start FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
        "AND l.classid = :hi AND l.objid = :lo AND l.database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    with _lock_connection(db) as conn:
        row = conn.execute(query, {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF}).first()
    if row is None:
        return None
    name = row.application_name or "a session"
    session = f"server pid {row.pid}, from {row.client_addr or 'local socket'}, since {row.backend_start:%H:%M:%S}"
    if _process_gone(name):
        return (
            f"{name}, whose process is gone ({session}); the server ends that session when it notices the "
            f"connection dropped (after its statement), or end it now with SELECT pg_terminate_backend({row.pid})"
        )
    return f"{name} ({session})"


def _process_gone(label: str) -> bool:
    """Whether a :func:`holder_label` names a process of this host that no longer runs."""
    parts = label.split()
    if len(parts) != 4 or parts[0] != "multidb" or parts[2] != "pid" or not parts[3].isdigit():
        return False
    if parts[1].rpartition("@")[2] != socket.gethostname():
        return False  # another machine's process: nothing to tell from here
    try:
        os.kill(int(parts[3]), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, but not ours to signal
        return False
    return False


def mysql_lock_name(db: Database) -> str:
    """The ``GET_LOCK`` name of a MariaDB/MySQL database's migration lock."""
    return _mysql_name(db)


def _mysql_name(db: Database) -> str:
    # GET_LOCK names are server-wide, so the name carries the database (unlike PostgreSQL's advisory
    # locks, which are scoped to the database they are taken in)
    from sqlalchemy.engine import make_url

    schema = db.version_table_schema or make_url(db.url).database or ""
    name = f"multidb:{schema}.{db.version_table}"
    if len(name) > 64:  # GET_LOCK names are at most 64 characters
        name = "multidb:" + hashlib.blake2b(name.encode(), digest_size=16).hexdigest()
    return name


@contextmanager
def _mysql_lock(db: Database, conn: Any, timeout: float) -> Iterator[None]:
    from sqlalchemy import text

    name = _mysql_name(db)
    with _lock_errors(db, conn):
        got = conn.execute(text("SELECT GET_LOCK(:name, :timeout)"), {"name": name, "timeout": timeout}).scalar()
        if got != 1:
            holder = conn.execute(
                text(
                    "SELECT CONCAT(USER, '@', HOST, ' (connection ', ID, ')') FROM information_schema.PROCESSLIST "
                    "WHERE ID = IS_USED_LOCK(:name)"
                ),
                {"name": name},
            ).scalar()
            _settle(conn)
            raise _timeout(db, timeout, holder)
        _settle(conn)
    try:
        yield
    finally:
        _release(conn, "SELECT RELEASE_LOCK(:name)", {"name": name})

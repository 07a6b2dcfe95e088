"""Engines and connections, one per database, with the settings a migration run needs.

* A connect timeout on every server dialect, so an unreachable host fails instead of hanging.
* SQLite with transactional DDL: the driver is not left to autocommit, so a revision that
  fails halfway rolls back completely.
* Connection failures become :class:`ConnectionFailed` with the URL's password masked.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import alembic_private
from .config import Database, sqlite_file
from .errors import ConnectionFailed, UsageError
from .redact import first_line

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine


class DriverRefused(UsageError):
    """The URL names a driver multidb does not run migrations with (exit 2, also from ``status``)."""


_DRIVER_HINTS = {
    "pymysql": "pip install 'multidb-migrate[mysql]'",
    "MySQLdb": "pip install 'multidb-migrate[mysql]'",
    "psycopg2": "pip install psycopg2-binary",
    "psycopg": "pip install 'psycopg[binary]'",
}


def sqlite_path(db: Database) -> Path | None:
    """The file of a file-based SQLite database, else None."""
    if db.dialect != "sqlite":
        return None
    from sqlalchemy.engine import make_url

    name = sqlite_file(make_url(db.url))
    return None if name is None else Path(name)


def database_identity(db: Database) -> tuple[str, ...]:
    """Which database ``db`` is in: entries with the same identity share one file or server database."""
    path = sqlite_path(db)
    if path is not None:
        return ("sqlite", str(path.resolve()))
    if db.dialect == "sqlite":  # in memory: each entry's own
        return ("memory", db.name)
    return (sync_url(db.url).render_as_string(hide_password=False),)


def exists(db: Database) -> bool:
    """False only for a SQLite file that has not been created yet (no connection is made)."""
    check_driver(db)
    path = sqlite_path(db)
    return path is None or path.exists()


# Engines and shared reading connections are kept per URL, the most recently used last. A fleet by
# database has a URL per target: unbounded, thousands of targets would hold thousands of engines
# (about 100 kB each) and, worse, as many open connections (a server refuses them past its
# max_connections). So only the newest are kept.
MAX_ENGINES = 128
MAX_SHARED = 4

_engines: dict[tuple, Engine] = {}


def engine_for(db: Database, **connect_args: Any) -> Engine:
    """One Engine per URL and settings (NullPool: no connection outlives its use), the last
    :data:`MAX_ENGINES` kept.

    Reusing it spares each connection the dialect's first-connect queries, which matters for
    fleets whose targets share a server; with no pooled connections it is safe across fork().
    """
    key = (db.url, db.connect_timeout, tuple(sorted(connect_args.items())))
    engine = _engines.pop(key, None)
    if engine is None:
        engine = create_engine(db, **connect_args)
    _engines[key] = engine
    while len(_engines) > MAX_ENGINES:
        _engines.pop(next(iter(_engines)))  # NullPool: nothing to close; open connections stay usable
    return engine


def create_engine(db: Database, **connect_args: Any) -> Engine:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    url = sync_url(db.url)
    driver = _driver_of(db, url)
    args: dict = dict(connect_args) if db.dialect == "postgresql" else {}
    args.update(driver.timeouts(db.connect_timeout))
    try:
        engine = sa.create_engine(url, poolclass=NullPool, connect_args=args)
    except ModuleNotFoundError as e:
        hint = _DRIVER_HINTS.get(e.name or "", f"install the '{e.name}' package")
        raise ConnectionFailed(db.name, f"the database driver '{e.name}' is not installed ({hint})") from e
    if db.dialect == "sqlite":
        _make_sqlite_transactional(engine)
    if driver.lift is not None:
        _lift_timeout(engine, driver.lift)
    if url.get_driver_name() == "pg8000":
        _readable_pg8000_errors(engine)
    return engine


@dataclass(frozen=True)
class Driver:
    """How one DBAPI driver is told the connect timeout.

    ``timeouts``: the connect arguments for ``connect_timeout`` seconds. ``lift``: for drivers whose
    only way to bound the handshake is a read timeout on the socket, what lifts it once connected, so
    that a long migration statement (or the wait for the migration lock) does not time out.
    """

    timeouts: Callable[[float], dict[str, Any]]
    lift: Callable[[Any], None] | None = None


def _seconds(timeout: float) -> int:
    return max(1, int(timeout))


_LIBPQ = Driver(lambda t: {"connect_timeout": _seconds(t)})
# PyMySQL's connect_timeout covers only the TCP connect: a server that never greets would hang the
# handshake, so reads time out until connected. mysqlclient's connect_timeout covers the handshake.
_PYMYSQL = Driver(
    lambda t: {"connect_timeout": _seconds(t), "read_timeout": _seconds(t)}, alembic_private.pymysql_lift_read_timeout
)
_MYSQLDB = Driver(lambda t: {"connect_timeout": _seconds(t)})

#: (dialect, driver) as SQLAlchemy names them -> how that driver gets its connect timeout. Only synchronous
#: drivers: an asynchronous one in a URL is replaced by its synchronous counterpart first (:data:`ASYNC_DRIVERS`)
DRIVERS: dict[tuple[str, str], Driver] = {
    ("sqlite", "pysqlite"): Driver(lambda t: {"timeout": t}),  # the busy timeout
    ("postgresql", "psycopg2"): _LIBPQ,
    ("postgresql", "psycopg"): _LIBPQ,
    ("postgresql", "pg8000"): Driver(lambda t: {"timeout": _seconds(t)}, alembic_private.pg8000_lift_timeout),
    ("mysql", "pymysql"): _PYMYSQL,
    ("mariadb", "pymysql"): _PYMYSQL,
    ("mysql", "mysqldb"): _MYSQLDB,
    ("mariadb", "mysqldb"): _MYSQLDB,
}


def _driver_of(db: Database, url: Any) -> Driver:
    """The table's entry for the URL's driver; any other driver is refused with one line (exit 2)."""
    dialect, driver = url.get_backend_name(), url.get_driver_name()
    found = DRIVERS.get((dialect, driver))
    if found is not None:
        return found
    known = [f"{d}+{n}" for d, n in DRIVERS if d == dialect] or [f"{d}+{n}" for d, n in DRIVERS]
    known += [a for a in ASYNC_DRIVERS if a.startswith(f"{dialect}+")]
    supported = ", ".join(known)
    is_async = getattr(url.get_dialect(), "is_async", False)
    why = "is asynchronous, with no synchronous counterpart known" if is_async else "is not supported by multidb"
    raise DriverRefused(f"{db.name}: the driver '{dialect}+{driver}' {why}; use one of: {supported}")


def check_driver(db: Database) -> None:
    """Refuse a driver multidb cannot run migrations with, before anything is read or changed."""
    _driver_of(db, sync_url(db.url))


def _lift_timeout(engine: Engine, lift: Callable[[Any], None]) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connected(dbapi_connection, _record):  # pragma: no cover - trivial
        lift(dbapi_connection)


def _readable_pg8000_errors(engine: Engine) -> None:
    """pg8000 raises its errors with the server's fields as a dict (shown as such in messages): keep the
    message as the error's text and the SQLSTATE as ``sqlstate``, as psycopg 3 has them."""
    from sqlalchemy import event

    @event.listens_for(engine, "handle_error")
    def _readable(context):  # pragma: no cover - trivial
        orig = context.original_exception
        fields = orig.args[0] if orig.args and isinstance(orig.args[0], dict) else None
        if fields is not None:
            orig.sqlstate = fields.get("C")
            orig.args = (fields.get("M") or str(fields), *orig.args[1:])


def sqlstate(orig: Any) -> str | None:
    """The SQLSTATE of a PostgreSQL driver's error: psycopg2 ``pgcode``, psycopg 3 ``sqlstate``, pg8000 ``C``."""
    code = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
    if code is None:
        args = getattr(orig, "args", ())
        if args and isinstance(args[0], dict):  # pg8000: the server's error fields
            code = args[0].get("C")
    return code


# A URL without a driver gets the one multidb installs (SQLAlchemy 2.1 would pick psycopg 3).
_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg2", "mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql"}

#: An asynchronous driver, as an application writes it for ``create_async_engine``, -> the synchronous driver
#: multidb migrates that database with. multidb runs on synchronous connections only (one code path for locks,
#: interrupts and transactions), so the same URL serves the application and its migrations.
ASYNC_DRIVERS = {
    "postgresql+asyncpg": "postgresql+psycopg2",
    "postgresql+psycopg_async": "postgresql+psycopg",
    "sqlite+aiosqlite": "sqlite+pysqlite",
    "mysql+aiomysql": "mysql+pymysql",
    "mysql+asyncmy": "mysql+pymysql",
    "mariadb+aiomysql": "mariadb+pymysql",
    "mariadb+asyncmy": "mariadb+pymysql",
}
# URL query parameters an async driver spells differently from its sync counterpart (None: the async
# dialect's own setting, meaningless to the sync driver, left out)
_ASYNC_QUERY = {"postgresql+asyncpg": {"ssl": "sslmode", "prepared_statement_cache_size": None}}


def sync_url(url: str):
    """``url`` with the driver multidb connects with: the default one when none is named, the synchronous
    counterpart of an asynchronous one (:data:`ASYNC_DRIVERS`)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.drivername
    if name in _DEFAULT_DRIVERS:
        return parsed.set(drivername=_DEFAULT_DRIVERS[name])
    if name in ASYNC_DRIVERS:
        renamed = _ASYNC_QUERY.get(name, {})
        query = {renamed.get(k, k): v for k, v in parsed.query.items() if renamed.get(k, k) is not None}
        return parsed.set(drivername=ASYNC_DRIVERS[name], query=query)
    return parsed


def _make_sqlite_transactional(engine: Engine) -> None:
    # pysqlite commits implicitly before DDL unless it is told to stay out of the way;
    # then BEGIN is ours to emit, and DDL becomes part of the transaction.
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_autocommit(dbapi_connection, _record):  # pragma: no cover - trivial
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):  # pragma: no cover - trivial
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":  # autocommit_block()
            conn.exec_driver_sql("BEGIN")


_shared: dict[tuple, Connection] = {}
_reading: dict[tuple, int] = {}  # shared connections in use right now (never closed to make room)


def _shared_key(db: Database) -> tuple:
    return (db.url, db.connect_timeout)


@contextmanager
def reading(db: Database) -> Iterator[Connection]:
    """A connection for short reads, shared by every target on the same URL until ``close_shared``.

    A fleet of schemas on one server then checks all its targets over one connection; at most
    :data:`MAX_SHARED` stay open, the least recently used closed first. The caller must end its
    transaction (commit or rollback) before leaving.
    """
    key = _shared_key(db)
    conn = _shared.pop(key, None)
    if conn is None or conn.closed or conn.invalidated:
        conn = _open(db, engine_for(db))
    _shared[key] = conn
    _reading[key] = _reading.get(key, 0) + 1
    try:
        _make_room()
        yield conn
    finally:
        _reading[key] -= 1
        if not _reading[key]:
            del _reading[key]


def _make_room() -> None:
    idle = [key for key in _shared if key not in _reading]
    for key in idle[: max(0, len(_shared) - MAX_SHARED)]:
        _shared.pop(key).close()


def close_shared(keep: list[Database] | None = None) -> None:
    """Close the shared reading connections (before forking workers, and at the end of a phase).

    ``keep``: databases whose connection stays open for :func:`connect` to take over.
    """
    kept = {_shared_key(db) for db in keep or ()}
    for key in [k for k in _shared if k not in kept and k not in _reading]:
        _shared.pop(key).close()


atexit.register(close_shared)


def _open(db: Database, engine: Engine) -> Connection:
    from sqlalchemy.exc import DBAPIError

    _make_folder(db)
    try:
        return engine.connect()
    except DBAPIError as e:
        reason = first_line(str(e.orig) if e.orig is not None else str(e), *db.secrets)
        raise ConnectionFailed(db.name, f"cannot connect to {db.masked_url}: {reason}") from e


def open_connection(db: Database) -> Connection:
    """A new connection to ``db`` (never a shared one), for the caller to close."""
    return _open(db, engine_for(db))


def _make_folder(db: Database) -> None:
    path = sqlite_path(db)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConnectionFailed(db.name, f"cannot create folder {path.parent}: {e.strerror}") from e


@contextmanager
def connect(db: Database, **connect_args: Any) -> Iterator[Connection]:
    """A connection to ``db`` of its own, closed at the end; a SQLite file's folder is created when missing.

    A shared reading connection kept open for ``db`` (``close_shared(keep=...)``) is taken over
    instead of opening another: the checks' connection then runs the migration, as a plain
    ``alembic upgrade`` uses one connection per database.
    """
    adopted = None if connect_args else _adopt(db)
    with adopted or _open(db, engine_for(db, **connect_args)) as conn:
        yield conn


def _adopt(db: Database) -> Connection | None:
    conn = _shared.pop(_shared_key(db), None)
    if conn is None or conn.closed or conn.invalidated or conn.in_transaction():
        if conn is not None:
            conn.close()
        return None
    return conn

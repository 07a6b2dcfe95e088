"""SIGINT and SIGTERM during a write command: stop at a safe point, never in the middle of bookkeeping.

Python's default (a ``KeyboardInterrupt`` raised wherever the main thread happens to be, nothing at
all for SIGTERM) can land inside SQLAlchemy's own handling of a statement; the connection is then
invalidated, and revisions that had finished may be lost with it. While :func:`handling` is active:

* The statement running on a registered connection is cancelled at once, even when the main thread
  is blocked inside the driver: a watcher thread, woken by the signal's wakeup fd, calls SQLite's
  ``interrupt()``, psycopg2's ``cancel()`` or sends MariaDB/MySQL a ``KILL QUERY`` from a second
  connection. The statement then fails like any failing statement, and Alembic rolls back the
  revision's transaction as it always does.
* In revision code (``time.sleep``, a loop) the signal raises :class:`Stopped`, a
  ``KeyboardInterrupt``; inside SQLAlchemy or a driver it is only noted, and the next statement the
  run would send raises :class:`StatementStopped` instead of going to the server.
* A second signal ends the process at once, as SIGKILL would.

The command then reports the interrupted revision and exits with 128 + the signal's number.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from .alembic_private import IMPORT_MACHINERY, stack_inside

SIGNALS = (signal.SIGINT, signal.SIGTERM)
RECANCEL_SECONDS = 0.5  # a cancel that reached the server before the statement did is sent again
_LIBRARIES = frozenset(
    {"sqlalchemy", "psycopg2", "pymysql", "MySQLdb", "sqlite3", "threading", "logging"}
    | IMPORT_MACHINERY  # an import half done
)


class Stopped(KeyboardInterrupt):
    """A signal stopped the run in revision (or multidb) code."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal_name(signum))


class StatementStopped(Exception):
    """A statement of an interrupted run was not sent."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by {signal_name(signum)}")


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def exit_code(signum: int) -> int:
    """What a shell reports for a process ended by ``signum``: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + signum


class _Session:
    """A connection whose running statement the watcher may cancel."""

    def __init__(self, cancel: Callable[[], None]):
        self.cancel = cancel
        self.running = False


class _State:
    def __init__(self) -> None:
        self.signum: int | None = None  # the first signal received
        self.pending = False  # received, and the migration has not stopped yet
        self.handled = 0  # signals the Python handler saw
        self.migrating = False
        self.worker = False  # a worker process of a --jobs run (see in_worker)
        self.forwarded = False  # the signal was passed on to this process's workers
        self.sessions: list[_Session] = []
        self.lock = threading.Lock()

    def receive(self, signum: int) -> None:
        with self.lock:
            if self.signum is None:
                self.signum = signum
                self.pending = True


_state = _State()
_owner: int | None = None  # the process whose command handles the signals now


def received() -> int | None:
    """The signal that interrupted this command, if one did."""
    return _state.signum


@contextmanager
def handling() -> Iterator[None]:
    """Handle SIGINT and SIGTERM as described above for the duration of a command (main thread only)."""
    global _state, _owner
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    previous = {s: signal.signal(s, _handle) for s in SIGNALS}
    previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    watcher = threading.Thread(target=_watch, args=(reader, _state), name="multidb-interrupts", daemon=True)
    watcher.start()
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "before_cursor_execute", _checkpoint)  # every connection, --atomic's too
    _owner = os.getpid()
    try:
        yield
    finally:
        _owner = None
        event.remove(Engine, "before_cursor_execute", _checkpoint)
        signal.set_wakeup_fd(previous_fd)
        for s, handler in previous.items():
            signal.signal(s, handler)
        writer.close()  # the watcher reads the end of the stream and returns
        watcher.join(timeout=5)
        reader.close()
        _state = _State()


@contextmanager
def in_worker() -> Iterator[None]:
    """In a worker process that a command handling the signals forked (``--jobs N``), watch them here
    too, so that a signal cancels this process's running statement as in a run without workers.

    The signal handlers came with the fork, the watcher thread did not: this starts one on a wakeup
    fd of this process's own. A repeated signal is ignored here (Ctrl-C reaches the workers and the
    command, which passes a signal on to its workers): whether to stop at once is the command's call.
    """
    if _owner is None or os.getpid() == _owner or threading.current_thread() is not threading.main_thread():
        yield
        return
    _state.worker = True
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    watcher = threading.Thread(target=_watch, args=(reader, _state), name="multidb-interrupts", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous_fd)
        writer.close()
        watcher.join(timeout=5)
        reader.close()


def _forward(state: _State, signum: int) -> None:
    """Pass the first signal on to this command's worker processes (SIGTERM is often sent to it alone)."""
    if state.forwarded or state.worker:
        return
    state.forwarded = True
    multiprocessing = sys.modules.get("multiprocessing")  # imported only by --jobs runs
    if multiprocessing is None:
        return
    for child in multiprocessing.active_children():
        _quietly(lambda pid=child.pid: os.kill(pid, signum))


def _handle(signum: int, frame: Any) -> None:
    _state.handled += 1
    if _state.handled > 1 and _state.worker:
        return
    if _state.handled > 1:  # a second signal: stop at once, leaving what SIGKILL leaves
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    _state.receive(signum)
    if not _inside_library(frame):
        raise Stopped(signum)


# transaction control is always sent: it is how an interrupted revision is undone (ROLLBACK TO SAVEPOINT)
# and how the revisions before it are kept (RELEASE, COMMIT)
_CONTROL = ("rollback", "release", "commit", "savepoint", "begin", "end")


def _checkpoint(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    """Before each statement: one of an interrupted migration is not sent (the watcher's KILL QUERY is)."""
    stopping = _state.pending and _state.migrating and threading.current_thread() is threading.main_thread()
    if stopping and not statement.lstrip().lower().startswith(_CONTROL):
        raise StatementStopped(_state.signum or signal.SIGINT)


def _inside_library(frame: Any) -> bool:
    """Whether SQLAlchemy or a driver is on the stack: an exception raised there could leave it
    half-way through its own bookkeeping."""
    return stack_inside(frame, _LIBRARIES)


def _watch(reader: socket.socket, state: _State) -> None:
    while True:
        busy = state.pending and any(s.running for s in state.sessions)
        ready, _, _ = select.select([reader], [], [], RECANCEL_SECONDS if busy else None)
        if ready:
            data = reader.recv(64)
            if not data:
                return
            for signum in data:
                if signum in SIGNALS:
                    state.receive(signum)
                    _forward(state, signum)
        if state.pending:
            for session in list(state.sessions):
                if session.running:
                    _quietly(session.cancel)


def _quietly(fn: Callable[[], None]) -> None:
    with suppress(Exception):  # the connection may be gone already; the run stops either way
        fn()


@contextmanager
def cancellable(connection: Any) -> Iterator[None]:
    """Let a signal cancel the statement running on ``connection`` (a SQLAlchemy Connection)."""
    from sqlalchemy import event

    session = _Session(_canceller(connection))

    def before(*_: Any) -> None:
        session.running = True

    def after(*_: Any) -> None:
        session.running = False

    # (a failed statement leaves ``running`` set: the cancels stop once the run has stopped, see taken())
    listeners = [("before_cursor_execute", before), ("after_cursor_execute", after)]
    for name, fn in listeners:
        event.listen(connection, name, fn)
    _state.sessions.append(session)
    try:
        yield
    finally:
        _state.sessions.remove(session)
        for name, fn in listeners:
            event.remove(connection, name, fn)


@contextmanager
def migrating() -> Iterator[None]:
    """Revisions run here: a pending signal stops the next statement. On the way out the signal is
    taken (no more cancels: the lock's release and the reports run as usual)."""
    _state.migrating = True
    try:
        yield
    finally:
        _state.migrating = False
        _state.pending = False


def taken() -> None:
    """The run has stopped: cancel nothing more."""
    _state.pending = False


def _canceller(connection: Any) -> Callable[[], None]:
    raw = connection.connection.dbapi_connection
    dialect = connection.dialect.name
    if dialect == "sqlite":
        return raw.interrupt
    if dialect == "postgresql" and hasattr(raw, "cancel"):
        return raw.cancel
    if dialect in ("mysql", "mariadb") and hasattr(raw, "thread_id"):
        thread_id, url = raw.thread_id(), connection.engine.url
        return lambda: _kill_query(url, thread_id)
    return lambda: None


def _kill_query(url: Any, thread_id: int) -> None:
    """MariaDB/MySQL: end the statement of connection ``thread_id`` from a connection of our own."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    other = sa.create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with other.connect() as conn:
            conn.exec_driver_sql(f"KILL QUERY {int(thread_id)}")
    finally:
        other.dispose()

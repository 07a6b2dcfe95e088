"""What a replay changes on the whole server, outside its throwaway database, as far as it can be seen.

PostgreSQL roles are the cluster's and MariaDB/MySQL users and roles the server's: dropping the throwaway
database keeps them, and a baseline makes none. So do the settings ``ALTER ROLE ... SET`` and ``ALTER DATABASE
... SET`` give (PostgreSQL's ``pg_db_role_setting``) and MariaDB's global grants (``GRANT ... ON *.*``,
``information_schema.USER_PRIVILEGES``). :class:`Tracker` reads them before and after a replay: the accounts the
replay made are dropped once the squash's databases are gone (:func:`drop`), a setting or global grant it gave an
account that was there before is undone where that is exact (a setting that account did not have is reset, a
global grant revoked), and each is named, so that the squash can refuse.

The server is shared (other tests, other squashes make roles at the same time): only what can be put down to
the replay counts, an account that was not there before and that the revision files name (as a word, in any
case) or that holds something in the throwaway database (owns an object, has a privilege or a setting there);
a setting or global grant of an account (or database) the revision files name, or (PostgreSQL) of the role
the replay runs as. ``ALTER SYSTEM``, ``SET GLOBAL``, tablespaces and the rest that docs/squash.md lists leave
nothing here to compare, and are neither seen nor undone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .objects import query_rows


@dataclass(frozen=True, order=True)
class Account:
    """A PostgreSQL role (``host`` None), a MariaDB/MySQL user (``'name'@'host'``) or MariaDB role."""

    name: str
    host: str | None = None
    role: bool = False

    @property
    def grantee(self) -> str:
        """As ``information_schema`` writes a MariaDB grantee (a role's host is ``''``)."""
        return f"'{self.name}'@'{self.host or ''}'"

    @property
    def label(self) -> str:
        return f"role {self.name}" if self.host is None or self.role else f"user {self.grantee}"


@dataclass(frozen=True)
class State:
    """The server outside any one database: accounts; PostgreSQL's settings as ``(database, role, 'key=value')``
    (``''``: any); MariaDB's global grants as ``(grantee, privilege, grantable)``."""

    accounts: frozenset[Account]
    settings: frozenset[tuple[str, str, str]] = frozenset()
    grants: frozenset[tuple[str, str, bool]] = frozenset()


def _execute(connection: Any, statement: str) -> None:
    """A statement without parameters (the drivers here still read ``%`` in it, as in a MariaDB host ``'%'``)."""
    if connection.dialect.paramstyle in ("format", "pyformat"):
        statement = statement.replace("%", "%%")
    connection.exec_driver_sql(statement)


def _undo(connection: Any, statement: str) -> None:
    """Undo a change the squash names anyway: one the connection may not undo is left (PostgreSQL: in a
    savepoint, so that the transaction goes on; MariaDB's GRANT and REVOKE commit by themselves)."""
    from sqlalchemy.exc import DBAPIError

    with suppress(DBAPIError):
        if connection.dialect.name != "postgresql":
            _execute(connection, statement)
            return
        with connection.begin_nested():
            _execute(connection, statement)


def read(connection: Any) -> State:
    name = connection.dialect.name
    if name == "postgresql":
        roles = frozenset(Account(r) for (r,) in query_rows(connection, "SELECT rolname FROM pg_roles"))
        settings = query_rows(
            connection,
            "SELECT coalesce(d.datname, ''), coalesce(r.rolname, ''), unnest(s.setconfig) FROM pg_db_role_setting s "
            "LEFT JOIN pg_database d ON d.oid = s.setdatabase LEFT JOIN pg_roles r ON r.oid = s.setrole",
        )
        return State(roles, frozenset((str(d), str(r), str(c)) for d, r, c in settings))
    if name in ("mysql", "mariadb"):
        import sqlalchemy as sa
        from sqlalchemy.exc import DBAPIError

        grants = query_rows(
            connection, "SELECT GRANTEE, PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.USER_PRIVILEGES"
        )
        try:
            users = connection.execute(sa.text("SELECT * FROM mysql.user")).mappings().all()  # MySQL: no is_role
            accounts = frozenset(
                Account(str(u["User"]), str(u["Host"]), str(u.get("is_role", "N")) == "Y") for u in users
            )
        except DBAPIError:  # an account that may not read mysql.user: the grantees it can see
            found = (re.fullmatch(r"'(.*)'@'(.*)'", str(g)) for g, *_ in grants)
            accounts = frozenset(Account(m[1], m[2]) for m in found if m)
        return State(accounts, grants=frozenset((str(g), str(p), str(y) == "YES") for g, p, y in grants))
    return State(frozenset())


def named_in(folders: Iterable[Path]) -> Callable[[str], bool]:
    """Whether a name is written, as a word and in any case, in a ``.py`` file under ``folders``."""
    texts = []
    for folder in folders:
        if folder.is_dir():
            for path in sorted(folder.rglob("*.py")):
                with suppress(OSError, UnicodeDecodeError):
                    texts.append(path.read_text(encoding="utf-8"))
    text = "\n".join(texts)

    def named(name: str) -> bool:
        return bool(name) and re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", text, re.IGNORECASE) is not None

    return named


def _holders(connection: Any) -> set[str]:
    """The accounts (names; MariaDB grantees) that own something in, have a privilege on, or a setting for the
    connection's database."""
    from ..testing.dialects import mysql_grants

    if connection.dialect.name == "postgresql":
        me = "(SELECT oid FROM pg_database WHERE datname = current_database())"
        return {
            str(r)
            for (r,) in query_rows(
                connection,
                "SELECT r.rolname FROM pg_shdepend s JOIN pg_roles r ON r.oid = s.refobjid "
                f"WHERE s.refclassid = 'pg_authid'::regclass AND (s.dbid = {me} OR (s.dbid = 0 "
                f"AND s.classid = 'pg_database'::regclass AND s.objid = {me})) "
                f"UNION SELECT r.rolname FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
                f"WHERE s.setdatabase = {me}",
            )
        }
    return {grantee for grantee, *_ in mysql_grants(connection)}


@dataclass
class Changes:
    """What a replay changed on the server: ``labels`` to refuse (``role app_reader``, ``user 'x'@'localhost'``,
    ``setting statement_timeout of role app``, ``grant SELECT on *.* to 'x'@'localhost'``), ``accounts`` to drop."""

    labels: list[str] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)


def changes(connection: Any, before: State, after: State, named: Callable[[str], bool]) -> Changes:
    """What changed from ``before`` to ``after`` that can be put down to the replay on ``connection``'s
    database; what can be undone exactly is undone here (the accounts are dropped later, see :func:`drop`)."""
    holders = _holders(connection)
    made = sorted(
        a for a in after.accounts - before.accounts if named(a.name) or a.name in holders or a.grantee in holders
    )
    found = Changes(accounts=made)
    if connection.dialect.name == "postgresql":
        me = query_rows(connection, "SELECT current_user")[0][0]  # ALTER ROLE CURRENT_USER names no role

        def named_or_me(name: str) -> bool:
            return name == me or named(name)

        found.labels = _pg_settings(connection, before, after, named_or_me, {a.name for a in made})
    elif connection.dialect.name in ("mysql", "mariadb"):
        found.labels = _global_grants(connection, before, after, named, {a.grantee for a in made})
    found.labels = [*sorted(a.label for a in made), *found.labels]
    return found


def _pg_settings(connection: Any, before: State, after: State, named: Callable, dropped: set[str]) -> list[str]:
    here = query_rows(connection, "SELECT current_database()")[0][0]
    quote = connection.dialect.identifier_preparer.quote

    def key(entry: str) -> str:
        return entry.partition("=")[0]

    had = {(d, r, key(c)) for d, r, c in before.settings}
    changed = {(d, r, key(c)) for d, r, c in after.settings ^ before.settings}
    labels = []
    for database, role, name in sorted(changed, key=lambda s: (bool(s[1]), s[1], s[0] != here, s[0], s[2])):
        if role in dropped or not (database == here or named(role) or (not role and named(database))):
            continue
        where = "database" if database == here else f"database {database}"
        if role:
            where = f"role {role} in {where}" if database else f"role {role}"
        labels.append(f"setting {name} of {where}")
        if database != here and (database, role, name) not in had:  # a setting it did not have: reset it
            target = f"ROLE {quote(role)}" if role else f"DATABASE {quote(database)}"
            if role and database:
                target += f" IN DATABASE {quote(database)}"
            _undo(connection, f"ALTER {target} RESET {'.'.join(quote(p) for p in name.split('.'))}")
    return labels


def _global_grants(connection: Any, before: State, after: State, named: Callable, dropped: set[str]) -> list[str]:
    accounts = {a.grantee: a for a in after.accounts | before.accounts}
    changed: dict[tuple[str, int], list[str]] = {}
    for verb, rows in ((0, after.grants - before.grants), (1, before.grants - after.grants)):
        for grantee, privilege, grantable in rows:
            account = accounts.get(grantee)
            if privilege == "USAGE" or grantee in dropped or account is None or not named(account.name):
                continue
            changed.setdefault((grantee, verb), []).append(f"{privilege}{' WITH GRANT OPTION' if grantable else ''}")
    labels = []
    for (grantee, verb), privileges in sorted(changed.items()):
        what = ", ".join(sorted(privileges))
        labels.append(f"revoke {what} on *.* from {grantee}" if verb else f"grant {what} on *.* to {grantee}")
        plain = sorted(p.removesuffix(" WITH GRANT OPTION") for p in privileges)
        if verb == 0:  # a grant is taken back; a revoke is not given back (what it held may be more than it shows)
            _undo(connection, f"REVOKE {', '.join(plain)} ON *.* FROM {grantee}")
            if any(p.endswith(" WITH GRANT OPTION") for p in privileges):
                _undo(connection, f"REVOKE GRANT OPTION ON *.* FROM {grantee}")
    return labels


def drop(url: str, accounts: Iterable[Account]) -> None:
    """Drop ``accounts`` on the server of admin URL ``url`` (once the databases they held something in are gone:
    a PostgreSQL role can't be dropped while it owns objects). One that can't be dropped is left."""
    import sqlalchemy as sa
    from sqlalchemy.exc import DBAPIError

    from ..engines import sync_url

    accounts = list(accounts)
    if not accounts:
        return
    engine = sa.create_engine(sync_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            quote = conn.dialect.identifier_preparer.quote
            for account in accounts:
                if account.host is None or account.role:
                    statement = f"DROP ROLE IF EXISTS {quote(account.name)}"
                else:
                    statement = f"DROP USER IF EXISTS {account.grantee}"
                with suppress(DBAPIError):
                    _execute(conn, statement)
    finally:
        engine.dispose()


class Tracker:
    """Reads the server when made (before a replay) and in :meth:`finish` (after it)."""

    def __init__(self, url: str, named: Callable[[str], bool]):
        self.url = url
        self.named = named
        self.before = self._read()

    def _read(self) -> State:
        from .replay import connected

        with connected(self.url) as conn:
            return read(conn)

    def finish(self) -> Changes:
        from .replay import connected

        with connected(self.url) as conn:
            found = changes(conn, self.before, read(conn), self.named)
            conn.commit()
        return found

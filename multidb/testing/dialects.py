"""Throwaway databases on each dialect, and copies of a Project that point at them.

A *dialect* here is a name a user types: ``sqlite``, ``postgresql``, ``mariadb`` or ``mysql``. SQLite
databases are files in a folder the caller owns; server databases are created on an admin URL
(``MULTIDB_TEST_POSTGRESQL_URL`` etc.) under a random name and dropped afterwards.

Nothing here imports pytest; the plugin turns :class:`ServerUnavailable` into a skip or a failure.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Database, Project
from ..redact import first_line
from ..scratch import PLUGIN_PREFIX, scratch_name

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

#: The dialects the plugin knows, with the environment variable and default of their admin URL.
SERVER_URLS: dict[str, tuple[str, str]] = {
    "postgresql": ("MULTIDB_TEST_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    "mariadb": ("MULTIDB_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/"),
    "mysql": ("MULTIDB_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/"),
}
DIALECTS = ("sqlite", *SERVER_URLS)


class ServerUnavailable(Exception):
    """The server of a dialect cannot be reached (or refuses to create a database)."""


def parse_dialects(text: str) -> tuple[str, ...]:
    """``"sqlite, postgresql"`` -> ``("sqlite", "postgresql")``; raises ValueError naming an unknown one."""
    names = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [n for n in names if n not in DIALECTS]
    if unknown:
        raise ValueError(f"unknown dialect '{unknown[0]}' (known: {', '.join(DIALECTS)})")
    if not names:
        raise ValueError(f"name at least one dialect (known: {', '.join(DIALECTS)})")
    return names


def server_urls(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The admin URL of every server dialect: its environment variable, else the local default."""
    from ..redact import SecretURL

    environ = os.environ if environ is None else environ
    return {dialect: SecretURL(environ.get(var) or default) for dialect, (var, default) in SERVER_URLS.items()}


def offline_url(dialect: str, urls: Mapping[str, str] | None = None) -> str:
    """A URL that only names a dialect (and driver), for rendering SQL without connecting."""
    from ..engines import sync_url

    if dialect == "sqlite":
        return "sqlite://"
    source = (urls or {}).get(dialect) or SERVER_URLS.get(dialect, ("", f"{dialect}://"))[1]
    return f"{sync_url(source).drivername}://"  # the driver multidb connects with (an async one's sync driver)


def retarget(project: Project, name: str, url: str) -> Project:
    """A copy of ``project`` holding only database ``name``, whose URL is ``url``.

    The other databases are left out, so nothing done with the copy can reach them, except those
    ``name`` depends on that share its database: its revisions may use their tables, so they come
    along, at ``url`` too (the checks upgrade them first). A fleet entry becomes one representative
    target of it (see :func:`representative`).
    """
    databases = {}
    for other in [*dependencies(project, name, same_database=True), name]:
        db = dataclasses.replace(project.databases[other], url=url)
        databases[other] = representative(db, url) if db.fleet is not None else db
    return dataclasses.replace(project, databases=databases)


def dependencies(project: Project, name: str, same_database: bool = False) -> list[str]:
    """The databases of ``project`` that ``name`` depends on, directly or not, in ``depends_on`` order.

    ``same_database``: only those that share its database in the loaded profile (a chain through
    another database stops there).
    """
    home = project.databases[name].same_server_database
    found: list[str] = []
    todo = list(project.databases[name].depends_on)
    while todo:
        dep = todo.pop()
        if dep not in project.databases or dep in found:
            continue
        if same_database and project.databases[dep].same_server_database != home:
            continue
        found.append(dep)
        todo.extend(project.databases[dep].depends_on)
    return [db.name for db in project.select(found)] if found else []


#: The tenant a fleet's representative target is named after when the config lists no names.
REPRESENTATIVE_TENANT = "tenant"


def representative(db: Database, url: str) -> Database:
    """A fleet entry as one of its targets, at ``url``, under the entry's own name.

    Its tenants are not discovered (that would query the profile's servers): a schema target is the
    first listed name, else ``tenant``. It keeps its schema on PostgreSQL, where the revisions run
    with it on the search path, as they do in production; elsewhere (SQLite; MariaDB and MySQL, where
    a schema is a database) and for ``by: database`` and ``by: url``, the target is the database
    ``url`` itself.
    """
    from sqlalchemy.engine import make_url

    assert db.fleet is not None
    changes: dict[str, Any] = {"fleet": None, "url": url}
    if db.fleet.by == "schema" and make_url(url).get_backend_name() == "postgresql":
        tenant = db.fleet.names[0] if db.fleet.names else REPRESENTATIVE_TENANT
        changes.update(schema=tenant, version_table_schema=tenant)
    return dataclasses.replace(db, **changes)


@dataclass
class Servers:
    """Creates, resets and drops throwaway databases; one admin engine per server dialect, opened lazily.

    ``urls`` maps a server dialect to its admin URL. ``folder`` holds SQLite files. Every name starts
    with ``prefix`` (checked by :func:`multidb.scratch.check_prefix` when it comes from a user). A server database
    is created once (under a random name), emptied when a test gives it back and handed to the next
    test, and dropped by :meth:`close`: creating and dropping one per test costs a checkpoint each
    time on PostgreSQL. A server that could not be reached is remembered, so later requests fail at
    once with the same reason.
    """

    urls: Mapping[str, str]
    folder: Path
    connect_timeout: int = 5
    prefix: str = PLUGIN_PREFIX
    _engines: dict[str, Engine] = dataclasses.field(default_factory=dict)
    _down: dict[str, str] = dataclasses.field(default_factory=dict)
    _free: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    _created: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @contextmanager
    def database(self, dialect: str) -> Iterator[str]:
        """An empty database of ``dialect``, yielded as its URL; emptied (or dropped) afterwards."""
        if dialect == "sqlite":
            yield from self._sqlite()
            return
        engine = self._admin(dialect)
        free = self._free.setdefault(dialect, [])
        name = free.pop() if free else self._create(dialect, engine)
        url = _url_for(self.urls[dialect], name)
        try:
            yield url
        finally:
            if _empty(engine, url, name):
                free.append(name)
            else:
                self._drop(engine, name)
                self._created[dialect].remove(name)

    def close(self) -> None:
        """Drop every server database made so far and dispose of the admin engines."""
        for dialect, names in self._created.items():
            for name in names:
                self._drop(self._engines[dialect], name)
        self._created.clear()
        self._free.clear()
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    def _sqlite(self) -> Iterator[str]:
        name = scratch_name(self.prefix)
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            yield f"sqlite:///{self.folder / name}.db"
        finally:
            for leftover in self.folder.glob(f"{name}.db*"):
                leftover.unlink(missing_ok=True)

    def _admin(self, dialect: str) -> Engine:
        if dialect in self._down:
            raise ServerUnavailable(self._down[dialect])
        if dialect not in self.urls:
            raise ServerUnavailable(f"no server URL for dialect '{dialect}'")
        engine = self._engines.get(dialect)
        if engine is None:
            try:
                engine = _admin_engine(self.urls[dialect], self.connect_timeout)
            except ImportError as e:  # the URL's driver is not installed (e.g. a plain install, no test extra)
                from sqlalchemy.engine import make_url

                driver = make_url(self.urls[dialect]).drivername
                self._down[dialect] = f"the {driver} driver is not installed (no module named '{e.name or e}')"
                raise ServerUnavailable(self._down[dialect]) from None
            self._engines[dialect] = engine
        return engine

    def _create(self, dialect: str, engine: Engine) -> str:
        from sqlalchemy.exc import DBAPIError

        name = scratch_name(self.prefix)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {_quote(engine, name)}")
        except DBAPIError as e:
            where = _masked(self.urls[dialect])
            reason = first_line(str(e.orig) if e.orig is not None else str(e), *_secrets(self.urls[dialect]))
            self._down[dialect] = f"the {dialect} server at {where} is unavailable: {reason}"
            raise ServerUnavailable(self._down[dialect]) from e
        self._created.setdefault(dialect, []).append(name)
        return name

    def _drop(self, engine: Engine, name: str) -> None:
        force = " WITH (FORCE)" if engine.dialect.name == "postgresql" else ""
        with engine.connect() as conn:
            if engine.dialect.name != "postgresql":
                _revoke_grants(conn, name)
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quote(engine, name)}{force}")


def _empty(admin: Engine, url: str, name: str) -> bool:
    """Remove everything from a server database; False if that did not work (drop it instead)."""
    from sqlalchemy.exc import DBAPIError

    try:
        if admin.dialect.name == "postgresql":
            _empty_postgresql(url)
        else:
            with admin.connect() as conn:  # MariaDB/MySQL: a database is a folder; this is quick
                _revoke_grants(conn, name)
                conn.exec_driver_sql(f"DROP DATABASE {_quote(admin, name)}")
                conn.exec_driver_sql(f"CREATE DATABASE {_quote(admin, name)}")
    except DBAPIError:
        return False
    return True


def mysql_grants(conn: Any, name: str | None = None) -> list[tuple[str, str, str, str, str, bool]]:
    """MariaDB/MySQL: what is granted on database ``name`` (the connection's own by default), its tables and
    columns, as ``(grantee, database as stored, table, column, privilege, grantable)``; ``''`` for no table
    or column. A grant names its database by a pattern, ``_`` escaped or not."""
    from sqlalchemy import text

    here = "(TABLE_SCHEMA = {n} OR REPLACE(TABLE_SCHEMA, '\\\\_', '_') = {n})".format(
        n=":name" if name else "DATABASE()"
    )
    views = (
        ("SCHEMA_PRIVILEGES", "'', ''"),
        ("TABLE_PRIVILEGES", "TABLE_NAME, ''"),
        ("COLUMN_PRIVILEGES", "TABLE_NAME, COLUMN_NAME"),
    )
    found = []
    for view, names in views:
        query = f"SELECT GRANTEE, TABLE_SCHEMA, {names}, PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.{view}"
        for row in conn.execute(text(f"{query} WHERE {here}"), {"name": name} if name else {}):
            grantee, schema, table, column, privilege, grantable = (str(v) for v in row)
            found.append((grantee, schema, table, column, privilege, grantable == "YES"))
    return found


def _revoke_grants(conn: Any, name: str) -> None:
    """MariaDB/MySQL: take back what was granted on database ``name``, its tables and columns (by a test or a
    squash's replay). Dropping a database keeps its grants, and a database made later under the same name
    would have them. Each grant is revoked as it is stored; one that can't be revoked (no privilege to) is
    left, and the database is dropped all the same."""
    from sqlalchemy.exc import DBAPIError

    quote = conn.dialect.identifier_preparer.quote_identifier
    statements = []
    for grantee, schema, table, column, privilege, grantable in mysql_grants(conn, name):
        on = f"{quote(schema)}.{quote(table) if table else '*'}"
        statements.append(
            f"REVOKE {privilege} ({quote(column)}) ON {on} FROM {grantee}"
            if column
            else f"REVOKE {privilege} ON {on} FROM {grantee}"
        )
        if grantable and not column:
            statements.append(f"REVOKE GRANT OPTION ON {on} FROM {grantee}")
    for statement in dict.fromkeys(statements):
        with suppress(DBAPIError):
            conn.exec_driver_sql(statement)


def _empty_postgresql(url: str) -> None:
    import sqlalchemy as sa

    engine = _admin_engine(url, 5, single_use=True)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SET lock_timeout = '5s'")
            schemas = conn.execute(
                sa.text(
                    "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                    "AND nspname <> 'information_schema'"
                )
            ).scalars()
            for schema in list(schemas):
                conn.exec_driver_sql(f"DROP SCHEMA {_quote(engine, schema)} CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


def _admin_engine(url: str, timeout: int, single_use: bool = False) -> Engine:
    """An AUTOCOMMIT engine; pooled (one connection kept open) unless ``single_use``."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    from ..engines import sync_url

    parsed = sync_url(url)
    options: dict[str, Any] = {"poolclass": NullPool} if single_use else {"pool_pre_ping": True}
    return sa.create_engine(parsed, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": timeout}, **options)


def _url_for(admin_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _quote(engine: Any, name: str) -> str:
    return engine.dialect.identifier_preparer.quote_identifier(name)


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _secrets(url: str) -> tuple[str, ...]:
    from sqlalchemy.engine import make_url

    password = make_url(url).password
    return (str(password),) if password else ()

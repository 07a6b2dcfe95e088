"""URLs written for an async application (issue 13, item 4).

multidb migrates through the synchronous counterpart of an async driver (``engines.ASYNC_DRIVERS``). Each
test runs the example project with async URLs through upgrade, check and downgrade, and then opens the
application's own async engine on the same URL to see that it reads what multidb migrated.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from example_project import CATALOG_HEAD, CATALOG_TABLES, MONITOR_HEAD, MONITOR_TABLES


def async_tables(url: str) -> set[str]:
    """The tables the application's async engine sees at ``url``."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    async def read() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def with_driver(url: str, driver: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername=f"{parsed.get_backend_name()}+{driver}").render_as_string(hide_password=False)


def round_trip(cli, env: dict[str, str], *profile: str) -> None:
    """upgrade, check, status, downgrade to base and upgrade again: every command on the async URLs."""
    up = cli("upgrade", "--all", "--json", *profile, env=env)
    assert up.exit_code == 0, up.output
    assert [r["after"] for r in json.loads(up.stdout)] == [[CATALOG_HEAD], [MONITOR_HEAD]]
    check = cli("check", "--all", *profile, env=env)
    assert check.exit_code == 0, check.output
    assert "catalog: the models match the migrations" in check.stdout
    status = cli("status", "--all", "--json", *profile, env=env)
    assert [s["state"] for s in json.loads(status.stdout)] == ["at head", "at head"]
    down = cli("downgrade", "catalog", "monitor", "--to", "base", "--json", *profile, env=env)
    assert down.exit_code == 0, down.output
    assert [r["after"] for r in json.loads(down.stdout)] == [[], []]
    again = cli("upgrade", "--all", *profile, env=env)
    assert again.exit_code == 0, again.output


def test_sqlite_aiosqlite_urls(cli, project: Path):
    config = project / "config" / "multidb.yaml"
    config.write_text(config.read_text().replace("url: sqlite:///", "url: sqlite+aiosqlite:///"))
    round_trip(cli, {})
    assert async_tables(f"sqlite+aiosqlite:///{project / 'var' / 'catalog.db'}") >= CATALOG_TABLES
    assert async_tables(f"sqlite+aiosqlite:///{project / 'var' / 'monitor.db'}") >= MONITOR_TABLES


@pytest.mark.postgresql
@pytest.mark.parametrize("driver", ["asyncpg", "psycopg_async"])
def test_postgresql_async_urls(driver: str, cli, pg_database):
    if driver == "psycopg_async":
        pytest.importorskip("psycopg")
    catalog, monitor = with_driver(pg_database(), driver), with_driver(pg_database(), driver)
    round_trip(cli, {"CATALOG_DATABASE_URL": catalog, "MONITOR_DATABASE_URL": monitor}, "-p", "production")
    assert async_tables(catalog) >= CATALOG_TABLES | {"alembic_version"}
    assert async_tables(monitor) >= MONITOR_TABLES


@pytest.mark.mariadb
def test_mariadb_aiomysql_urls(cli, mariadb_database):
    catalog, monitor = with_driver(mariadb_database(), "aiomysql"), with_driver(mariadb_database(), "aiomysql")
    round_trip(cli, {"CATALOG_DATABASE_URL": catalog, "MONITOR_DATABASE_URL": monitor}, "-p", "production")
    assert async_tables(catalog) >= CATALOG_TABLES | {"alembic_version"}
    assert async_tables(monitor) >= MONITOR_TABLES


def test_offline_sql_of_an_async_url_is_its_sync_drivers(cli, project: Path):
    """--sql never connects: the file is the one the sync driver's URL gives (same dialect, same statements)."""
    sync = {"CATALOG_DATABASE_URL": "postgresql://app@db.invalid/catalog", "MONITOR_DATABASE_URL": "sqlite:///m.db"}
    assert cli("upgrade", "--all", "--sql", "-p", "production", "--output-dir", "sync", env=sync).exit_code == 0
    asynchronous = {
        "CATALOG_DATABASE_URL": "postgresql+asyncpg://app@db.invalid/catalog?ssl=require",
        "MONITOR_DATABASE_URL": "sqlite+aiosqlite:///m.db",
    }
    result = cli("upgrade", "--all", "--sql", "-p", "production", "--output-dir", "async", env=asynchronous)
    assert result.exit_code == 0, result.output
    for name in ("catalog", "monitor"):
        assert (project / "async" / f"{name}.sql").read_text() == (project / "sync" / f"{name}.sql").read_text()


def test_async_query_parameters_become_the_sync_drivers():
    from multidb.engines import sync_url

    url = sync_url("postgresql+asyncpg://app:pw@h/db?ssl=verify-full&prepared_statement_cache_size=0")
    assert url.drivername == "postgresql+psycopg2"
    assert dict(url.query) == {"sslmode": "verify-full"}
    assert (
        sync_url("mysql+aiomysql://u@h/db?charset=utf8mb4").render_as_string()
        == "mysql+pymysql://u@h/db?charset=utf8mb4"
    )
    assert sync_url("sqlite+aiosqlite:///x.db").drivername == "sqlite+pysqlite"


def test_the_plugin_takes_async_admin_urls():
    from multidb.testing import dialects

    assert dialects.offline_url("postgresql", {"postgresql": "postgresql+asyncpg://u@h/db"}) == "postgresql+psycopg2://"
    assert dialects.offline_url("mariadb", {"mariadb": "mysql+aiomysql://u@h/"}) == "mysql+pymysql://"


@pytest.mark.postgresql
def test_the_plugins_throwaway_databases_from_an_asyncpg_admin_url(tmp_path: Path, pg_database):
    """MULTIDB_TEST_POSTGRESQL_URL may be written with asyncpg: the plugin's admin engine uses psycopg2."""
    import sqlalchemy as sa

    from multidb.testing import dialects

    admin = with_driver(pg_database(), "asyncpg")
    servers = dialects.Servers({"postgresql": admin}, tmp_path)
    try:
        with servers.database("postgresql") as url:
            assert make_url(url).drivername == "postgresql+asyncpg"
            engine = sa.create_engine(make_url(url).set(drivername="postgresql+psycopg2"))
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT current_database()").scalar() == make_url(url).database
            engine.dispose()
    finally:
        servers.close()

"""The SQL file of ``--sql`` sets the profile's ``lock_timeout`` / ``statement_timeout``, as an online run does.

The file is read, and on PostgreSQL and MariaDB run with the server's own client (psql, mysql) against a
throwaway database, which then reports the settings the file's session had.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from assertions import servers_required
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from example_project import CATALOG_HEAD


def configure(project: Path, url: str, **settings: object) -> None:
    path = project / "config" / "multidb.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["databases"]["catalog"].update(url=url, **settings)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def client(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if servers_required():
            pytest.fail(f"{name} is required in CI but not installed")
        pytest.skip(f"{name} is not installed")
    return found


def run(command: list[str], stdin: str | None = None) -> str:
    done = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=120, env={**os.environ, "PGCONNECT_TIMEOUT": "10"}
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def head_of(url: str) -> set[str]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return set(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()


def before_first_begin(sql: str) -> str:
    """The file's top: before its first transaction (MariaDB's files have none) and its version table."""
    return sql.split("BEGIN", 1)[0].split("CREATE TABLE alembic_version", 1)[0]


@pytest.mark.parametrize("transaction", ["per_revision", "per_run"])
def test_postgresql_file_sets_the_timeouts_for_its_whole_session(cli, project, pg_database, transaction):
    url = pg_database()
    configure(project, url, lock_timeout="5s", statement_timeout="2min", transaction=transaction)
    result = cli("upgrade", "catalog", "--sql")
    assert result.exit_code == 0, result.output
    sql = (project / "sql" / "catalog.sql").read_text()
    top = before_first_begin(sql)  # session settings: they outlive each revision's COMMIT
    assert "SET lock_timeout = '5000ms';" in top
    assert "SET statement_timeout = '120000ms';" in top
    assert "SET LOCAL" not in sql

    conninfo = make_url(url).render_as_string(hide_password=False)
    command = [client("psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", conninfo]
    command += ["-f", str(project / "sql" / "catalog.sql"), "-c", "SHOW lock_timeout", "-c", "SHOW statement_timeout"]
    shown = run(command)
    assert shown.split()[-2:] == ["5s", "2min"]
    assert head_of(url) == {CATALOG_HEAD}


def mariadb_session(url: str, sql: str) -> list[str]:
    """Run ``sql`` with the mysql client on ``url``'s database, then show the session's timeouts."""
    parsed = make_url(url)
    command = [client("mysql"), "-h", parsed.host or "127.0.0.1", "-P", str(parsed.port or 3306)]
    command += ["-u", parsed.username or "root", "--batch", "--skip-column-names", parsed.database or ""]
    shown = run(command, sql + "\nSELECT @@session.lock_wait_timeout, @@session.max_statement_time;\n")
    return shown.split()[-2:]


@pytest.mark.parametrize("scheme", ["mysql+pymysql", "mariadb+pymysql"])
def test_mariadb_file_sets_the_timeouts(cli, project, mariadb_database, scheme):
    url = mariadb_database()
    configure(project, url.replace("mysql+pymysql", scheme, 1), lock_timeout="7s", statement_timeout="90s")
    result = cli("upgrade", "catalog", "--sql")
    assert result.exit_code == 0, result.output
    sql = (project / "sql" / "catalog.sql").read_text()
    top = before_first_begin(sql)
    assert "SET SESSION lock_wait_timeout = 7" in top
    assert "max_statement_time = 90" in top  # MariaDB's; a mysql:// URL may be either server, MySQL skips it
    assert mariadb_session(url, sql) == ["7", "90.000000"]
    assert head_of(url) == {CATALOG_HEAD}


def test_mariadb_statement_timeout_alone(cli, project, mariadb_database):
    url = mariadb_database()
    configure(project, url, statement_timeout="1.5s")
    assert cli("upgrade", "catalog", "--sql").exit_code == 0
    sql = (project / "sql" / "catalog.sql").read_text()
    assert "max_statement_time = 1.5" in before_first_begin(sql)
    assert mariadb_session(url, sql)[1] == "1.500000"


def test_no_timeouts_no_settings(cli, project):
    configure(project, "postgresql://app@db.internal/catalog")
    assert cli("upgrade", "catalog", "--sql").exit_code == 0
    top = before_first_begin((project / "sql" / "catalog.sql").read_text())
    assert "SET " not in top


def test_sqlite_file_has_no_settings(cli, project):
    configure(project, "sqlite:///../var/catalog.db", lock_timeout="5s", statement_timeout="2min")
    assert cli("upgrade", "catalog", "--sql").exit_code == 0
    sql = (project / "sql" / "catalog.sql").read_text()
    assert "SET " not in before_first_begin(sql)
    assert "timeout" not in sql.lower()

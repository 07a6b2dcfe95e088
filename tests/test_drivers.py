"""Connection arguments and error handling per driver (issue 11, item 15).

Every supported driver runs a real migration whose statement lasts longer than ``connect_timeout``
(the timeout bounds connecting, never a statement), then finds its version table on the next run.
Unknown drivers are refused with one line naming the supported ones (async URLs: tests/test_async_urls.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from assertions import assert_one_clean_error, one_error_line
from sqlalchemy.engine import make_url

SLEEPING_REVISION = '''"""a table, then a statement longer than connect_timeout

Revision ID: d1000000000d
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "d1000000000d"
down_revision = None
branch_labels = ("app",)
depends_on = None


def upgrade() -> None:
    op.create_table("things", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute({sleep!r})


def downgrade() -> None:
    op.drop_table("things")
'''

SLEEP = {"postgresql": "SELECT pg_sleep(4)", "mysql": "SELECT SLEEP(4)", "sqlite": "SELECT 1"}


def one_entry(root: Path, url: str, sleep: str) -> Path:
    folder = root / "versions"
    folder.mkdir(parents=True)
    (folder / "d1000000000d_things.py").write_text(SLEEPING_REVISION.format(sleep=sleep))
    (root / "multidb.yaml").write_text(
        f"databases:\n  app:\n    url: {url}\n    connect_timeout: 1\n    bases: [{{label: app, path: versions}}]\n"
    )
    return root


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from click.testing import CliRunner

    from multidb.cli import main

    monkeypatch.chdir(tmp_path)
    return lambda *args: CliRunner().invoke(main, ["-c", "multidb.yaml", *args], catch_exceptions=False)


def migrate_twice(run) -> None:
    first = run("upgrade", "--all", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)[0]["result"] == "upgraded"
    again = run("upgrade", "--all", "--json")  # the version table is found this time
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)[0]["result"] == "no change"
    status = run("status", "--all", "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)[0]["state"] == "at head"


@pytest.mark.postgresql
@pytest.mark.parametrize("driver", ["psycopg2", "psycopg", "pg8000"])
def test_postgresql_drivers(driver: str, tmp_path: Path, run, pg_database):
    url = make_url(pg_database()).set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)
    one_entry(tmp_path, url, SLEEP["postgresql"])
    migrate_twice(run)


@pytest.mark.mariadb
@pytest.mark.parametrize("driver", ["pymysql", "mysqldb"])
def test_mysql_drivers(driver: str, tmp_path: Path, run, mariadb_database):
    url = make_url(mariadb_database()).set(drivername=f"mysql+{driver}").render_as_string(hide_password=False)
    one_entry(tmp_path, url, SLEEP["mysql"])
    migrate_twice(run)


def test_sqlite_driver(tmp_path: Path, run):
    one_entry(tmp_path, "sqlite+pysqlite:///app.db", SLEEP["sqlite"])
    migrate_twice(run)


@pytest.mark.parametrize(
    ("url", "fragments"),
    [
        (
            "postgresql+psycopg2cffi://u@127.0.0.1:1/x",
            ("'postgresql+psycopg2cffi'", "not supported", "postgresql+asyncpg"),
        ),
        ("mysql+mysqlconnector://u@127.0.0.1:1/x", ("'mysql+mysqlconnector'", "not supported", "mysql+pymysql")),
    ],
)
@pytest.mark.parametrize("command", [("upgrade", "--all"), ("status", "--all")])
def test_unsupported_drivers_are_refused_in_one_line(tmp_path: Path, run, url: str, fragments, command):
    one_entry(tmp_path, url, "SELECT 1")
    result = run(*command)
    assert result.exit_code == 2, result.output
    assert_one_clean_error(result, "app: the driver", "use one of:", *fragments)
    assert not (tmp_path / "app.db").exists()


@pytest.mark.postgresql
@pytest.mark.parametrize("driver", ["psycopg", "pg8000"])
def test_postgresql_drivers_name_the_holder_of_the_migration_lock(driver: str, tmp_path: Path, run, pg_database):
    """The lock wait's timeout (SQLSTATE 55P03) is recognized whatever the driver, so the holder is named."""
    import os

    from multidb.config import load_config
    from multidb.locking import migration_lock

    url = make_url(pg_database()).set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)
    one_entry(tmp_path, url, "SELECT 1")
    db = load_config(tmp_path / "multidb.yaml").databases["app"]
    with migration_lock(db, 5):
        result = run("upgrade", "--all", "--lock-timeout", "1")
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert "app: could not get the migration lock within 1 s" in line and f"pid {os.getpid()}" in line, line


@pytest.mark.postgresql
@pytest.mark.parametrize("driver", ["psycopg2", "psycopg", "pg8000"])
def test_postgresql_driver_errors_are_one_readable_line(driver: str, tmp_path: Path, run, pg_database):
    url = make_url(pg_database()).set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)
    one_entry(tmp_path, url, "SELECT no_such_column FROM no_such_table")
    result = run("upgrade", "--all")
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert 'relation "no_such_table" does not exist' in line and "{" not in line, line

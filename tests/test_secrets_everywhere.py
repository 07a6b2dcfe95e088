"""No password reaches anything multidb prints or leaves behind, whatever the command and however it ends.

A sentinel password (with characters a URL must percent-encode) sits in the databases' URLs, before
the '@' on PostgreSQL and MariaDB and as a ``?password=`` query value. Every command runs in a real
subprocess, succeeding and failing, and its stdout, stderr, ``--json``, ``--traceback``, offline SQL,
the files it leaves (project, HOME and cache folders), and its argv/process title are searched for the
password, raw and encoded. The pytest plugin's output (``-l``, junit XML) is searched the same way.

Also: on MariaDB/MySQL a failing revision's message names the statements that had run (DDL is not
transactional there) by position and kind, never with their literals (a ``CREATE USER ... IDENTIFIED BY``).
"""

from __future__ import annotations

import json

import pytest
from assertions import one_error_line

from example_project import CATALOG_HEAD, CATALOG_NEXT

# --- MariaDB: the statements a failing revision had run -----------------------------------------

USER_PASSWORD = "Sentinel-Pw-123"
CREATES_USER_THEN_FAILS = f'''"""create a table and a user, then fail

Revision ID: {CATALOG_NEXT}
Revises: {CATALOG_HEAD}
"""
import sqlalchemy as sa
from alembic import op

revision = "{CATALOG_NEXT}"
down_revision = "{CATALOG_HEAD}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("made_first", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute("INSERT INTO made_first (id) VALUES (4242)")
    op.execute("CREATE USER '{{user}}'@'%' IDENTIFIED BY '{USER_PASSWORD}'")
    raise RuntimeError("failing on purpose")


def downgrade() -> None:
    op.drop_table("made_first")
'''


def _use_production(project, catalog: str, monitor: str) -> dict[str, str]:
    return {"CATALOG_DATABASE_URL": catalog, "MONITOR_DATABASE_URL": monitor}


@pytest.fixture
def mariadb_user():
    """A MariaDB user name a test may create; dropped afterwards."""
    import uuid

    import sqlalchemy as sa
    from conftest import MARIADB_ADMIN_URL
    from sqlalchemy.pool import NullPool

    name = f"u_{uuid.uuid4().hex[:10]}"
    yield name
    admin = sa.create_engine(MARIADB_ADMIN_URL, poolclass=NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP USER IF EXISTS '{name}'@'%%'")
    admin.dispose()


@pytest.mark.mariadb
@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_mariadb_failure_names_the_statements_that_ran_without_their_literals(
    cli, project, mariadb_database, mariadb_user, as_json
):
    revision = CREATES_USER_THEN_FAILS.replace("{user}", mariadb_user)
    (project / "catalog_versions" / f"{CATALOG_NEXT}_creates_user.py").write_text(revision)
    env = _use_production(project, mariadb_database(), mariadb_database())

    result = cli("upgrade", "catalog", "-p", "production", *(["--json"] if as_json else []), env=env)

    assert result.exit_code == 1, result.output
    assert USER_PASSWORD not in result.output
    assert mariadb_user not in result.output  # a quoted user name is a string literal
    assert "4242" not in result.output
    if as_json:
        [found] = json.loads(result.stdout)
        message = found["error"]
    else:
        message = one_error_line(result.stderr)
    assert "partly migrated" in message, message
    assert "failing on purpose" in message
    assert "statement 1: CREATE TABLE made_first | statement 2: INSERT INTO made_first | " in message, message
    assert "statement 3: CREATE USER (literals hidden)" in message, message


def test_statement_descriptions_keep_identifiers_and_hide_literals():
    from multidb.journal import describe

    cases = {
        "CREATE TABLE tags (id INTEGER NOT NULL, name VARCHAR(20) DEFAULT 'x')": "CREATE TABLE tags",
        "CREATE TABLE `my db`.`t 1` (id INT)": "CREATE TABLE `my db`.`t 1`",
        "create unique index ix_a on t (a)": "CREATE UNIQUE INDEX ix_a",
        "CREATE TABLE IF NOT EXISTS t2 (a INT)": "CREATE TABLE IF NOT EXISTS t2",
        "ALTER TABLE files ADD COLUMN checksum VARCHAR(10) DEFAULT 'sha256'": "ALTER TABLE files",
        "DROP TABLE IF EXISTS old": "DROP TABLE IF EXISTS old",
        "INSERT INTO locations (name) VALUES ('secret')": "INSERT INTO locations",
        "UPDATE locations SET medium = kind WHERE id = 3": "UPDATE locations",
        "DELETE FROM locations WHERE name = 'x'": "DELETE FROM locations",
        "CREATE USER 'u'@'%' IDENTIFIED BY 'pw'": "CREATE USER (literals hidden)",
        "ALTER USER 'u'@'%' IDENTIFIED BY 'pw'": "ALTER USER (literals hidden)",
        "GRANT ALL ON db.* TO 'u'@'%'": "GRANT (literals hidden)",
        "SET PASSWORD FOR 'u'@'%' = PASSWORD('pw')": "SET (literals hidden)",
        "/* 'pw' */ CREATE TABLE t3 (a INT)": "CREATE TABLE t3",
        'CREATE TABLE "quoted" (a INT)': "CREATE TABLE (literals hidden)",  # a string in MySQL's default mode
        "'pw'": "statement (literals hidden)",
        "CALL refresh('pw', 42)": "CALL refresh",
    }
    for statement, expected in cases.items():
        assert describe(statement) == expected, statement

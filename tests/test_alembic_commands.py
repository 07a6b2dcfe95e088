"""Alembic commands and options users missed (issue 13, item 5), each on real databases.

``history -i/-v``, ``edit``, ``stamp --purge`` ahead of code, ``ensure-version``, ``init --template``,
``--tag``, ``sql DB REV`` (one revision's SQL) and ``downgrade --sql`` written to its own file.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from assertions import assert_one_clean_error
from sqlalchemy.engine import make_url

from example_project import CATALOG_HEAD, CATALOG_NEXT, CATALOG_REVS, next_catalog_revision

TAG_REVISION = next_catalog_revision(
    "remember the tag",
    """    seen = op.create_table("tag_seen", sa.Column("tag", sa.String(50)))
    op.bulk_insert(seen, [{"tag": str(context.get_tag_argument())}])""",
    '    op.drop_table("tag_seen")',
    imports="from alembic import context, op",
)


def rows(path: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


def catalog_db(project: Path) -> Path:
    return project / "var" / "catalog.db"


# --- downgrade --sql: a file of its own -------------------------------------------------------------------------


def test_downgrade_sql_does_not_overwrite_the_upgrade_file(cli, project: Path):
    assert cli("upgrade", "catalog", "--sql").exit_code == 0
    up = (project / "sql" / "catalog.sql").read_text()
    result = cli("downgrade", "catalog", "--sql", "--to", f"{CATALOG_HEAD}:{CATALOG_REVS[2]}", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["output"] == "sql/catalog.downgrade.sql"
    assert (project / "sql" / "catalog.sql").read_text() == up  # before: replaced by the downgrade
    down = (project / "sql" / "catalog.downgrade.sql").read_text()
    assert down.startswith("-- multidb: downgrade of database 'catalog'") and "DELETE FROM locations" in down


# --- stamp --purge: a database ahead of code ---------------------------------------------------------------------


def test_stamp_purge_recovers_a_database_at_a_deleted_revision(cli, project: Path):
    assert cli("upgrade", "--all").exit_code == 0
    (newest,) = project.glob(f"catalog_versions/{CATALOG_HEAD}_*.py")
    newest.unlink()  # the version row now names a revision no folder holds
    status = json.loads(cli("status", "catalog", "--json").stdout)[0]
    assert status["state"] == "ahead of code"
    stuck = cli("stamp", "catalog", "--to", "heads")
    assert stuck.exit_code == 1
    assert_one_clean_error(stuck, "no version folder holds", "stamp catalog --to REV --purge")

    result = cli("stamp", "catalog", "--to", "heads", "--purge", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)[0]
    assert (report["before"], report["after"], report["result"]) == ([CATALOG_HEAD], [CATALOG_REVS[-2]], "stamped")
    assert rows(catalog_db(project), "SELECT version_num FROM alembic_version") == [(CATALOG_REVS[-2],)]
    assert json.loads(cli("status", "catalog", "--json").stdout)[0]["state"] == "at head"
    again = cli("upgrade", "catalog", "--json")  # the history works again
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)[0]["result"] == "no change"


def test_stamp_purge_to_base_empties_the_version_table(cli, project: Path):
    assert cli("upgrade", "catalog").exit_code == 0
    result = cli("stamp", "catalog", "--to", "base", "--purge", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["result"] == "stamped"
    assert rows(catalog_db(project), "SELECT version_num FROM alembic_version") == []


@pytest.mark.postgresql
def test_stamp_purge_ahead_of_code_on_postgresql(cli, project: Path, pg_database):
    env = {"CATALOG_DATABASE_URL": pg_database(), "MONITOR_DATABASE_URL": pg_database()}
    assert cli("upgrade", "catalog", "-p", "production", env=env).exit_code == 0
    next(project.glob(f"catalog_versions/{CATALOG_HEAD}_*.py")).unlink()
    assert cli("stamp", "catalog", "--to", "heads", "-p", "production", env=env).exit_code == 1
    result = cli("stamp", "catalog", "--to", "heads", "--purge", "-p", "production", "--json", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["after"] == [CATALOG_REVS[-2]]
    status = cli("status", "catalog", "-p", "production", "--json", env=env)
    assert json.loads(status.stdout)[0]["state"] == "at head"


# --- --tag ----------------------------------------------------------------------------------------------------


def test_tag_reaches_the_revision_online_and_offline(cli, project: Path):
    (project / "catalog_versions" / f"{CATALOG_NEXT}_tag.py").write_text(TAG_REVISION)
    result = cli("upgrade", "catalog", "--tag", "release-42")
    assert result.exit_code == 0, result.output
    assert rows(catalog_db(project), "SELECT tag FROM tag_seen") == [("release-42",)]
    assert cli("downgrade", "catalog", "--to", "-1", "--tag", "x").exit_code == 0
    assert cli("stamp", "catalog", "--to", CATALOG_HEAD, "--tag", "x").exit_code == 0  # accepted (no revision runs)
    offline = cli("upgrade", "catalog", "--sql", "--to", f"{CATALOG_HEAD}:heads", "--tag", "offline-7")
    assert offline.exit_code == 0, offline.output
    assert "'offline-7'" in (project / "sql" / "catalog.sql").read_text()
    untagged = cli("upgrade", "catalog")
    assert untagged.exit_code == 0, untagged.output
    assert rows(catalog_db(project), "SELECT tag FROM tag_seen") == [("None",)]


@pytest.mark.postgresql
def test_tag_with_atomic_on_postgresql(cli, pg_database, project: Path):
    (project / "catalog_versions" / f"{CATALOG_NEXT}_tag.py").write_text(TAG_REVISION)
    url = pg_database()
    env = {"CATALOG_DATABASE_URL": url, "MONITOR_DATABASE_URL": pg_database()}
    result = cli("upgrade", "--all", "--atomic", "--tag", "atomic-1", "-p", "production", env=env)
    assert result.exit_code == 0, result.output
    import sqlalchemy as sa

    engine = sa.create_engine(make_url(url))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT tag FROM tag_seen").all() == [("atomic-1",)]
    engine.dispose()


# --- history -i / -v ------------------------------------------------------------------------------------------


def test_history_indicates_the_current_revision_and_is_verbose(cli, project: Path):
    assert cli("upgrade", "catalog", "--to", CATALOG_REVS[2]).exit_code == 0
    marked = cli("history", "catalog", "-i")
    assert marked.exit_code == 0, marked.output
    lines = marked.stdout.splitlines()
    assert [line for line in lines if line.endswith("(current)")] == [lines[len(CATALOG_REVS) - 3]]
    assert lines[len(CATALOG_REVS) - 3].startswith(f"{CATALOG_REVS[1]} -> {CATALOG_REVS[2]}")
    plain = cli("history", "catalog")
    assert "(current)" not in plain.stdout  # without -i nothing connects or is marked
    as_json = json.loads(cli("history", "catalog", "-i", "--json").stdout)
    assert [i["revision"] for i in as_json if i["is_current"]] == [CATALOG_REVS[2]]
    verbose = cli("history", "catalog", "-v", "-i", "-r", f"{CATALOG_REVS[1]}:{CATALOG_REVS[2]}")
    assert verbose.exit_code == 0, verbose.output
    assert f"Rev: {CATALOG_REVS[2]} (current)\nParent: {CATALOG_REVS[1]}" in verbose.stdout
    assert f"Revision ID: {CATALOG_REVS[1]}" in verbose.stdout  # the docstring in full
    assert "Path: catalog_versions/" in verbose.stdout


def test_history_indicate_current_on_an_empty_database_marks_nothing(cli, project: Path):
    result = cli("history", "catalog", "-i")
    assert result.exit_code == 0, result.output
    assert "(current)" not in result.stdout and not (project / "var").exists()


# --- edit ----------------------------------------------------------------------------------------------------


def test_edit_opens_the_revision_in_the_editor(cli, project: Path, tmp_path: Path):
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\necho "# edited by $0" >> "$1"\n')
    editor.chmod(0o755)
    result = cli("edit", "catalog", CATALOG_REVS[1], env={"EDITOR": str(editor), "VISUAL": ""})
    assert result.exit_code == 0, result.output
    (edited,) = project.glob(f"catalog_versions/{CATALOG_REVS[1]}_*.py")
    assert edited.read_text().endswith(f"# edited by {editor}\n")
    head = cli("edit", "catalog", env={"EDITOR": str(editor), "VISUAL": ""})  # default: head
    assert head.exit_code == 0, head.output
    assert next(project.glob(f"catalog_versions/{CATALOG_HEAD}_*.py")).read_text().endswith(f"edited by {editor}\n")
    failing = cli("edit", "catalog", "head", env={"EDITOR": "false", "VISUAL": ""})
    assert failing.exit_code == 1
    assert_one_clean_error(failing, "cannot edit", f"{CATALOG_HEAD}_", "$EDITOR")
    unknown = cli("edit", "catalog", "nope", env={"EDITOR": str(editor), "VISUAL": ""})
    assert unknown.exit_code == 2
    assert_one_clean_error(unknown, "catalog: unknown revision 'nope'")


# --- ensure-version -------------------------------------------------------------------------------------------


def test_ensure_version_creates_only_the_version_table(cli, project: Path):
    refused = cli("ensure-version")
    assert refused.exit_code == 2
    result = cli("ensure-version", "catalog", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"catalog": "created"}
    names = rows(catalog_db(project), "SELECT name FROM sqlite_master WHERE type = 'table'")
    assert names == [("alembic_version",)]
    assert rows(catalog_db(project), "SELECT * FROM alembic_version") == []
    again = cli("ensure-version", "catalog")
    assert again.exit_code == 0 and again.stdout == "catalog: version table exists\n"
    assert json.loads(cli("status", "catalog", "--json").stdout)[0]["state"] == "empty"
    assert cli("upgrade", "catalog").exit_code == 0  # an upgrade goes on from there


@pytest.mark.postgresql
def test_ensure_version_on_postgresql_in_its_own_schema(cli, project: Path, pg_database):
    import sqlalchemy as sa
    import yaml

    config = project / "config" / "multidb.yaml"
    raw = yaml.safe_load(config.read_text())
    raw["profiles"]["production"]["databases"]["catalog"]["version_table_schema"] = "ops"
    config.write_text(yaml.safe_dump(raw))
    url = pg_database()
    env = {"CATALOG_DATABASE_URL": url, "MONITOR_DATABASE_URL": pg_database()}
    result = cli("ensure-version", "catalog", "-p", "production", env=env)
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names(schema="ops") == ["alembic_version"]
        assert sa.inspect(conn).get_table_names() == []
    engine.dispose()
    assert cli("upgrade", "catalog", "-p", "production", env=env).exit_code == 0


# --- sql DB REV: one revision's SQL --------------------------------------------------------------------------


def test_sql_of_one_revision(cli, project: Path):
    up = cli("sql", "catalog", CATALOG_REVS[1])
    assert up.exit_code == 0, up.output
    assert "CREATE TABLE tags" in up.stdout and "CREATE TABLE locations" not in up.stdout  # not its parent's
    assert f"UPDATE alembic_version SET version_num='{CATALOG_REVS[1]}'" in up.stdout
    down = cli("sql", "catalog", CATALOG_REVS[1], "--downgrade")
    assert down.exit_code == 0, down.output
    assert "DROP TABLE tags" in down.stdout and "DROP TABLE locations" not in down.stdout
    assert f"to {CATALOG_REVS[0]}" in down.stdout.splitlines()[1]
    first = cli("sql", "catalog", CATALOG_REVS[0])
    assert "CREATE TABLE alembic_version" in first.stdout and "CREATE TABLE tags" not in first.stdout
    assert not (project / "var").exists() and not (project / "sql").exists()  # never connects, writes no file
    assert cli("sql", "catalog", "nope").exit_code == 2


def test_sql_of_one_revision_in_the_profiles_dialect_without_connecting(cli, project: Path):
    env = {
        "CATALOG_DATABASE_URL": "postgresql://app:Secret-9x@db.invalid/catalog",
        "MONITOR_DATABASE_URL": "mysql+aiomysql://app@db.invalid/monitor",
    }
    pg = cli("sql", "catalog", CATALOG_REVS[1], "-p", "production", env=env)
    assert pg.exit_code == 0, pg.output
    assert "(postgresql, profile production)" in pg.stdout and "SERIAL" in pg.stdout
    assert "Secret-9x" not in pg.output
    mysql = cli("sql", "monitor", "head", "--downgrade", "-p", "production", env=env)
    assert mysql.exit_code == 0, mysql.output
    assert "(mysql, profile production)" in mysql.stdout


# --- init --template -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "databases"),
    [("two-databases", ["app", "events"]), ("one-database", ["app"]), ("async", ["app", "events"])],
)
def test_init_templates_upgrade_check_and_downgrade(template: str, databases: list[str], tmp_path, monkeypatch):
    from click.testing import CliRunner

    from multidb.cli import main

    monkeypatch.chdir(tmp_path)

    def run(*args: str):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    listed = run("init", "--list-templates")
    assert template in listed.stdout and not list(tmp_path.iterdir())
    assert run("init", "svc", "--template", template).exit_code == 0
    monkeypatch.chdir(tmp_path / "svc")
    config = (tmp_path / "svc" / "config" / "multidb.yaml").read_text()
    assert ("sqlite+aiosqlite:///" in config) == (template == "async")
    up = run("upgrade", "--all", "--json")
    assert up.exit_code == 0, up.output
    assert [r["name"] for r in json.loads(up.stdout)] == databases
    assert run("check", "--all").exit_code == 0
    assert run("downgrade", *databases, "--to", "base").exit_code == 0


def test_init_with_an_unknown_template_writes_nothing(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from multidb.cli import main

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init", "svc", "--template", "nope"], catch_exceptions=False)
    assert result.exit_code == 2
    assert_one_clean_error(result, "unknown template 'nope'", "two-databases, one-database, async")
    assert not (tmp_path / "svc").exists()

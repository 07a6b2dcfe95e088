"""The example project against a real PostgreSQL server, through the CLI, without mocks.

Every test gets throwaway databases from the ``pg_database`` fixture and checks what is really
in them with SQLAlchemy, not only what multidb reports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from assertions import assert_one_clean_error, servers_required
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from example_project import (
    CATALOG_HEAD,
    CATALOG_NEXT,
    CATALOG_REVS,
    FAILING_ERROR,
    FAILING_FILE,
    FAILING_REVISION,
    MONITOR_HEAD,
    MONITOR_REVS,
    upgraded,
)

pytestmark = pytest.mark.postgresql

CATALOG_TABLES = {"alembic_version", "locations", "holdings", "files", "transactions", "tags", "holding_tags"}
MONITOR_TABLES = {"alembic_version", "transaction_records", "sub_records", "failed_files", "warnings"}
SENTINEL = "S3ntinel-Pa55"


# --- helpers -----------------------------------------------------------------------------------


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(make_url(url).set(drivername="postgresql+psycopg2"), poolclass=NullPool)


def tables(url: str, schema: str | None = None) -> set[str]:
    engine = _engine(url)
    try:
        found = set(sa.inspect(engine).get_table_names(schema=schema))
        return {t for t in found if not t.endswith("_version_ledger")}  # the ledgers: tests/test_ledger.py
    finally:
        engine.dispose()


def schemas(url: str) -> set[str]:
    engine = _engine(url)
    try:
        return set(sa.inspect(engine).get_schema_names())
    finally:
        engine.dispose()


def columns(url: str, table: str) -> set[str]:
    engine = _engine(url)
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def rows(url: str, sql: str) -> list[tuple]:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def versions(url: str, table: str = "alembic_version", schema: str | None = None) -> set[str]:
    name = f'"{schema}"."{table}"' if schema else f'"{table}"'
    return {r[0] for r in rows(url, f"SELECT version_num FROM {name}")}


def production_env(catalog: str, monitor: str) -> dict[str, str]:
    return {"CATALOG_DATABASE_URL": catalog, "MONITOR_DATABASE_URL": monitor}


def states(cli, env: dict[str, str]) -> dict[str, dict]:
    result = cli("status", "--json", "-p", "production", env=env)
    assert result.exit_code == 0, result.output
    return {s["name"]: s for s in json.loads(result.stdout)}


def edit_production(project: Path, database: str, **settings: object) -> None:
    """Set keys of one database in the copy's production profile."""
    path = project / "config" / "multidb.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["profiles"]["production"]["databases"][database].update(settings)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def add_location_note_column(project: Path) -> None:
    """Add a nullable column to the copy's catalog model; forget the imported models."""
    path = project / "example_app" / "catalog.py"
    anchor = '    __tablename__ = "locations"\n'
    text = path.read_text()
    assert anchor in text
    path.write_text(
        text.replace(anchor, anchor + "\n    note: Mapped[str | None] = mapped_column(String(40), nullable=True)\n", 1)
    )
    shutil.rmtree(project / "example_app" / "__pycache__", ignore_errors=True)
    for name in [m for m in sys.modules if m == "example_app" or m.startswith("example_app.")]:
        del sys.modules[name]


# --- tests -------------------------------------------------------------------------------------


def test_upgrade_all_noop_downgrade_to_base_and_round_trip(cli, pg_database):
    catalog, monitor = pg_database(), pg_database()
    env = production_env(catalog, monitor)

    first = cli("upgrade", "--all", "--profile", "production", env=env)
    assert first.exit_code == 0, first.output
    assert "catalog" in first.stdout and upgraded(CATALOG_REVS) in first.stdout
    assert upgraded(MONITOR_REVS) in first.stdout

    found = states(cli, env)
    assert found["catalog"]["state"] == "at head"
    assert found["catalog"]["current"] == [CATALOG_HEAD]
    assert found["monitor"]["state"] == "at head"
    assert found["monitor"]["current"] == [MONITOR_HEAD]
    assert tables(catalog) == CATALOG_TABLES
    assert tables(monitor) == MONITOR_TABLES
    assert versions(catalog) == {CATALOG_HEAD}
    assert versions(monitor) == {MONITOR_HEAD}

    again = cli("upgrade", "--all", "--profile", "production", env=env)
    assert again.exit_code == 0, again.output
    assert again.stdout.count("no change") == 2
    assert versions(catalog) == {CATALOG_HEAD}

    down = cli("downgrade", "catalog", "--to", "base", "-p", "production", env=env)
    assert down.exit_code == 0, down.output
    assert f"downgraded ({len(CATALOG_REVS)} revisions)" in down.stdout
    assert tables(catalog) == {"alembic_version"}
    assert versions(catalog) == set()
    assert tables(monitor) == MONITOR_TABLES, "downgrading catalog must not touch monitor"
    assert versions(monitor) == {MONITOR_HEAD}
    found = states(cli, env)
    assert found["catalog"]["state"] == "empty"
    assert found["monitor"]["state"] == "at head"

    up = cli("upgrade", "--all", "-p", "production", env=env)
    assert up.exit_code == 0, up.output
    assert tables(catalog) == CATALOG_TABLES
    assert versions(catalog) == {CATALOG_HEAD}
    assert sorted(rows(catalog, "SELECT name, medium FROM locations")) == [
        ("archive-tape", "tape"),
        ("primary-disk", "disk"),
    ]
    assert {s["state"] for s in states(cli, env).values()} == {"at head"}


def test_offline_sql_never_connects_and_applies_with_psql(cli, project, pg_database):
    unreachable = {
        "CATALOG_DATABASE_URL": f"postgresql://postgres:{SENTINEL}@127.0.0.1:1/catalog",
        "MONITOR_DATABASE_URL": f"postgresql://postgres:{SENTINEL}@127.0.0.1:1/monitor",
    }
    result = cli("upgrade", "--all", "--sql", "--profile", "production", "--output-dir", "out", env=unreachable)
    assert result.exit_code == 0, result.output
    files = {name: project / "out" / f"{name}.sql" for name in ("catalog", "monitor")}
    for path in files.values():
        assert path.is_file()
        text = path.read_text()
        assert SENTINEL not in text
        assert "CREATE TABLE" in text
    assert SENTINEL not in result.output
    assert "CREATE TABLE locations" in files["catalog"].read_text()
    assert "CREATE TABLE transaction_records" in files["monitor"].read_text()
    assert not (project / "var").exists()

    targets = {"catalog": pg_database(), "monitor": pg_database()}
    for name, url in targets.items():
        psql_apply(url, files[name])

    env = production_env(targets["catalog"], targets["monitor"])
    found = states(cli, env)
    assert found["catalog"]["state"] == "at head" and found["catalog"]["current"] == [CATALOG_HEAD]
    assert found["monitor"]["state"] == "at head" and found["monitor"]["current"] == [MONITOR_HEAD]
    assert tables(targets["catalog"]) == CATALOG_TABLES
    assert tables(targets["monitor"]) == MONITOR_TABLES
    assert len(rows(targets["catalog"], "SELECT * FROM locations")) == 2

    check = cli("check", "-p", "production", env=env)
    assert check.exit_code == 0, check.output
    assert "catalog: the models match the migrations" in check.stdout
    assert "monitor: the models match the migrations" in check.stdout


def test_check_passes_at_head_and_reports_a_new_model_column(cli, project, pg_database):
    catalog, monitor = pg_database(), pg_database()
    env = production_env(catalog, monitor)
    assert cli("upgrade", "--all", "-p", "production", env=env).exit_code == 0

    clean = cli("check", "-p", "production", env=env)
    assert clean.exit_code == 0, clean.output
    assert "catalog: the models match the migrations" in clean.stdout

    add_location_note_column(project)
    drift = cli("check", "-p", "production", env=env)
    assert drift.exit_code == 1, drift.output
    assert "catalog: 1 difference(s)" in drift.stdout
    assert "locations.note" in drift.stdout
    assert "monitor" not in drift.stdout
    assert "Traceback" not in drift.output

    as_json = cli("check", "-p", "production", "--json", env=env)
    assert as_json.exit_code == 1
    diffs = json.loads(as_json.stdout)
    assert list(diffs) == ["catalog"]
    assert len(diffs["catalog"]) == 1 and "locations.note" in diffs["catalog"][0]
    assert "note" not in columns(catalog, "locations"), "check must not change the database"


def psql_apply(url: str, path: Path) -> None:
    psql = shutil.which("psql")
    if psql is None:
        if servers_required():
            pytest.fail("psql is required in CI but not installed")
        pytest.skip("psql is not installed")
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    applied = subprocess.run(
        [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
    )
    assert applied.returncode == 0, applied.stderr


def test_sql_from_current_holds_only_what_each_database_lacks(cli, project, pg_database):
    catalog, monitor = pg_database(), pg_database()
    env = production_env(catalog, monitor)
    assert cli("upgrade", "catalog", "--to", CATALOG_REVS[3], "-p", "production", env=env).exit_code == 0

    result = cli("upgrade", "--all", "--sql", "--from-current", "-p", "production", "--json", env=env)
    assert result.exit_code == 0, result.output
    assert {r["name"]: r["before"] for r in json.loads(result.stdout)} == {"catalog": [CATALOG_REVS[3]], "monitor": []}
    catalog_sql = (project / "sql" / "catalog.sql").read_text()
    assert f"-- from {CATALOG_REVS[3]} to heads" in catalog_sql
    assert f"Running upgrade {CATALOG_REVS[3]} -> {CATALOG_REVS[4]}" in catalog_sql
    assert "CREATE TABLE holdings" not in catalog_sql  # applied already
    assert "CREATE TABLE transaction_records" in (project / "sql" / "monitor.sql").read_text()
    assert versions(catalog) == {CATALOG_REVS[3]}, "--sql changes nothing"
    assert tables(monitor) == set()

    psql_apply(catalog, project / "sql" / "catalog.sql")
    psql_apply(monitor, project / "sql" / "monitor.sql")
    assert {s["state"] for s in states(cli, env).values()} == {"at head"}
    assert cli("check", "--all", "-p", "production", env=env).exit_code == 0

    again = cli("upgrade", "catalog", "--sql", "--from-current", "-p", "production", env=env)
    assert again.exit_code == 0, again.output
    assert (project / "sql" / "catalog.sql").read_text().endswith("-- nothing to apply\n")


def test_sql_from_current_on_an_unreachable_server_writes_nothing(cli, project):
    unreachable = {
        "CATALOG_DATABASE_URL": f"postgresql://postgres:{SENTINEL}@127.0.0.1:1/catalog",
        "MONITOR_DATABASE_URL": f"postgresql://postgres:{SENTINEL}@127.0.0.1:1/monitor",
    }
    result = cli("upgrade", "--all", "--sql", "--from-current", "-p", "production", env=unreachable)
    assert result.exit_code == 1
    line = assert_one_clean_error(result, "catalog: cannot connect")
    assert SENTINEL not in result.output and "***" in line
    assert not (project / "sql").exists()


def test_sqlite_autogenerated_batch_revision_runs_on_postgresql_and_sqlite(cli, project, pg_database):
    assert cli("upgrade", "--all").exit_code == 0  # local profile: SQLite files under var/
    add_location_note_column(project)
    written = cli("revision", "catalog", "-m", "add locations note", "--autogenerate", "--json")
    assert written.exit_code == 0, written.output
    [info] = json.loads(written.stdout)
    assert info["down_revision"] == [CATALOG_HEAD]
    new_rev = info["revision"]
    source = (project / info["path"]).read_text()
    assert "batch_alter_table('locations'" in source or 'batch_alter_table("locations"' in source
    assert "note" in source

    # PostgreSQL: the batch operations become plain ALTER TABLE statements
    catalog, monitor = pg_database(), pg_database()
    env = production_env(catalog, monitor)
    up = cli("upgrade", "catalog", "-p", "production", env=env)
    assert up.exit_code == 0, up.output
    assert upgraded([*CATALOG_REVS, new_rev]) in up.stdout
    assert versions(catalog) == {new_rev}
    assert "note" in columns(catalog, "locations")
    assert tables(monitor) == set(), "only catalog was named"

    down = cli("downgrade", "catalog", "--to", "-1", "-p", "production", env=env)
    assert down.exit_code == 0, down.output
    assert versions(catalog) == {CATALOG_HEAD}
    assert "note" not in columns(catalog, "locations")
    assert len(rows(catalog, "SELECT * FROM locations")) == 2

    again = cli("upgrade", "catalog", "-p", "production", env=env)
    assert again.exit_code == 0, again.output
    assert versions(catalog) == {new_rev}
    assert "note" in columns(catalog, "locations")
    assert cli("check", "catalog", "-p", "production", env=env).exit_code == 0

    # SQLite: the same revision rebuilds the table
    sqlite_url = f"sqlite:///{project / 'var' / 'catalog.db'}"

    def sqlite_columns() -> set[str]:
        engine = sa.create_engine(sqlite_url, poolclass=NullPool)
        try:
            return {c["name"] for c in sa.inspect(engine).get_columns("locations")}
        finally:
            engine.dispose()

    assert "note" not in sqlite_columns()
    local_up = cli("upgrade", "catalog")
    assert local_up.exit_code == 0, local_up.output
    assert "note" in sqlite_columns()
    local_down = cli("downgrade", "catalog", "--to", "-1")
    assert local_down.exit_code == 0, local_down.output
    assert "note" not in sqlite_columns()
    local_again = cli("upgrade", "catalog")
    assert local_again.exit_code == 0, local_again.output
    assert "note" in sqlite_columns()
    status = json.loads(cli("status", "catalog", "--json").stdout)
    assert status[0]["state"] == "at head" and status[0]["current"] == [new_rev]


def test_version_table_schema_is_created_and_holds_the_version_table(cli, project, pg_database):
    edit_production(project, "catalog", version_table_schema="migrations")
    catalog, monitor = pg_database(), pg_database()
    env = production_env(catalog, monitor)
    assert "migrations" not in schemas(catalog)

    result = cli("upgrade", "--all", "-p", "production", env=env)
    assert result.exit_code == 0, result.output
    assert "migrations" in schemas(catalog)
    assert tables(catalog, schema="migrations") == {"alembic_version"}
    assert versions(catalog, schema="migrations") == {CATALOG_HEAD}
    assert tables(catalog) == CATALOG_TABLES - {"alembic_version"}, "no version table in public"
    assert versions(monitor) == {MONITOR_HEAD}

    found = states(cli, env)
    assert found["catalog"]["state"] == "at head"
    listed = json.loads(cli("list", "--json", "-p", "production", env=env).stdout)
    assert {d["name"]: d["version_table"] for d in listed}["catalog"] == "migrations.alembic_version"

    again = cli("upgrade", "--all", "-p", "production", env=env)
    assert again.exit_code == 0, again.output
    assert again.stdout.count("no change") == 2
    check = cli("check", "-p", "production", env=env)
    assert check.exit_code == 0, check.output
    down = cli("downgrade", "catalog", "--to", "base", "-p", "production", env=env)
    assert down.exit_code == 0, down.output
    assert versions(catalog, schema="migrations") == set()
    assert tables(catalog) == set()


def test_two_databases_in_one_postgresql_database_with_separate_version_tables(cli, project, pg_database):
    edit_production(project, "monitor", version_table="monitor_version")
    shared = pg_database()
    env = production_env(shared, shared)
    catalog_only = CATALOG_TABLES
    monitor_only = (MONITOR_TABLES - {"alembic_version"}) | {"monitor_version"}

    first = cli("upgrade", "catalog", "-p", "production", env=env)
    assert first.exit_code == 0, first.output
    assert tables(shared) == catalog_only
    found = states(cli, env)
    assert found["catalog"]["state"] == "at head"
    assert found["monitor"]["state"] == "empty" and found["monitor"]["current"] == []

    second = cli("upgrade", "monitor", "-p", "production", env=env)
    assert second.exit_code == 0, second.output
    assert upgraded(MONITOR_REVS) in second.stdout
    assert tables(shared) == catalog_only | monitor_only
    assert versions(shared) == {CATALOG_HEAD}
    assert versions(shared, "monitor_version") == {MONITOR_HEAD}
    assert {s["state"] for s in states(cli, env).values()} == {"at head"}

    down = cli("downgrade", "monitor", "--to", "base", "-p", "production", env=env)
    assert down.exit_code == 0, down.output
    assert tables(shared) == catalog_only | {"monitor_version"}
    assert versions(shared) == {CATALOG_HEAD}
    assert versions(shared, "monitor_version") == set()

    both = cli("upgrade", "--all", "-p", "production", env=env)
    assert both.exit_code == 0, both.output
    assert "no change" in both.stdout and upgraded(MONITOR_REVS) in both.stdout
    assert versions(shared) == {CATALOG_HEAD}
    assert versions(shared, "monitor_version") == {MONITOR_HEAD}
    assert len(rows(shared, "SELECT * FROM locations")) == 2
    # each database's check ignores the other's tables and version table
    check = cli("check", "--all", "-p", "production", env=env)
    assert check.exit_code == 0, check.output
    assert check.stdout.count("the models match the migrations") == 2


@pytest.mark.parametrize("transaction", ["per_revision", "per_run"])
def test_revision_failing_midway_rolls_back(cli, project, pg_database, transaction):
    (project / "catalog_versions" / FAILING_FILE).write_text(FAILING_REVISION)
    if transaction != "per_revision":
        edit_production(project, "catalog", transaction=transaction)
    catalog, monitor = pg_database(), pg_database()
    env = production_env(catalog, monitor)

    result = cli("upgrade", "--all", "-p", "production", env=env)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("multidb: error: catalog: ")
    assert FAILING_ERROR in last
    assert FAILING_FILE in last
    assert result.stderr.count("multidb: error:") == 1
    assert "skipped" in result.stderr  # the table of where each database stands

    assert "half_done" not in tables(catalog)
    if transaction == "per_revision":
        # one transaction per revision: the four good ones stay, the failing one is undone
        assert versions(catalog) == {CATALOG_HEAD}
        assert tables(catalog) == CATALOG_TABLES
        assert len(rows(catalog, "SELECT * FROM locations")) == 2
    else:
        # one transaction for the whole run: nothing stays
        assert tables(catalog) == set()
    # the run stopped at the failure: monitor (after catalog) was not touched
    assert tables(monitor) == set()

    found = states(cli, env)
    expected = [CATALOG_HEAD] if transaction == "per_revision" else []
    assert found["catalog"]["current"] == expected
    assert found["catalog"]["pending"][-1] == CATALOG_NEXT
    assert found["catalog"]["state"] == ("behind" if expected else "empty")
    assert found["monitor"]["state"] == "empty"

    retry = cli("upgrade", "catalog", "-p", "production", env=env)
    assert retry.exit_code == 1
    assert "half_done" not in tables(catalog)
    assert tables(catalog) == (CATALOG_TABLES if expected else set())

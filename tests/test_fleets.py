"""Fleets: one config entry standing for many targets (tenant schemas, tenant SQLite files, URLs).

Everything runs against real PostgreSQL schemas and real SQLite files, with real worker processes
(``--jobs``) and real concurrent runners (``--shard``, overlapping runs in subprocesses). What the
databases hold is checked with SQL, not only what multidb reports.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from assertions import user_tables
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from example_project import CATALOG_HEAD, CATALOG_NEXT, MONITOR_HEAD, MONITOR_NEXT

pg = pytest.mark.postgresql

CATALOG_FIRST = "c1a0f0a1b001"
LOGGED_CATALOG_HEAD = CATALOG_NEXT  # the run_log revision added on top of the catalog history
LOGGED_MONITOR_HEAD = MONITOR_NEXT  # ... and on top of the monitor history
CATALOG_TABLES = {"alembic_version", "locations", "holdings", "files", "transactions", "tags", "holding_tags"}
MONITOR_TABLES = {"alembic_version", "transaction_records", "sub_records", "failed_files", "warnings"}
SENTINEL = "Fl33tS3ntinelPw"


def fifty_query(count: int = 50) -> str:
    return f"SELECT 't' || g FROM generate_series(1, {count}) g"


# --- the project -------------------------------------------------------------------------------

RUN_LOG_REVISION = '''"""log every run of this revision: one row per time it ran

Revision ID: {rev}
Revises: {down}
"""
import os
import time

import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    log = op.create_table(
        "run_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.bulk_insert(log, [{{"pid": os.getpid(), "at": time.time()}}])


def downgrade() -> None:
    op.drop_table("run_log")
'''


def add_run_logs(project: Path) -> None:
    """A revision on top of each history that creates ``run_log`` and inserts one row (pid, time)."""
    for folder, rev, down in (
        ("catalog_versions", LOGGED_CATALOG_HEAD, CATALOG_HEAD),
        ("monitor_versions", LOGGED_MONITOR_HEAD, MONITOR_HEAD),
    ):
        (project / folder / f"{rev}_run_log.py").write_text(RUN_LOG_REVISION.format(rev=rev, down=down))


def write_config(project: Path, databases: dict) -> None:
    text = yaml.safe_dump({"python_path": [".."], "databases": databases}, sort_keys=False)
    (project / "config" / "multidb.yaml").write_text(text)


def tenants_entry(url: str, fleet: dict | None, **extra) -> dict:
    """The catalog history; a fleet when ``fleet`` is given, else a plain database."""
    bases = [{"label": "catalog", "path": "../catalog_versions"}]
    entry = {"url": url, "bases": bases, "metadata": "example_app.catalog:metadata", **extra}
    return entry | ({"fleet": fleet} if fleet is not None else {})


def files_entry(folder: str, fleet: dict, **extra) -> dict:
    bases = [{"label": "monitor", "path": "../monitor_versions"}]
    return {"url": f"sqlite:///../var/{folder}/{{tenant}}.db", "bases": bases, "fleet": fleet, **extra}


def monitor_entry(**extra) -> dict:
    bases = [{"label": "monitor", "path": "../monitor_versions"}]
    return {"url": "sqlite:///../var/monitor.db", "bases": bases, **extra}


def lister(project: Path, lines: list[str], filename: str = "list_tenants.py") -> str:
    """A ``fleet.command`` that prints ``lines`` (one per line), as a real program run by multidb."""
    script = project / "config" / filename
    script.write_text(f"print({chr(10).join(lines)!r})\n")
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


def run_multidb(project: Path, *args: str) -> subprocess.Popen:
    """``python -m multidb ARGS`` as a separate process in the project folder (started, not awaited)."""
    return subprocess.Popen(
        [sys.executable, "-m", "multidb", *args],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


# --- looking inside the databases --------------------------------------------------------------


def pg_engine(url: str) -> sa.Engine:
    return sa.create_engine(make_url(url).set(drivername="postgresql+psycopg2"), poolclass=NullPool)


def pg_execute(url: str, *statements: str) -> None:
    engine = pg_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def pg_tables(url: str) -> dict[str, set[str]]:
    """Every user table, by schema."""
    engine = pg_engine(url)
    try:
        with engine.connect() as conn:
            found: dict[str, set[str]] = {}
            rows = conn.execute(
                sa.text(
                    "SELECT table_schema, table_name FROM information_schema.tables "
                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                )
            )
            for schema, table in rows:
                found.setdefault(schema, set()).add(table)
            return {
                schema: kept for schema, names in found.items() if (kept := user_tables(names, with_version_table=True))
            }
    finally:
        engine.dispose()


def pg_schemas(url: str) -> set[str]:
    engine = pg_engine(url)
    try:
        return set(sa.inspect(engine).get_schema_names())
    finally:
        engine.dispose()


def pg_fleet(url: str, tenants: list[str]) -> dict[str, dict]:
    """Per tenant schema: its tables, the revisions in its version table and its run_log rows."""
    tables = pg_tables(url)
    engine = pg_engine(url)
    state = {}
    try:
        with engine.connect() as conn:
            for tenant in tenants:
                own = tables.get(tenant, set())
                version = set()
                runs: list[tuple] = []
                if "alembic_version" in own:
                    version = set(
                        conn.execute(sa.text(f'SELECT version_num FROM "{tenant}".alembic_version')).scalars()
                    )
                if "run_log" in own:
                    runs = [tuple(r) for r in conn.execute(sa.text(f'SELECT pid, at FROM "{tenant}".run_log'))]
                state[tenant] = {"tables": own, "version": version, "runs": runs}
    finally:
        engine.dispose()
    return state


def sqlite_target(path: Path) -> dict:
    assert path.is_file(), f"{path} was not created"
    conn = sqlite3.connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        tables = user_tables(tables, with_version_table=True)
        version = {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")} if tables else set()
        runs = [tuple(r) for r in conn.execute("SELECT pid, at FROM run_log")] if "run_log" in tables else []
    finally:
        conn.close()
    return {"tables": tables, "version": version, "runs": runs}


def results_by_name(stdout: str) -> dict[str, dict]:
    return {r["name"]: r for r in json.loads(stdout)}


# --- acceptance: 50 schemas and 20 files, --jobs, then two shards at once ------------------------


@pg
def test_fifty_schemas_and_twenty_files_reach_head_with_jobs_then_two_shards_run_each_target_once(
    project, cli, pg_database
):
    add_run_logs(project)
    tenants = [f"t{i}" for i in range(1, 51)]
    files = [f"f{i}" for i in range(1, 21)]
    command = lister(project, files)
    everything = {f"tenants/{t}" for t in tenants} | {f"files/{f}" for f in files}

    def configure(url: str, folder: str) -> None:
        write_config(
            project,
            {
                "tenants": tenants_entry(url, {"by": "schema", "query": fifty_query()}),
                "files": files_entry(folder, {"by": "database", "command": command}),
            },
        )

    first = pg_database()
    configure(first, "fleet")
    result = cli("upgrade", "tenants", "files", "--jobs", "2")
    assert result.exit_code == 0, result.output
    assert "tenants: 50 targets: 50 upgraded" in result.output
    assert "files: 20 targets: 20 upgraded" in result.output

    state = pg_fleet(first, tenants)
    for tenant in tenants:
        assert state[tenant]["tables"] == CATALOG_TABLES | {"run_log"}, tenant
        assert state[tenant]["version"] == {LOGGED_CATALOG_HEAD}, tenant
        assert len(state[tenant]["runs"]) == 1, tenant
    assert pg_tables(first).get("public", set()) == set()  # the search path kept everything in the tenants' schemas
    for name in files:
        found = sqlite_target(project / "var" / "fleet" / f"{name}.db")
        assert found["tables"] == MONITOR_TABLES | {"run_log"}, name
        assert found["version"] == {LOGGED_MONITOR_HEAD}, name
        assert len(found["runs"]) == 1, name
    pids = {run[0] for t in tenants for run in state[t]["runs"]}
    assert os.getpid() not in pids and len(pids) >= 2, "--jobs 2 should run the targets in worker processes"

    # fresh targets, two shards started at the same time as two real processes
    second = pg_database()
    configure(second, "fleet2")
    runners = [
        run_multidb(project, "upgrade", "tenants", "files", "--jobs", "2", "--shard", f"{i}/2", "--json")
        for i in (1, 2)
    ]
    outputs = [runner.communicate(timeout=180) for runner in runners]
    for runner, (out, err) in zip(runners, outputs, strict=True):
        assert runner.returncode == 0, out + err
    shard_sets = [results_by_name(out) for out, _ in outputs]
    one, two = (set(s) for s in shard_sets)
    assert one and two
    assert one.isdisjoint(two)
    assert one | two == everything
    assert all(r["result"] == "upgraded" for s in shard_sets for r in s.values())

    state = pg_fleet(second, tenants)
    for tenant in tenants:
        assert state[tenant]["version"] == {LOGGED_CATALOG_HEAD}, tenant
        assert len(state[tenant]["runs"]) == 1, tenant  # exactly once
    for name in files:
        found = sqlite_target(project / "var" / "fleet2" / f"{name}.db")
        assert found["version"] == {LOGGED_MONITOR_HEAD}, name
        assert len(found["runs"]) == 1, name


@pg
def test_overlapping_runners_migrate_each_target_exactly_once(project, pg_database):
    """Two full runs at once (no sharding): the per-target locks let one migrate, the other finds nothing."""
    add_run_logs(project)
    tenants = [f"t{i}" for i in range(1, 13)]
    files = [f"f{i}" for i in range(1, 7)]
    url = pg_database()
    write_config(
        project,
        {
            "tenants": tenants_entry(url, {"by": "schema", "query": fifty_query(12)}),
            "files": files_entry("overlap", {"by": "database", "command": lister(project, files)}),
        },
    )
    runners = [run_multidb(project, "upgrade", "tenants", "files", "--jobs", "2", "--json") for _ in range(2)]
    outputs = [runner.communicate(timeout=180) for runner in runners]
    for runner, (out, err) in zip(runners, outputs, strict=True):
        assert runner.returncode == 0, out + err
    upgraded = [{n for n, r in results_by_name(out).items() if r["result"] == "upgraded"} for out, _ in outputs]
    assert upgraded[0].isdisjoint(upgraded[1])
    assert len(upgraded[0] | upgraded[1]) == len(tenants) + len(files)

    state = pg_fleet(url, tenants)
    assert all(len(state[t]["runs"]) == 1 and state[t]["version"] == {LOGGED_CATALOG_HEAD} for t in tenants), state
    for name in files:
        assert len(sqlite_target(project / "var" / "overlap" / f"{name}.db")["runs"]) == 1, name


# --- failures: collected, the others carry on; --fail-fast ---------------------------------------

FAILING = ("t2", "t5", "t8")


def ten_tenants_with_three_conflicts(project: Path, cli, url: str) -> list[str]:
    """Ten schemas at the first revision; three of them get a hand-made ``tags`` table in the way."""
    tenants = [f"t{i}" for i in range(1, 11)]
    write_config(project, {"tenants": tenants_entry(url, {"by": "schema", "query": fifty_query(10)})})
    result = cli("upgrade", "tenants", "--to", CATALOG_FIRST, "--jobs", "2")
    assert result.exit_code == 0, result.output
    pg_execute(url, *(f"CREATE TABLE {t}.tags (x int)" for t in FAILING))
    return tenants


@pg
def test_failed_targets_are_collected_and_the_others_reach_head(project, cli, pg_database):
    url = pg_database()
    tenants = ten_tenants_with_three_conflicts(project, cli, url)

    result = cli("upgrade", "tenants", "--jobs", "2")
    assert result.exit_code == 1, result.output
    assert "tenants: 10 targets: 7 upgraded, 3 failed" in result.output
    for tenant in FAILING:
        line = next(x for x in result.output.splitlines() if x.startswith(f"  tenants/{tenant}: failed: "))
        assert 'relation "tags" already exists' in line, line
        assert "c1a0f0a1b002" in line  # the revision file that failed
    assert "multidb: error: tenants/t" in result.stderr
    assert "Traceback" not in result.output

    state = pg_fleet(url, tenants)
    for tenant in tenants:
        expected = {CATALOG_FIRST} if tenant in FAILING else {CATALOG_HEAD}
        assert state[tenant]["version"] == expected, tenant

    # the failures stay listed (and in JSON) on the next run; the others have nothing left to do
    again = cli("upgrade", "tenants", "--jobs", "2", "--json")
    assert again.exit_code == 1, again.output
    results = results_by_name(again.stdout)
    assert {n for n, r in results.items() if r["result"] == "failed"} == {f"tenants/{t}" for t in FAILING}
    assert {r["result"] for n, r in results.items() if n.split("/")[1] not in FAILING} == {"no change"}
    assert all("already exists" in results[f"tenants/{t}"]["error"] for t in FAILING)


@pg
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_fail_fast_stops_at_the_first_failed_target(project, cli, pg_database, jobs):
    url = pg_database()
    tenants = ten_tenants_with_three_conflicts(project, cli, url)

    result = cli("upgrade", "tenants", "--fail-fast", "--jobs", jobs)
    assert result.exit_code == 1, result.output
    assert "multidb: error: tenants/t2: " in result.stderr
    assert "skipped" in result.output
    state = pg_fleet(url, tenants)
    at_head = [t for t in tenants if state[t]["version"] == {CATALOG_HEAD}]
    assert len(at_head) < 7, at_head
    if jobs == "1":  # in order: t1 done, t2 failed, nothing after it started
        assert at_head == ["t1"]


# --- status --------------------------------------------------------------------------------------


def stamped_schema(schema: str, revision: str) -> str:
    return (
        f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.alembic_version (version_num varchar(32) PRIMARY KEY); "
        f"INSERT INTO {schema}.alembic_version VALUES ('{revision}')"
    )


@pg
def test_status_summarises_a_fleet_lists_targets_and_gates_on_one_behind(project, cli, pg_database):
    url = pg_database()
    tenants = [f"t{i}" for i in range(1, 51)]
    write_config(project, {"tenants": tenants_entry(url, {"by": "schema", "query": fifty_query()})})
    # fifty schemas at head, made by hand: status only reads the version tables (upgrades are tested above)
    pg_execute(url, *(stamped_schema(t, CATALOG_HEAD) for t in tenants))

    summary = cli("status", "tenants")
    assert summary.exit_code == 0, summary.output
    assert summary.stdout.splitlines()[0] == "tenants: 50 targets: 50 at head"
    assert "tenants/t1 " not in summary.stdout  # a summary, not a row per target

    rows = cli("status", "tenants", "--targets", "--jobs", "2")
    assert rows.exit_code == 0, rows.output
    lines = rows.stdout.splitlines()
    assert lines[0].split() == ["DATABASE", "CURRENT", "HEADS", "PENDING", "STATE"]
    assert [line.split()[0] for line in lines[1:]] == [f"tenants/{t}" for t in tenants]  # in the query's order
    assert all(line.endswith("at head") for line in lines[1:])

    listed = cli("status", "tenants", "--json")
    items = json.loads(listed.stdout)
    assert len(items) == 50
    assert {i["name"] for i in items} == {f"tenants/{t}" for t in tenants}
    assert {i["state"] for i in items} == {"at head"}
    assert cli("status", "tenants", "--check").exit_code == 0

    pg_execute(url, "UPDATE t3.alembic_version SET version_num = 'c1a0f0a1b003'")
    behind = cli("status", "tenants", "--check")
    assert behind.exit_code == 1, behind.output
    assert "tenants: 50 targets: 49 at head, 1 behind" in behind.stdout
    assert "not at head: tenants/t3" in behind.stdout

    one = cli("status", "tenants/t3")
    assert one.exit_code == 0, one.output
    rows_shown = one.stdout.splitlines()[1:]
    assert len(rows_shown) == 1 and rows_shown[0].split()[0] == "tenants/t3", one.stdout
    assert rows_shown[0].endswith("behind")
    assert [i["name"] for i in json.loads(cli("status", "tenants/t3", "--json").stdout)] == ["tenants/t3"]

    shards = [
        {i["name"] for i in json.loads(cli("status", "tenants", "--shard", s, "--json").stdout)} for s in ("1/2", "2/2")
    ]
    assert shards[0].isdisjoint(shards[1]) and shards[0] | shards[1] == {f"tenants/{t}" for t in tenants}


# --- validation ----------------------------------------------------------------------------------


@pg
def test_tenant_names_that_are_not_identifiers_stop_the_run_before_anything_changes(project, cli, pg_database):
    url = pg_database()
    command = lister(project, ["acme", "bad-name;drop"])
    write_config(
        project,
        {
            "monitor": monitor_entry(),
            "tenants": tenants_entry(url, {"by": "schema", "command": command}),
        },
    )
    result = cli("upgrade", "--all")
    assert result.exit_code in (1, 2), result.output
    error = next(line for line in result.stderr.splitlines() if line.startswith("multidb: error:"))
    assert "tenants" in error and "not a plain identifier" in error, error
    assert "Traceback" not in result.output
    assert "acme" not in pg_schemas(url)
    assert not (project / "var" / "monitor.db").exists()


def test_by_database_needs_tenant_in_the_url(project, cli):
    entry = files_entry("fleet", {"by": "database", "names": ["a", "b"]})
    entry["url"] = "sqlite:///../var/shared.db"
    write_config(project, {"files": entry})
    result = cli("status")
    assert result.exit_code == 2, result.output
    assert "databases.files.fleet.by" in result.stderr
    assert "{tenant}" in result.stderr


def test_by_schema_on_sqlite_is_a_config_error(project, cli):
    write_config(
        project, {"tenants": tenants_entry("sqlite:///../var/tenants.db", {"by": "schema", "names": ["acme"]})}
    )
    result = cli("upgrade", "tenants")
    assert result.exit_code == 2, result.output
    assert "databases.tenants.fleet.by" in result.stderr
    assert not (project / "var").exists()


def test_fleet_keys_are_checked(project, cli):
    fleet = {"by": "tenant", "names": ["acme"], "command": "true", "colour": "x"}
    write_config(project, {"tenants": tenants_entry("postgresql://postgres@127.0.0.1:5432/unused", fleet)})
    result = cli("status")
    assert result.exit_code == 2, result.output
    assert "databases.tenants.fleet.by" in result.stderr
    assert "exactly one of 'names', 'query' or 'command'" in result.stderr
    assert "unknown key 'colour'" in result.stderr


def test_unknown_targets_and_targets_of_plain_databases_are_usage_errors(project, cli):
    write_config(
        project,
        {
            "catalog": tenants_entry("sqlite:///../var/catalog.db", None),
            "files": files_entry("fleet", {"by": "database", "names": ["acme", "globex"]}),
        },
    )
    for args in (("status", "files/acmee"), ("upgrade", "files/acmee")):
        result = cli(*args)
        assert result.exit_code == 2, result.output
        assert "fleet 'files' has no target 'acmee' (did you mean 'files/acme'?)" in result.stderr
    nope = cli("upgrade", "files/nope")
    assert nope.exit_code == 2, nope.output
    assert "no target 'nope'" in nope.stderr
    entry = cli("upgrade", "filez/acme")
    assert entry.exit_code == 2, entry.output
    assert "did you mean 'files'" in entry.stderr
    plain = cli("upgrade", "catalog/x")
    assert plain.exit_code == 2, plain.output
    assert "'catalog' is not a fleet" in plain.stderr
    assert not (project / "var").exists()  # nothing was created


def test_list_shows_the_url_template_of_a_fleet_readably(project, cli):
    """Bug: the placeholder comes out percent-encoded (``%7Btenant%7D``) in ``list``."""
    write_config(project, {"files": files_entry("fleet", {"by": "database", "names": ["a"]})})
    result = cli("list")
    assert result.exit_code == 0, result.output
    assert "{tenant}.db" in result.stdout, result.stdout


def test_a_discovery_command_is_asked_again_by_the_next_command_in_the_same_process(project, cli):
    """Bug: discovered names are cached per process under (entry, profile, command), so a process that
    adds a tenant and then upgrades (an application calling multidb, a test suite) never sees it."""
    listing = project / "config" / "tenants.txt"
    listing.write_text("acme\nglobex\n")
    script = project / "config" / "read_tenants.py"
    script.write_text(f"print(open({str(listing)!r}).read())\n")
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    write_config(project, {"files": files_entry("fleet", {"by": "database", "command": command})})
    assert cli("upgrade", "files").exit_code == 0
    listing.write_text("acme\nglobex\ninitech\n")
    result = cli("upgrade", "files", "--json")
    assert result.exit_code == 0, result.output
    assert set(results_by_name(result.stdout)) == {"files/acme", "files/globex", "files/initech"}
    assert (project / "var" / "fleet" / "initech.db").exists()


def test_two_url_targets_never_share_a_name(project, cli):
    """Bug: ``by: url`` names a target after its database only, so two servers' ``app`` databases
    both become ``shops/app``: one's SQL file overwrites the other's (and results collapse).
    Offline, so nothing connects anywhere."""
    names = ["postgresql://app@127.0.0.1:5432/app", "postgresql://app@127.0.0.1:5433/app"]
    entry = tenants_entry("postgresql://app@127.0.0.1:5432/app", {"by": "url", "names": names})
    write_config(project, {"shops": entry})
    result = cli("upgrade", "shops", "--sql", "--output-dir", "out", "--json")
    if result.exit_code == 0:
        written = {r["output"] for r in json.loads(result.stdout)}
        assert len(written) == 2, result.stdout  # two targets, two files
    else:
        assert result.exit_code == 2, result.output
        assert "app" in result.stderr


# --- offline SQL per target ----------------------------------------------------------------------


@pg
def test_offline_sql_writes_one_file_per_tenant_that_psql_applies(project, cli, pg_database):
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed")
    url = pg_database()
    write_config(project, {"tenants": tenants_entry(url, {"by": "schema", "names": ["acme", "globex"]})})
    result = cli("upgrade", "tenants", "--sql", "--output-dir", "out")
    assert result.exit_code == 0, result.output
    out = project / "out" / "tenants"
    assert sorted(p.name for p in out.iterdir()) == ["acme.sql", "globex.sql"]
    for tenant in ("acme", "globex"):
        text = (out / f"{tenant}.sql").read_text()
        assert f"CREATE SCHEMA IF NOT EXISTS {tenant};" in text
        assert f"SET search_path TO {tenant};" in text
        assert text.index("SET search_path") < text.index("CREATE TABLE locations")
    assert pg_schemas(url).isdisjoint({"acme", "globex"})  # --sql connected to nothing

    target = pg_database()
    applied = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target, "-f", str(out / "acme.sql")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    tables = pg_tables(target)
    assert tables["acme"] == CATALOG_TABLES
    assert "public" not in tables and "globex" not in tables
    assert pg_fleet(target, ["acme"])["acme"]["version"] == {CATALOG_HEAD}


# --- depends_on across a fleet and a plain database ----------------------------------------------


@pg
@pytest.mark.parametrize("direction", ["plain after fleet", "fleet after plain"])
def test_depends_on_orders_a_plain_database_and_every_target_of_a_fleet(project, cli, pg_database, direction):
    add_run_logs(project)
    url = pg_database()
    tenants = [f"t{i}" for i in range(1, 7)]
    fleet = tenants_entry(url, {"by": "schema", "names": tenants})
    plain = monitor_entry()
    if direction == "plain after fleet":
        plain["depends_on"] = ["tenants"]
        write_config(project, {"monitor": plain, "tenants": fleet})
    else:
        fleet["depends_on"] = ["monitor"]
        write_config(project, {"tenants": fleet, "monitor": plain})

    result = cli("upgrade", "--all", "--jobs", "2")
    assert result.exit_code == 0, result.output
    state = pg_fleet(url, tenants)
    fleet_times = [at for t in tenants for _pid, at in state[t]["runs"]]
    assert len(fleet_times) == len(tenants)
    (monitor_time,) = [at for _pid, at in sqlite_target(project / "var" / "monitor.db")["runs"]]
    if direction == "plain after fleet":
        assert monitor_time > max(fleet_times)
    else:
        assert monitor_time < min(fleet_times)


@pg
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_target_failing_its_check_skips_the_dependants_and_the_rest_carry_on(project, cli, pg_database, jobs):
    """Bug: a fleet target that fails the check phase (here: stamped with a revision no folder holds)
    crashes the run with ``unexpected KeyError: 'monitor'`` when a later depends_on level exists."""
    url = pg_database()
    tenants = [f"t{i}" for i in range(1, 7)]
    plain = monitor_entry(depends_on=["tenants"])
    write_config(project, {"tenants": tenants_entry(url, {"by": "schema", "names": tenants}), "monitor": plain})
    assert cli("upgrade", "tenants", "--to", CATALOG_FIRST).exit_code == 0
    pg_execute(url, "UPDATE t3.alembic_version SET version_num = 'deadbeef0000'")

    result = cli("upgrade", "--all", "--jobs", jobs)
    assert "unexpected" not in result.output, result.output
    assert result.exit_code == 1, result.output
    assert "tenants/t3" in result.stderr and "no version folder holds" in result.stderr
    monitor_row = next(line for line in result.output.splitlines() if line.startswith("monitor "))
    assert monitor_row.endswith("skipped"), monitor_row
    state = pg_fleet(url, tenants)
    assert all(state[t]["version"] == {CATALOG_HEAD} for t in tenants if t != "t3"), state
    assert not (project / "var" / "monitor.db").exists()


@pg
def test_a_tenant_schema_with_tables_but_no_version_table_is_unversioned(project, cli, pg_database):
    """Bug: a plain database with tables and no version table is 'unversioned' (and upgrade refuses
    it), but a schema target is reported 'empty': the fleet's own entry counts as a neighbour that
    shares the database, so the tenant's own tables are ignored as someone else's."""
    url = pg_database()
    write_config(project, {"tenants": tenants_entry(url, {"by": "schema", "names": ["acme", "globex"]})})
    pg_execute(url, "CREATE SCHEMA acme", "CREATE TABLE acme.locations (id int)")
    result = cli("status", "tenants/acme", "--json")
    (item,) = json.loads(result.stdout)
    assert item["state"] == "unversioned", item


# --- secrets -------------------------------------------------------------------------------------


@pg
def test_passwords_of_url_targets_never_appear(project, cli, pg_database):
    one, two, three = pg_database(), pg_database(), pg_database()

    def with_password(url: str, password: str, database: str | None = None) -> str:
        parsed = make_url(url).set(password=password)
        if database:
            parsed = parsed.set(database=database)
        return parsed.render_as_string(hide_password=False)

    missing = f"multidb_test_missing_{uuid.uuid4().hex[:8]}"
    named = [with_password(one, SENTINEL), with_password(two, SENTINEL), with_password(one, SENTINEL, missing)]
    other_secret = "Cmd" + SENTINEL[::-1]
    discovered = [with_password(three, other_secret), with_password(three, other_secret, missing + "x")]
    write_config(
        project,
        {
            "shops": tenants_entry(one, {"by": "url", "names": named}),
            "stores": files_entry("unused", {"by": "url", "command": lister(project, discovered)}) | {"url": three},
        },
    )
    runs = [
        ("list",),
        ("list", "--json"),
        ("status",),
        ("status", "--targets"),
        ("status", "--json"),
        ("upgrade", "shops", "stores", "--jobs", "2"),
        ("upgrade", "shops", "stores", "--json"),
        ("upgrade", "shops", "stores", "--traceback"),
        ("status", "shops/nope"),
        ("upgrade", "shops", "--sql", "--output-dir", "out"),
    ]
    for args in runs:
        result = cli(*args)
        for secret in (SENTINEL, other_secret):
            assert secret not in result.output, (args, result.output)
    assert "***" in cli("status", "--json").stdout
    upgraded = cli("upgrade", "shops", "stores", "--json")
    assert upgraded.exit_code == 1
    results = results_by_name(upgraded.stdout)
    assert {r["result"] for r in results.values()} == {"no change", "failed"}
    assert sum(r["result"] == "failed" for r in results.values()) == 2
    for path in (project / "out").rglob("*"):
        if path.is_file():
            assert SENTINEL not in path.read_text(), path


# --- a fleet by database holds only a few connections and engines at once -----------------------


class _OpenConnections:
    """How many DBAPI connections are open at once, at most (pool events on every engine)."""

    def __init__(self) -> None:
        self.now = self.most = 0

    def _opened(self, *_args) -> None:
        self.now += 1
        self.most = max(self.most, self.now)

    def _closed(self, *_args) -> None:
        self.now -= 1

    def __enter__(self) -> _OpenConnections:
        sa.event.listen(sa.pool.Pool, "connect", self._opened)
        sa.event.listen(sa.pool.Pool, "close", self._closed)
        return self

    def __exit__(self, *_exc) -> None:
        sa.event.remove(sa.pool.Pool, "connect", self._opened)
        sa.event.remove(sa.pool.Pool, "close", self._closed)


@pg
def test_a_fleet_by_database_never_holds_a_connection_per_target(project, cli, pg_database, monkeypatch):
    """Checks share connections per URL; a URL per target must not mean a connection per target
    (a server refuses clients past its max_connections): at most MAX_SHARED stay open."""
    from multidb import engines

    monkeypatch.setattr(engines, "MAX_SHARED", 2)
    monkeypatch.setattr(engines, "MAX_ENGINES", 3)
    urls = [pg_database() for _ in range(6)]
    names = [make_url(u).database for u in urls]
    template = make_url(urls[0]).set(database="TENANT").render_as_string(hide_password=False)
    template = template.replace("TENANT", "{tenant}")
    write_config(project, {"tenants": tenants_entry(template, {"by": "database", "names": names})})
    with _OpenConnections() as counted:
        status = cli("status", "tenants", "--json")
        upgrade = cli("upgrade", "tenants")
    assert status.exit_code == 0 and upgrade.exit_code == 0, status.output + upgrade.output
    assert 1 <= counted.most <= 3  # two kept for reading, one migrating
    assert counted.now == 0  # nothing left open
    assert len(engines._engines) <= 3
    for url in urls:
        assert pg_fleet_plain(url) == {CATALOG_HEAD}


def pg_fleet_plain(url: str) -> set[str]:
    engine = sa.create_engine(make_url(url).set(drivername="postgresql+psycopg2"), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return {r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")}
    finally:
        engine.dispose()

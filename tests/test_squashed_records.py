"""What the commands read from a baseline's ``multidb_squashed`` record (see multidb/squashed.py).

Each test "squashes" a copy of the example project by hand: catalog_versions/ 001..004 are replaced by one
baseline file that keeps the id c1a0f0a1b004, revises nothing, creates the tables of 001..003, inserts the
reference rows of 004 and records what it replaced. Databases migrated before the squash then meet it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from assertions import assert_one_clean_error
from sqlalchemy.pool import NullPool

from example_project import CATALOG_HEAD, CATALOG_REVS, MONITOR_REVS

BASELINE = CATALOG_REVS[3]  # c1a0f0a1b004: the baseline keeps its id
REPLACED = CATALOG_REVS[:4]
AT_002 = CATALOG_REVS[1]
LEDGER = "alembic_version_ledger"
SQUASHED_AT_002 = (
    f"catalog: the database is at {AT_002}, which was squashed into the baseline {BASELINE}: upgrade it to "
    f"{BASELINE} with a release that still has the old revision files, then run this one"
)

BASELINE_FILE = f'''"""baseline: the catalog schema as of {BASELINE}

Revision ID: {BASELINE}
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "{BASELINE}"
down_revision = None
branch_labels = ("catalog",)
depends_on = None

multidb_squashed = {{
    "c1a0f0a1b001": "create locations, holdings, files",
    "c1a0f0a1b002": "create transactions, tags, holding_tags",
    "c1a0f0a1b003": "add files.checksum_algorithm and index on files.holding_id",
    "c1a0f0a1b004": "seed reference locations, backfill files.checksum_algorithm",
}}

locations = sa.table("locations", sa.column("name", sa.String), sa.column("kind", sa.String))


def upgrade() -> None:
    op.create_table(
        "locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
        sa.UniqueConstraint("name", name=op.f("uq_locations_name")),
    )
    op.create_table(
        "holdings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=True),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], name=op.f("fk_holdings_location_id_locations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holdings")),
    )
    op.create_table(
        "files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holding_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("checksum", sa.String(length=128), nullable=True),
        sa.Column("checksum_algorithm", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["holding_id"], ["holdings.id"], name=op.f("fk_files_holding_id_holdings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
    )
    op.create_index(op.f("ix_files_holding_id"), "files", ["holding_id"], unique=False)
    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holding_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["holding_id"], ["holdings.id"], name=op.f("fk_transactions_holding_id_holdings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
    )
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_tags_name")),
    )
    op.create_table(
        "holding_tags",
        sa.Column("holding_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["holding_id"], ["holdings.id"], name=op.f("fk_holding_tags_holding_id_holdings")),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], name=op.f("fk_holding_tags_tag_id_tags")),
        sa.PrimaryKeyConstraint("holding_id", "tag_id", name=op.f("pk_holding_tags")),
    )
    op.bulk_insert(locations, [{{"name": "primary-disk", "kind": "disk"}}, {{"name": "archive-tape", "kind": "tape"}}])


def downgrade() -> None:
    op.drop_table("holding_tags")
    op.drop_table("tags")
    op.drop_table("transactions")
    op.drop_table("files")
    op.drop_table("holdings")
    op.drop_table("locations")
'''


def squash(project: Path) -> Path:
    """Replace catalog 001..004 with the baseline; returns the baseline file."""
    folder = project / "catalog_versions"
    for rev in REPLACED:
        for path in folder.glob(f"{rev}_*.py"):
            path.unlink()
    shutil.rmtree(folder / "__pycache__", ignore_errors=True)
    baseline = folder / f"{BASELINE}_baseline.py"
    baseline.write_text(BASELINE_FILE, encoding="utf-8")
    return baseline


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def catalog_db(project: Path) -> Path:
    return project / "var" / "catalog.db"


def monitor_db(project: Path) -> Path:
    return project / "var" / "monitor.db"


def sqlite_rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def versions_of(path: Path) -> set[str]:
    return {r[0] for r in sqlite_rows(path, "SELECT version_num FROM alembic_version")}


def ledger_of(url: str) -> dict[str, str]:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(sa.text(f"SELECT revision, checksum FROM {LEDGER}")).all())
    finally:
        engine.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


# --- a database upgraded before the squash ------------------------------------------------------


def test_a_database_at_head_before_the_squash_upgrades_as_a_no_op_and_the_ledger_reports_squashed(project, cli):
    assert cli("upgrade", "--all").exit_code == 0
    baseline = squash(project)

    result = cli("upgrade", "--all")
    assert result.exit_code == 0, result.output
    assert "catalog   " in result.output and "no change" in result.output
    assert "edited" not in result.stderr and "deleted" not in result.stderr

    status = cli("status", "catalog", "--check")
    assert status.exit_code == 0, status.output
    assert "at head" in status.output and "validate" not in status.output

    validate = cli("validate", "catalog")
    assert validate.exit_code == 0, validate.output
    assert "catalog: ok: every applied revision matches its file" in validate.output
    for rev in REPLACED[:3]:
        assert f"info: revision {rev} was squashed into the baseline {BASELINE}" in validate.output
    assert f"info: revision {BASELINE} (" in validate.output and "replaced by its baseline" in validate.output
    data = json.loads(cli("validate", "catalog", "--json").output)[0]
    assert data["changed"] == []
    assert {c["revision"] for c in data["squashed"]} == set(REPLACED)
    assert {c["problem"] for c in data["squashed"]} == {"squashed"}

    # the ledger still holds the pre-squash rows until --accept (no-op upgrades write nothing)
    url = sqlite_url(catalog_db(project))
    assert set(REPLACED) <= set(ledger_of(url))
    accepted = cli("validate", "catalog", "--accept")
    assert accepted.exit_code == 0, accepted.output
    assert accepted.output.startswith("catalog: accepted: "), accepted.output  # not "ok": it just changed the ledger
    rows = ledger_of(url)
    assert not set(REPLACED[:3]) & set(rows)
    assert rows[BASELINE] == sha256(baseline)
    assert "every applied revision matches its file" in cli("validate", "catalog").output

    # from now on an edit of the baseline is an edit again
    baseline.write_text(BASELINE_FILE + "# edited\n", encoding="utf-8")
    edited = cli("validate", "catalog")
    assert edited.exit_code == 1
    assert f"revision {BASELINE} (catalog_versions/{baseline.name}) was edited after it was applied" in edited.output
    assert f"catalog: revision {BASELINE}" in cli("status", "catalog").output  # (an upgrade with work refuses)


def test_an_upgrade_that_runs_after_the_squash_moves_the_ledger_to_the_baseline(project, cli):
    assert cli("upgrade", "catalog", "--to", CATALOG_REVS[4]).exit_code == 0
    baseline = squash(project)
    result = cli("upgrade", "catalog")
    assert result.exit_code == 0, result.output
    assert "upgraded (2 revisions)" in result.output
    rows = ledger_of(sqlite_url(catalog_db(project)))
    assert set(rows) == {BASELINE, *CATALOG_REVS[4:]}
    assert rows[BASELINE] == sha256(baseline)
    assert cli("validate", "catalog").output.strip() == "catalog: ok: every applied revision matches its file"


def test_an_empty_database_upgrades_through_the_baseline(project, cli):
    squash(project)
    result = cli("upgrade", "--all")
    assert result.exit_code == 0, result.output
    assert versions_of(catalog_db(project)) == {CATALOG_HEAD}
    names = {r[0] for r in sqlite_rows(catalog_db(project), "SELECT name FROM locations")}
    assert names == {"primary-disk", "archive-tape"}


# --- a database at a revision the baseline replaced ----------------------------------------------


@pytest.fixture
def at_002(project: Path, cli) -> Path:
    """catalog at c1a0f0a1b002 and monitor at its first revision, then the squash."""
    assert cli("upgrade", "catalog", "--to", AT_002).exit_code == 0
    assert cli("upgrade", "monitor", "--to", MONITOR_REVS[0]).exit_code == 0
    squash(project)
    return project


def test_upgrade_downgrade_and_stamp_refuse_a_database_at_a_squashed_revision(at_002, cli):
    for args in (
        ("upgrade", "catalog"),
        ("upgrade", "catalog", "--to", "+1"),
        ("downgrade", "catalog", "--to", "base"),
        ("stamp", "catalog", "--to", "heads"),
        ("upgrade", "catalog", "--sql", "--from-current"),
    ):
        result = cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert_one_clean_error(result, SQUASHED_AT_002)
    assert versions_of(catalog_db(at_002)) == {AT_002}


def test_upgrade_all_refuses_before_changing_any_database(at_002, cli):
    before = sqlite_rows(monitor_db(at_002), "SELECT name FROM sqlite_master ORDER BY name")
    result = cli("upgrade", "--all")
    assert result.exit_code == 1
    assert_one_clean_error(result, SQUASHED_AT_002)
    assert versions_of(catalog_db(at_002)) == {AT_002}
    assert versions_of(monitor_db(at_002)) == {MONITOR_REVS[0]}
    assert sqlite_rows(monitor_db(at_002), "SELECT name FROM sqlite_master ORDER BY name") == before


def test_status_shows_squashed_away_and_fails(at_002, cli):
    result = cli("status", "--all")
    assert result.exit_code == 1
    # the table keeps the short state; the message (how to get past it) is a line of its own under it
    header, catalog_row, monitor_row, note = result.stdout.splitlines()
    assert catalog_row.split()[:2] == ["catalog", AT_002] and catalog_row.endswith("  squashed away")
    assert header.index("STATE") == catalog_row.index("squashed away") == monitor_row.index("behind")
    assert note == SQUASHED_AT_002.replace("catalog: ", "catalog: squashed away: ")
    assert cli("status", "catalog", "--check").exit_code == 1
    data = json.loads(cli("status", "--all", "--json").output)
    catalog = next(s for s in data if s["name"] == "catalog")
    assert catalog["state"] == "squashed away"
    assert catalog["current"] == [AT_002]
    assert catalog["error"] == SQUASHED_AT_002.removeprefix("catalog: ")
    assert next(s for s in data if s["name"] == "monitor")["state"] == "behind"


def test_plan_lint_and_validate_refuse_a_database_at_a_squashed_revision(at_002, cli):
    for args in (("plan", "catalog"), ("lint", "catalog")):
        result = cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert_one_clean_error(result, SQUASHED_AT_002)
    validate = cli("validate", "catalog")
    assert validate.exit_code == 1
    assert f"catalog: error: {SQUASHED_AT_002.removeprefix('catalog: ')}" in validate.output


def test_graph_shows_the_baseline_and_where_the_database_stands(at_002, cli, tmp_path):
    data = json.loads(cli("graph", "catalog", "--json").output)[0]
    first = data["nodes"][0]
    assert first["revision"] == BASELINE and list(first["squashed"]) == REPLACED
    assert data["positions"][0]["state"] == "squashed away"
    page = tmp_path / "graph.html"
    assert cli("graph", "catalog", "--html", str(page)).exit_code == 0
    html = page.read_text()
    assert "baseline (squashed 4 revisions)" in html
    assert f"{REPLACED[0]}: create locations, holdings, files" in html  # the tooltip lists what it replaced
    assert "catalog: squashed away: the database is at c1a0f0a1b002" in html


def test_history_marks_the_baseline(project, cli):
    squash(project)
    result = cli("history", "catalog")
    assert result.exit_code == 0
    line = next(line for line in result.output.splitlines() if f"-> {BASELINE}" in line)
    assert line.startswith(f"<base> -> {BASELINE} (catalog) (baseline: squashed 4 revisions), baseline:")
    items = json.loads(cli("history", "catalog", "--json").output)
    assert next(i for i in items if i["revision"] == BASELINE)["squashed"] == REPLACED
    assert all(i["squashed"] == [] for i in items if i["revision"] != BASELINE)


def test_a_database_at_the_baseline_id_itself_is_fine(project, cli):
    assert cli("upgrade", "catalog", "--to", BASELINE).exit_code == 0
    squash(project)
    result = cli("upgrade", "catalog")
    assert result.exit_code == 0, result.output
    assert versions_of(catalog_db(project)) == {CATALOG_HEAD}


def test_an_unknown_revision_in_no_record_keeps_its_own_errors(project, cli):
    assert cli("upgrade", "catalog").exit_code == 0
    squash(project)
    conn = sqlite3.connect(catalog_db(project))
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = 'c1a0f0a1b0ff'")
    conn.close()
    upgrade = cli("upgrade", "catalog")
    assert_one_clean_error(upgrade, "catalog: the database is at revision c1a0f0a1b0ff, which no version folder holds")
    assert "squashed" not in upgrade.stderr
    lint = cli("lint", "catalog")
    assert_one_clean_error(lint, "catalog: unknown revision 'c1a0f0a1b0ff'")
    assert json.loads(cli("status", "catalog", "--json").output)[0]["state"] == "ahead of code"


# --- servers ---------------------------------------------------------------------------------------


def server_env(url_factory) -> dict[str, str]:
    """The production profile's URLs, and ``OTHER``: a second catalog database (left at 002)."""
    return {"CATALOG_DATABASE_URL": url_factory(), "MONITOR_DATABASE_URL": url_factory(), "OTHER": url_factory()}


@pytest.mark.postgresql
def test_postgresql_at_head_is_a_no_op_and_at_002_is_refused(project, cli, pg_database):
    run_on_server(project, cli, server_env(pg_database))


@pytest.mark.mariadb
def test_mariadb_at_head_is_a_no_op_and_at_002_is_refused(project, cli, mariadb_database):
    run_on_server(project, cli, server_env(mariadb_database))


def run_on_server(project: Path, cli, env: dict[str, str]) -> None:
    prod = ("--profile", "production")
    assert cli(*prod, "upgrade", "--all", env=env).exit_code == 0
    other = {**env, "CATALOG_DATABASE_URL": env["OTHER"]}
    assert cli(*prod, "upgrade", "catalog", "--to", AT_002, env=other).exit_code == 0
    baseline = squash(project)

    result = cli(*prod, "upgrade", "--all", env=env)
    assert result.exit_code == 0, result.output
    assert cli(*prod, "validate", "catalog", "--accept", env=env).exit_code == 0
    rows = ledger_of(env["CATALOG_DATABASE_URL"])
    assert rows[BASELINE] == sha256(baseline) and not set(REPLACED[:3]) & set(rows)

    refused = cli(*prod, "upgrade", "catalog", env=other)
    assert refused.exit_code == 1
    assert_one_clean_error(refused, SQUASHED_AT_002)
    status = json.loads(cli(*prod, "status", "catalog", "--json", env=other).output)[0]
    assert status["state"] == "squashed away" and status["current"] == [AT_002]


# --- the pytest plugin --------------------------------------------------------------------------------

pytest_plugins = ["pytester"]

MIGRATION_DATA = """
    from multidb.testing import MigrationData

    data = MigrationData()
    # on revisions the baseline replaced: obsolete
    data.before("catalog", "c1a0f0a1b004", {"locations": [{"id": 10, "name": "scratch", "kind": "disk"}]})
    data.after("catalog", "c1a0f0a1b004", {"locations": [{"name": "primary-disk"}, {"name": "archive-tape"}]})
    data.after("catalog", "c1a0f0a1b002", {"tags": []})
    # after the baseline: still run
    data.before("catalog", "c1a0f0a1b007", {"locations": [{"id": 21, "name": "late-old-code", "kind": "tape"}]})
    # (location 10, seeded before the replaced c1a0f0a1b004, is inserted after the baseline and carried along)
    data.after("catalog", "c1a0f0a1b007", {"locations": [{"id": 21, "medium": "tape"}, {"id": 10, "medium": "disk"}]})


    @data.after("catalog", "c1a0f0a1b007")
    def leaves_a_mark(conn):
        open("ran-007", "w").close()
"""


def plugin_project(pytester: pytest.Pytester, project: Path, data: str) -> pytest.Pytester:
    for part in ("config", "catalog_versions", "monitor_versions", "example_app"):
        shutil.copytree(project / part, pytester.path / part)
    (pytester.path / "migration_data.py").write_text(textwrap.dedent(data), encoding="utf-8")
    (pytester.path / "tests").mkdir()
    pytester.makeini("[pytest]\nmultidb_config = config/multidb.yaml\nmultidb_data = migration_data:data\n")
    return pytester


def run_plugin(pytester: pytest.Pytester) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-k", "catalog")


def test_the_plugin_reports_data_checks_on_squashed_revisions_as_obsolete_and_passes(pytester, project):
    squash(project)
    result = run_plugin(plugin_project(pytester, project, MIGRATION_DATA))
    result.assert_outcomes(passed=8)  # no skip: test_data_survival[catalog-sqlite] passes
    assert (pytester.path / "ran-007").exists()  # the checks after the baseline ran
    result.stdout.fnmatch_lines(
        [
            "*multidb notes*",
            f"multidb: data check catalog {BASELINE} (before/after) is obsolete: {BASELINE} was squashed into "
            f"a baseline; its seed rows are inserted after {BASELINE} for the later checks",
            f"multidb: data check catalog {AT_002} (after) is obsolete: {AT_002} was squashed into the baseline "
            f"{BASELINE}",
        ]
    )
    assert result.stdout.str().count("is obsolete") == 2


def test_the_plugin_fails_on_a_data_check_for_an_unknown_revision(pytester, project):
    squash(project)
    data = MIGRATION_DATA + '    data.after("catalog", "c1a0f0a1b0ee", {"tags": []})\n'
    result = run_plugin(plugin_project(pytester, project, data))
    result.assert_outcomes(passed=7, failed=1)
    result.stdout.fnmatch_lines(
        ["*catalog: data 'rows of tags' is registered for revision 'c1a0f0a1b0ee': Can't locate revision*"]
    )


def test_stamp_purge_still_records_where_the_schema_is(at_002, cli):
    result = cli("stamp", "catalog", "--to", BASELINE, "--purge")
    assert result.exit_code == 0, result.output
    assert versions_of(catalog_db(at_002)) == {BASELINE}
    rows = ledger_of(sqlite_url(catalog_db(at_002)))
    assert set(rows) == {BASELINE}
    assert rows[BASELINE] == sha256(at_002 / "catalog_versions" / f"{BASELINE}_baseline.py")


def test_a_target_the_baseline_replaced_is_named_as_such(project, cli):
    assert cli("upgrade", "catalog").exit_code == 0
    squash(project)
    for args in (("downgrade", "catalog", "--to", AT_002), ("stamp", "catalog", "--to", AT_002)):
        result = cli(*args)
        assert result.exit_code == 2
        assert_one_clean_error(
            result,
            f"catalog: unknown revision '{AT_002}': it was squashed into the baseline {BASELINE}, "
            "where the history starts now",
        )
    assert versions_of(catalog_db(project)) == {CATALOG_HEAD}

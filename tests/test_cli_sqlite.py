"""The example project (catalog + monitor) through the CLI, against real SQLite files.

Every test works on a fresh copy of the example project (the ``project`` fixture) and runs
``multidb`` in-process (the ``cli`` fixture). What a command claims is checked against what
is really in the SQLite files.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import pytest
from assertions import assert_one_clean_error, error_lines, user_tables

from example_project import (
    CATALOG_HEAD,
    CATALOG_REVS,
    CATALOG_TABLES,
    FAILING_ERROR,
    FAILING_FILE,
    FAILING_REVISION,
    MONITOR_HEAD,
    MONITOR_REVS,
    MONITOR_TABLES,
    SEEDED_LOCATIONS,
    upgraded,
)

COMMANDS = [
    "init",
    "list",
    "status",
    "current",
    "heads",
    "branches",
    "graph",
    "history",
    "show",
    "revision",
    "migrate",
    "merge",
    "upgrade",
    "downgrade",
    "stamp",
    "check",
]


# --- helpers: read the SQLite files directly ------------------------------------------------


def db_file(project: Path, name: str) -> Path:
    return project / "var" / f"{name}.db"


def query(path: Path, sql: str) -> list[tuple]:
    assert path.exists(), f"{path} does not exist"
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


def tables(path: Path) -> set[str]:
    """User tables (SQLite's own and multidb's bookkeeping left out)."""
    return user_tables(r[0] for r in query(path, "SELECT name FROM sqlite_master WHERE type = 'table'"))


def versions(path: Path) -> set[str]:
    """The rows of the version table; empty when the table does not exist."""
    if not query(path, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"):
        return set()
    return {r[0] for r in query(path, "SELECT version_num FROM alembic_version")}


def columns(path: Path, table: str) -> list[str]:
    return [r[1] for r in query(path, f"PRAGMA table_info({table})")]


def schema(path: Path) -> dict[str, object]:
    """Tables with their columns (name, type, not null, default, pk) and index names."""
    with closing(sqlite3.connect(path)) as conn:
        names = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        ]
        result: dict[str, object] = {
            name: sorted(tuple(c[1:]) for c in conn.execute(f"PRAGMA table_info({name})")) for name in names
        }
        result["indexes"] = sorted(
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")
        )
    return result


def locations(project: Path) -> set[tuple[str, str]]:
    return set(query(db_file(project, "catalog"), "SELECT name, medium FROM locations"))


def status_json(cli, *args: str) -> dict[str, dict]:
    result = cli("status", *args, "--json")
    return {s["name"]: s for s in json.loads(result.stdout)}


def forget_models() -> None:
    """Drop the imported model modules, so a changed model file is read again."""
    for name in [m for m in sys.modules if m == "example_app" or m.startswith("example_app.")]:
        del sys.modules[name]


def add_column_to_files_model(project: Path) -> None:
    path = project / "example_app" / "catalog.py"
    anchor = "    checksum_algorithm: Mapped[str | None] = mapped_column(String(20), nullable=True)\n"
    text = path.read_text()
    assert anchor in text
    added = "    mime_type: Mapped[str | None] = mapped_column(String(100), nullable=True)\n"
    path.write_text(text.replace(anchor, anchor + added))
    forget_models()


def version_files(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.py")}


# --- upgrade --all, status -------------------------------------------------------------------


def test_upgrade_all_from_nothing_brings_both_databases_to_head(cli, project):
    result = cli("upgrade", "--all", "--json")
    assert result.exit_code == 0, result.output

    runs = json.loads(result.stdout)
    assert [r["name"] for r in runs] == ["catalog", "monitor"]  # catalog first: monitor depends on it
    assert runs[0]["applied"] == CATALOG_REVS
    assert runs[1]["applied"] == MONITOR_REVS
    assert all(r["result"] == "upgraded" and r["before"] == [] for r in runs)

    assert versions(db_file(project, "catalog")) == {CATALOG_HEAD}
    assert versions(db_file(project, "monitor")) == {MONITOR_HEAD}
    assert tables(db_file(project, "catalog")) == CATALOG_TABLES
    assert tables(db_file(project, "monitor")) == MONITOR_TABLES

    states = status_json(cli, "--all")
    assert {n: s["state"] for n, s in states.items()} == {"catalog": "at head", "monitor": "at head"}
    assert states["catalog"]["current"] == [CATALOG_HEAD]
    assert states["monitor"]["current"] == [MONITOR_HEAD]
    assert states["catalog"]["pending"] == [] and states["monitor"]["pending"] == []


def test_upgrade_all_text_output_lists_catalog_before_monitor(cli):
    result = cli("upgrade", "--all")
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()
    assert rows[0].split() == ["DATABASE", "FROM", "TO", "RESULT"]
    assert rows[1].startswith("catalog") and upgraded(CATALOG_REVS) in rows[1]
    assert rows[2].startswith("monitor") and upgraded(MONITOR_REVS) in rows[2]


def test_upgrade_all_follows_depends_on_not_declaration_order(cli, project):
    config = project / "config" / "multidb.yaml"
    text = config.read_text()
    start, middle, end = text.index("  catalog:\n"), text.index("  monitor:\n"), text.index("\nprofiles:")
    catalog_block, monitor_block = text[start:middle], text[middle:end] + "\n"
    config.write_text(text[:start] + monitor_block + catalog_block.rstrip("\n") + text[end:])
    assert cli("list", "--json").exit_code == 0

    result = cli("upgrade", "--all", "--json")
    assert result.exit_code == 0, result.output
    assert [r["name"] for r in json.loads(result.stdout)] == ["catalog", "monitor"]


def test_named_databases_run_in_dependency_order(cli, project):
    up = cli("upgrade", "monitor", "catalog", "--json")
    assert up.exit_code == 0, up.output
    assert [r["name"] for r in json.loads(up.stdout)] == ["catalog", "monitor"]

    down = cli("downgrade", "catalog", "monitor", "--to", "base", "--json")
    assert down.exit_code == 0, down.output
    assert [r["name"] for r in json.loads(down.stdout)] == ["monitor", "catalog"]  # dependents first
    assert versions(db_file(project, "catalog")) == versions(db_file(project, "monitor")) == set()
    assert tables(db_file(project, "catalog")) == tables(db_file(project, "monitor")) == set()


def test_second_upgrade_all_is_a_no_op(cli, project):
    assert cli("upgrade", "--all").exit_code == 0
    before = {name: schema(db_file(project, name)) for name in ("catalog", "monitor")}

    again = cli("upgrade", "--all", "--json")
    assert again.exit_code == 0, again.output
    runs = json.loads(again.stdout)
    assert [(r["name"], r["result"], r["applied"]) for r in runs] == [
        ("catalog", "no change", []),
        ("monitor", "no change", []),
    ]
    assert {name: schema(db_file(project, name)) for name in ("catalog", "monitor")} == before
    assert versions(db_file(project, "catalog")) == {CATALOG_HEAD}
    assert locations(project) == SEEDED_LOCATIONS  # the data migration did not run twice


def test_status_check_exits_0_at_head_and_1_when_behind(cli, project):
    assert cli("upgrade", "--all").exit_code == 0
    at_head = cli("status", "--check")
    assert at_head.exit_code == 0, at_head.output

    down = cli("downgrade", "catalog", "--to", CATALOG_REVS[3])
    assert down.exit_code == 0, down.output
    assert versions(db_file(project, "catalog")) == {CATALOG_REVS[3]}

    behind = cli("status", "--check")
    assert behind.exit_code == 1
    catalog_row = next(line for line in behind.stdout.splitlines() if line.startswith("catalog"))
    assert "behind" in catalog_row
    states = status_json(cli)
    assert states["catalog"]["state"] == "behind"
    assert states["catalog"]["pending"] == CATALOG_REVS[4:]
    assert states["monitor"]["state"] == "at head"
    # without --check, being behind is not a failure
    assert cli("status").exit_code == 0


def test_status_keeps_the_table_narrow_and_says_an_error_under_it(cli, project):
    assert cli("upgrade", "--all").exit_code == 0
    db_file(project, "monitor").write_bytes(b"this is not a database file" * 100)
    result = cli("status")
    assert result.exit_code == 1
    header, catalog_row, monitor_row, note = result.stdout.splitlines()
    assert monitor_row.split() == ["monitor", "?", "?", "?", "error"]
    assert header.index("STATE") == catalog_row.index("at head") == monitor_row.index("error")
    assert len(catalog_row) <= len(header) + len("at head")  # no column padded out to the message's width
    assert note.startswith("monitor: error: ") and "file is not a database" in note, note
    assert status_json(cli)["monitor"]["error"] == note.removeprefix("monitor: error: ")


def test_status_of_a_new_project_is_empty_and_creates_no_file(cli, project):
    result = cli("status", "--check", "--json")
    assert result.exit_code == 1
    assert {s["name"]: s["state"] for s in json.loads(result.stdout)} == {"catalog": "empty", "monitor": "empty"}
    assert not db_file(project, "catalog").exists()
    assert not db_file(project, "monitor").exists()


# --- downgrade to base and back ---------------------------------------------------------------


def test_downgrade_to_base_then_upgrade_round_trips_schema_and_seed_data(cli, project):
    catalog = db_file(project, "catalog")
    assert cli("upgrade", "--all").exit_code == 0
    assert locations(project) == SEEDED_LOCATIONS
    full_schema = schema(catalog)

    down = cli("downgrade", "catalog", "--to", "base", "--json")
    assert down.exit_code == 0, down.output
    (run,) = json.loads(down.stdout)
    assert run["result"] == "downgraded" and run["after"] == []
    assert tables(catalog) == set()
    assert versions(catalog) == set()
    assert versions(db_file(project, "monitor")) == {MONITOR_HEAD}  # not named, not touched

    up = cli("upgrade", "--all", "--json")
    assert up.exit_code == 0, up.output
    assert [(r["name"], r["result"]) for r in json.loads(up.stdout)] == [
        ("catalog", "upgraded"),
        ("monitor", "no change"),
    ]
    assert tables(catalog) == CATALOG_TABLES
    assert schema(catalog) == full_schema
    assert versions(catalog) == {CATALOG_HEAD}
    rows = query(catalog, "SELECT name, medium FROM locations ORDER BY name")
    assert rows == [("archive-tape", "tape"), ("primary-disk", "disk")]


# --- targets ----------------------------------------------------------------------------------


def test_upgrade_plus_one_applies_one_revision_at_a_time(cli, project):
    catalog = db_file(project, "catalog")
    first = cli("upgrade", "catalog", "--to", "+1")
    assert first.exit_code == 0, first.output
    assert versions(catalog) == {CATALOG_REVS[0]}
    assert tables(catalog) == {"locations", "holdings", "files"}
    assert not db_file(project, "monitor").exists()  # only the named database

    second = cli("upgrade", "catalog", "--to", "+1")
    assert second.exit_code == 0, second.output
    assert versions(catalog) == {CATALOG_REVS[1]}
    assert tables(catalog) == CATALOG_TABLES
    assert "checksum_algorithm" not in columns(catalog, "files")


def test_upgrade_to_label_at_head(cli, project):
    result = cli("upgrade", "catalog", "--to", "catalog@head")
    assert result.exit_code == 0, result.output
    assert versions(db_file(project, "catalog")) == {CATALOG_HEAD}
    assert locations(project) == SEEDED_LOCATIONS


def test_upgrade_to_a_full_revision_id(cli, project):
    result = cli("upgrade", "catalog", "--to", CATALOG_REVS[1])
    assert result.exit_code == 0, result.output
    assert versions(db_file(project, "catalog")) == {CATALOG_REVS[1]}


def test_upgrade_to_a_unique_id_prefix(cli, project):
    # the example's ids differ only in their last character, so add one with a distinct id
    written = cli("revision", "catalog", "-m", "extra step", "--rev-id", "abcdef123456")
    assert written.exit_code == 0, written.output
    assert cli("upgrade", "catalog", "--to", CATALOG_REVS[1]).exit_code == 0

    result = cli("upgrade", "catalog", "--to", "abcd", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["applied"] == [*CATALOG_REVS[2:], "abcdef123456"]
    assert versions(db_file(project, "catalog")) == {"abcdef123456"}


def test_downgrade_minus_n_undoes_the_data_migrations(cli, project):
    assert cli("upgrade", "--all").exit_code == 0
    result = cli("downgrade", "catalog", "--to", "-4")
    assert result.exit_code == 0, result.output
    assert "downgraded (4 revisions)" in result.stdout
    catalog = db_file(project, "catalog")
    assert versions(catalog) == {CATALOG_REVS[2]}
    assert query(catalog, "SELECT count(*) FROM locations") == [(0,)]  # the seed rows are gone
    assert "checksum_algorithm" in columns(catalog, "files")


@pytest.mark.parametrize("command", [("upgrade", "catalog"), ("downgrade", "catalog")])
def test_unknown_revision_exits_2_and_leaves_the_database_alone(cli, project, command):
    catalog = db_file(project, "catalog")
    assert cli("upgrade", "catalog", "--to", CATALOG_REVS[1]).exit_code == 0
    before = schema(catalog)

    result = cli(*command, "--to", "nosuchrev")
    assert result.exit_code == 2
    assert_one_clean_error(result, "catalog", "nosuchrev")
    assert versions(catalog) == {CATALOG_REVS[1]}
    assert schema(catalog) == before


def test_unknown_revision_on_a_new_project_creates_no_file(cli, project):
    result = cli("upgrade", "--all", "--to", "nosuchrev")
    assert result.exit_code == 2
    assert_one_clean_error(result, "catalog", "nosuchrev")
    assert not (project / "var").exists()


def test_ambiguous_revision_prefix_says_so(cli, project):
    # c1a0f0a1b00 starts every catalog revision: the message should say it is ambiguous,
    # not that no such revision exists
    result = cli("upgrade", "catalog", "--to", "c1a0f0a1b00")
    assert result.exit_code == 2
    line = assert_one_clean_error(result, "catalog", "c1a0f0a1b00")
    assert "multiple" in line.lower() or "ambiguous" in line.lower(), line
    assert not db_file(project, "catalog").exists()


def test_a_target_that_is_not_reachable_is_a_usage_error(cli, project):
    catalog = db_file(project, "catalog")
    assert cli("upgrade", "catalog", "--to", CATALOG_REVS[0]).exit_code == 0

    # c1a0f0a1b003 lies ahead of the database: there is nothing to downgrade to
    result = cli("downgrade", "catalog", "--to", CATALOG_REVS[2])
    assert result.exit_code == 2, result.output
    assert error_lines(result.stderr) and "catalog" in error_lines(result.stderr)[0]
    assert "Traceback" not in result.output
    assert versions(catalog) == {CATALOG_REVS[0]}


def test_range_target_without_sql_is_refused(cli, project):
    result = cli("upgrade", "catalog", "--to", "base:heads")
    assert result.exit_code == 2
    assert_one_clean_error(result, "--sql")
    assert not (project / "var").exists()


# --- read-only commands ------------------------------------------------------------------------


def test_current_text_and_json(cli):
    assert cli("upgrade", "--all").exit_code == 0
    assert cli("downgrade", "monitor", "--to", "-1").exit_code == 0

    text = cli("current")
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines() == [f"catalog: {CATALOG_HEAD} (head)", f"monitor: {MONITOR_REVS[-2]}"]

    data = cli("current", "--all", "--json")
    assert data.exit_code == 0
    parsed = {s["name"]: s["current"] for s in json.loads(data.stdout)}
    assert parsed == {"catalog": [CATALOG_HEAD], "monitor": [MONITOR_REVS[-2]]}


def test_current_of_a_new_database_is_none(cli):
    result = cli("current", "catalog")
    assert result.exit_code == 0
    assert result.stdout.strip() == "catalog: (none)"


def test_heads_text(cli):
    result = cli("heads")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "catalog:"
    assert f"-> {CATALOG_HEAD}" in lines[1] and "(head)" in lines[1]
    assert lines[2] == "monitor:"
    assert f"-> {MONITOR_HEAD}" in lines[3] and "(head)" in lines[3]


def test_heads_json(cli):
    result = cli("heads", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {name: [h["revision"] for h in heads] for name, heads in data.items()} == {
        "catalog": [CATALOG_HEAD],
        "monitor": [MONITOR_HEAD],
    }
    assert data["catalog"][0]["is_head"] is True


def test_branches_without_forks(cli):
    text = cli("branches")
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines() == ["catalog: (none)", "monitor: (none)"]
    data = cli("branches", "--json")
    assert data.exit_code == 0
    assert json.loads(data.stdout) == {"catalog": [], "monitor": []}


def test_branches_lists_a_fork(cli):
    fork = cli("revision", "catalog", "-m", "fork", "--head", CATALOG_REVS[2], "--splice", "--rev-id", "f0f0f0f0f0f0")
    assert fork.exit_code == 0, fork.output

    text = cli("branches", "catalog")
    assert text.exit_code == 0, text.output
    assert CATALOG_REVS[2] in text.stdout and "(branchpoint)" in text.stdout

    data = cli("branches", "catalog", "--json")
    assert data.exit_code == 0, data.output
    assert [b["revision"] for b in json.loads(data.stdout)["catalog"]] == [CATALOG_REVS[2]]


def test_history_range_newest_first(cli):
    text = cli("history", "catalog", "-r", "base:heads")
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert len(lines) == len(CATALOG_REVS)
    assert lines[0].startswith(f"{CATALOG_REVS[-2]} -> {CATALOG_HEAD}") and "(head)" in lines[0]
    assert lines[-1].startswith(f"<base> -> {CATALOG_REVS[0]}")
    assert "create locations, holdings, files" in lines[-1]

    data = cli("history", "catalog", "-r", "base:heads", "--json")
    assert data.exit_code == 0
    assert [r["revision"] for r in json.loads(data.stdout)] == list(reversed(CATALOG_REVS))

    part = cli("history", "catalog", "-r", f"{CATALOG_REVS[1]}:", "--json")
    assert part.exit_code == 0
    assert [r["revision"] for r in json.loads(part.stdout)] == list(reversed(CATALOG_REVS[1:]))


def test_history_bad_range_is_a_usage_error(cli):
    result = cli("history", "catalog", "-r", "nonsense")
    assert result.exit_code == 2
    assert_one_clean_error(result, "catalog", "FROM:TO")


def test_show_head_text_and_json(cli):
    text = cli("show", "catalog", "head")
    assert text.exit_code == 0, text.output
    assert f"Rev: {CATALOG_HEAD} (head)" in text.stdout
    assert f"Parent: {CATALOG_REVS[-2]}" in text.stdout
    assert f"Path: catalog_versions/{CATALOG_HEAD}_contract_drop_locations_kind.py" in text.stdout
    assert "contract: drop locations.kind" in text.stdout

    data = cli("show", "catalog", "head", "--json")
    assert data.exit_code == 0
    (info,) = json.loads(data.stdout)
    assert info["revision"] == CATALOG_HEAD
    assert info["down_revision"] == [CATALOG_REVS[-2]]
    assert f"Revision ID: {CATALOG_HEAD}" in info["doc"]


def test_list_text_and_json(cli, project):
    text = cli("list")
    assert text.exit_code == 0, text.output
    rows = text.stdout.splitlines()
    assert rows[0].split() == ["DATABASE", "DIALECT", "URL", "BASES", "DEPENDS", "ON"]
    assert rows[1].split()[:2] == ["catalog", "sqlite"]
    assert rows[2].split()[:2] == ["monitor", "sqlite"] and rows[2].rstrip().endswith("catalog")

    data = cli("list", "--json")
    assert data.exit_code == 0
    parsed = {d["name"]: d for d in json.loads(data.stdout)}
    assert list(parsed) == ["catalog", "monitor"]
    assert parsed["catalog"]["bases"] == [{"label": "catalog", "path": "catalog_versions"}]
    assert parsed["monitor"]["depends_on"] == ["catalog"]
    assert parsed["catalog"]["url"].endswith(str(project / "var" / "catalog.db"))
    assert not (project / "var").exists()  # listing connects to nothing


# --- write commands never default to all -------------------------------------------------------


def test_upgrade_without_database_or_all_is_refused(cli, project):
    result = cli("upgrade")
    assert result.exit_code == 2
    assert_one_clean_error(result, "--all")
    assert not (project / "var").exists()


@pytest.mark.parametrize("command", ["downgrade", "stamp"])
def test_downgrade_and_stamp_need_a_database_name(cli, project, command):
    assert cli("upgrade", "--all").exit_code == 0
    result = cli(command, "--to", "base")
    assert result.exit_code == 2
    assert_one_clean_error(result, "name the database")
    assert versions(db_file(project, "catalog")) == {CATALOG_HEAD}
    assert versions(db_file(project, "monitor")) == {MONITOR_HEAD}


def test_downgrade_has_no_all_option(cli):
    result = cli("downgrade", "--all", "--to", "base")
    assert result.exit_code == 2
    assert "--all" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("upgrade", "catalgo"),
        ("upgrade", "catalog", "catalgo"),
        ("downgrade", "catalgo", "--to", "-1"),
        ("stamp", "catalgo", "--to", "heads"),
        ("status", "catalgo"),
    ],
)
def test_unknown_database_name_suggests_and_creates_nothing(cli, project, args):
    result = cli(*args)
    assert result.exit_code == 2
    assert_one_clean_error(result, "unknown database 'catalgo'", "did you mean 'catalog'")
    assert not db_file(project, "catalog").exists()
    assert not db_file(project, "monitor").exists()


# --- stamp ---------------------------------------------------------------------------------------


def test_stamp_heads_on_an_empty_database_then_base(cli, project):
    catalog = db_file(project, "catalog")
    result = cli("stamp", "catalog", "--to", "heads")
    assert result.exit_code == 0, result.output
    assert "stamped" in result.stdout
    assert versions(catalog) == {CATALOG_HEAD}
    assert tables(catalog) == set()  # stamping runs no migration
    assert status_json(cli, "catalog")["catalog"]["state"] == "at head"
    assert cli("status", "catalog", "--check").exit_code == 0
    assert not db_file(project, "monitor").exists()

    base = cli("stamp", "catalog", "--to", "base")
    assert base.exit_code == 0, base.output
    assert versions(catalog) == set()
    assert status_json(cli, "catalog")["catalog"]["state"] == "empty"


def test_stamp_unknown_revision(cli, project):
    result = cli("stamp", "catalog", "--to", "nosuchrev")
    assert result.exit_code == 2
    assert_one_clean_error(result, "catalog", "nosuchrev")
    assert not db_file(project, "catalog").exists()


# --- autogenerate, check -------------------------------------------------------------------------


def test_check_all_at_head_matches_the_models(cli):
    assert cli("upgrade", "--all").exit_code == 0
    result = cli("check", "--all")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "catalog: the models match the migrations",
        "monitor: the models match the migrations",
    ]


def test_check_on_a_database_behind_head_fails_with_advice(cli):
    assert cli("upgrade", "catalog", "--to", "+1").exit_code == 0
    result = cli("check", "catalog")
    assert result.exit_code == 1
    assert_one_clean_error(result, "catalog", "multidb upgrade catalog")


def test_autogenerate_cycle_for_a_new_nullable_column(cli, project):
    catalog = db_file(project, "catalog")
    versions_dir = project / "catalog_versions"
    assert cli("upgrade", "--all").exit_code == 0
    assert cli("check", "catalog").exit_code == 0  # imports the models as they are
    original_files = version_files(versions_dir)

    add_column_to_files_model(project)

    drift = cli("check", "catalog")
    assert drift.exit_code == 1
    assert drift.stdout.splitlines() == [
        "catalog: 1 difference(s) between the models and the migrations:",
        "  - column files.mime_type (VARCHAR(100) NULL) is in the models but not in the database",
    ]
    drift_json = cli("check", "catalog", "--json")
    assert drift_json.exit_code == 1
    assert json.loads(drift_json.stdout) == {
        "catalog": ["column files.mime_type (VARCHAR(100) NULL) is in the models but not in the database"]
    }

    written = cli("revision", "catalog", "--autogenerate", "-m", "add files.mime_type", "--json")
    assert written.exit_code == 0, written.output
    (info,) = json.loads(written.stdout)
    new_files = version_files(versions_dir) - original_files
    assert len(new_files) == 1
    new_file = versions_dir / new_files.pop()
    assert info["path"] == f"catalog_versions/{new_file.name}"
    assert info["down_revision"] == [CATALOG_HEAD]
    source = new_file.read_text()
    assert "op.batch_alter_table('files'" in source or 'op.batch_alter_table("files"' in source
    assert "mime_type" in source and "drop_column" in source
    compile(source, str(new_file), "exec")

    # the database is not touched by writing a revision
    assert versions(catalog) == {CATALOG_HEAD}
    assert "mime_type" not in columns(catalog, "files")

    # a row that has to survive the batch table rebuilds
    with closing(sqlite3.connect(catalog)) as conn:
        conn.execute("INSERT INTO holdings (id, name) VALUES (1, 'h')")
        conn.execute("INSERT INTO files (id, holding_id, path, checksum) VALUES (7, 1, '/a', 'x')")
        conn.commit()

    up = cli("upgrade", "catalog")
    assert up.exit_code == 0, up.output
    assert versions(catalog) == {info["revision"]}
    assert "mime_type" in columns(catalog, "files")
    assert cli("check", "catalog").exit_code == 0

    down = cli("downgrade", "catalog", "--to", "-1")
    assert down.exit_code == 0, down.output
    assert versions(catalog) == {CATALOG_HEAD}
    assert "mime_type" not in columns(catalog, "files")
    assert query(catalog, "SELECT id, path, checksum FROM files") == [(7, "/a", "x")]

    again = cli("upgrade", "catalog")
    assert again.exit_code == 0, again.output
    assert versions(catalog) == {info["revision"]}
    assert "mime_type" in columns(catalog, "files")
    assert query(catalog, "SELECT id, mime_type FROM files") == [(7, None)]
    assert cli("check", "--all").exit_code == 0


def test_migrate_without_model_change_writes_nothing(cli, project):
    assert cli("upgrade", "--all").exit_code == 0
    before = version_files(project / "catalog_versions")
    result = cli("migrate", "catalog", "-m", "x")
    assert result.exit_code == 0, result.output
    assert "no revision written" in result.stdout
    assert version_files(project / "catalog_versions") == before
    assert versions(db_file(project, "catalog")) == {CATALOG_HEAD}


def test_migrate_writes_the_change_and_upgrade_applies_it(cli, project):
    assert cli("upgrade", "--all").exit_code == 0
    add_column_to_files_model(project)
    result = cli("migrate", "catalog", "-m", "add mime type")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("wrote catalog_versions/")
    assert cli("upgrade", "catalog").exit_code == 0
    assert "mime_type" in columns(db_file(project, "catalog"), "files")


# --- several bases in one database -------------------------------------------------------------


def add_archive_base(project: Path) -> None:
    config = project / "config" / "multidb.yaml"
    anchor = "        path: ../catalog_versions\n"
    text = config.read_text()
    assert anchor in text
    config.write_text(
        text.replace(anchor, anchor + "      - label: archive\n        path: ../catalog_archive_versions\n")
    )


def test_two_bases_in_one_database_then_merge(cli, project):
    catalog = db_file(project, "catalog")
    archive_dir = project / "catalog_archive_versions"
    add_archive_base(project)

    start = cli(
        "revision",
        "catalog",
        "-m",
        "start archive",
        "--head",
        "base",
        "--branch-label",
        "archive",
        "--version-path",
        "catalog_archive_versions",
        "--json",
    )
    assert start.exit_code == 0, start.output
    (archive,) = json.loads(start.stdout)
    assert archive["branch_labels"] == ["archive"] and archive["down_revision"] == []
    assert [p.name for p in archive_dir.glob("*.py")] == [Path(archive["path"]).name]

    up = cli("upgrade", "catalog")
    assert up.exit_code == 0, up.output
    assert versions(catalog) == {archive["revision"], CATALOG_HEAD}
    assert tables(catalog) == CATALOG_TABLES
    assert status_json(cli, "catalog")["catalog"]["state"] == "at head"

    heads = cli("heads", "catalog")
    assert heads.exit_code == 0
    head_lines = heads.stdout.splitlines()[1:]
    assert len(head_lines) == 2
    assert any(f"-> {CATALOG_HEAD}" in line for line in head_lines)
    assert any(f"-> {archive['revision']} (archive)" in line for line in head_lines)

    files_before = version_files(project / "catalog_versions") | version_files(archive_dir)
    ambiguous = cli("revision", "catalog", "-m", "x")
    assert ambiguous.exit_code == 2
    assert "multiple heads" in assert_one_clean_error(ambiguous, "catalog").lower()
    assert version_files(project / "catalog_versions") | version_files(archive_dir) == files_before

    on_archive = cli("revision", "catalog", "-m", "y", "--head", "archive@head", "--json")
    assert on_archive.exit_code == 0, on_archive.output
    (second,) = json.loads(on_archive.stdout)
    assert second["down_revision"] == [archive["revision"]]
    assert second["path"].startswith("catalog_archive_versions/")

    merged = cli("merge", "catalog", "heads", "-m", "merge", "--json")
    assert merged.exit_code == 0, merged.output
    (merge,) = json.loads(merged.stdout)
    assert merge["is_merge"] is True
    assert set(merge["down_revision"]) == {CATALOG_HEAD, second["revision"]}

    one_head = cli("heads", "catalog")
    assert one_head.exit_code == 0
    assert len(one_head.stdout.splitlines()) == 2  # "catalog:" and one head
    assert f"-> {merge['revision']}" in one_head.stdout

    final = cli("upgrade", "catalog", "--json")
    assert final.exit_code == 0, final.output
    assert json.loads(final.stdout)[0]["applied"] == [second["revision"], merge["revision"]]
    assert versions(catalog) == {merge["revision"]}
    assert cli("status", "catalog", "--check").exit_code == 0


def test_version_path_outside_the_config_is_refused(cli, project):
    result = cli(
        "revision", "catalog", "-m", "x", "--head", "base", "--branch-label", "z", "--version-path", "elsewhere"
    )
    assert result.exit_code == 2
    assert_one_clean_error(result, "catalog", "--version-path")
    assert not (project / "elsewhere").exists()


# --- offline SQL -------------------------------------------------------------------------------------


def test_upgrade_all_sql_writes_files_and_creates_no_database(cli, project):
    result = cli("upgrade", "--all", "--sql", "--output-dir", "out")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["catalog: wrote out/catalog.sql", "monitor: wrote out/monitor.sql"]
    assert sorted(p.name for p in (project / "out").iterdir()) == ["catalog.sql", "monitor.sql"]
    assert not (project / "var").exists()
    assert not list(project.rglob("*.db"))

    catalog_sql = (project / "out" / "catalog.sql").read_text()
    monitor_sql = (project / "out" / "monitor.sql").read_text()
    assert "CREATE TABLE locations" in catalog_sql
    assert "'primary-disk'" in catalog_sql and "'archive-tape'" in catalog_sql
    assert f"version_num='{CATALOG_HEAD}'" in catalog_sql
    assert "CREATE TABLE transaction_records" in monitor_sql
    assert f"version_num='{MONITOR_HEAD}'" in monitor_sql
    assert "locations" not in monitor_sql


def test_sqlite_uri_filename_is_relative_to_the_config_and_locked(cli, project):
    config = project / "config" / "multidb.yaml"
    config.write_text(
        config.read_text().replace("sqlite:///../var/catalog.db", "sqlite:///file:../var/uri.db?mode=rwc&uri=true")
    )
    result = cli("upgrade", "--all")
    assert result.exit_code == 0, result.output
    assert versions(project / "var" / "uri.db") == {CATALOG_HEAD}  # beside the config, not the current folder
    assert (project / "var" / "uri.db.multidb-lock").exists()  # the run took the file lock
    assert cli("status", "--check").exit_code == 0


def test_upgrade_sql_from_current_starts_where_each_database_is(cli, project):
    catalog = db_file(project, "catalog")
    assert cli("upgrade", "catalog", "--to", CATALOG_REVS[3]).exit_code == 0
    before = schema(catalog)

    result = cli("upgrade", "--all", "--sql", "--from-current", "--output-dir", "out")
    assert result.exit_code == 0, result.output
    catalog_sql = (project / "out" / "catalog.sql").read_text()
    assert f"-- from {CATALOG_REVS[3]} to heads" in catalog_sql
    assert "CREATE TABLE holdings" not in catalog_sql
    assert "CREATE TABLE transaction_records" in (project / "out" / "monitor.sql").read_text()
    assert schema(catalog) == before
    assert not db_file(project, "monitor").exists()  # reading an empty database creates no file

    with closing(sqlite3.connect(catalog)) as conn:
        conn.executescript(catalog_sql)
    assert versions(catalog) == {CATALOG_HEAD}
    assert locations(project) == SEEDED_LOCATIONS
    assert cli("check", "catalog").exit_code == 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--from-current",), "only goes with --sql"),
        (("--sql", "--from-current", "--to", f"{CATALOG_REVS[0]}:heads"), "not FROM:TO"),
    ],
)
def test_from_current_misuse_is_a_usage_error(cli, project, args, says):
    result = cli("upgrade", "catalog", *args)
    assert result.exit_code == 2
    assert_one_clean_error(result, says)
    assert not (project / "sql").exists() and not (project / "var").exists()


def test_upgrade_sql_into_a_folder_in_the_way_writes_no_file(cli, project):
    (project / "out" / "monitor.sql").mkdir(parents=True)
    (project / "out" / "monitor.sql" / "keep").write_text("x")
    result = cli("upgrade", "--all", "--sql", "--output-dir", "out")
    assert result.exit_code == 2
    assert_one_clean_error(result, "out/monitor.sql", "it is a folder")
    assert sorted(p.name for p in (project / "out").iterdir()) == ["monitor.sql"]  # no catalog.sql, no .tmp


def test_upgrade_sql_builds_the_same_schema_as_online_upgrade(cli, project, tmp_path):
    assert cli("upgrade", "catalog", "--sql", "--output-dir", "out").exit_code == 0
    offline = tmp_path / "offline.db"
    with closing(sqlite3.connect(offline)) as conn:
        conn.executescript((project / "out" / "catalog.sql").read_text())
    assert cli("upgrade", "catalog").exit_code == 0
    online = db_file(project, "catalog")
    assert schema(offline) == schema(online)
    assert versions(offline) == versions(online) == {CATALOG_HEAD}
    assert set(query(offline, "SELECT name, medium FROM locations")) == SEEDED_LOCATIONS


def test_downgrade_sql_over_a_batch_drop_column(cli, project):
    result = cli("downgrade", "catalog", "--sql", "--to", "heads:base", "--output-dir", "out")
    assert not (project / "var").exists()
    if result.exit_code == 0:
        sql = (project / "out" / "catalog.downgrade.sql").read_text()
        for table in ("files", "holdings", "locations"):
            assert f"DROP TABLE {table}" in sql
        assert "checksum_algorithm" in sql
    else:
        assert result.exit_code == 1
        assert_one_clean_error(result, "catalog", "c1a0f0a1b003_add_files_checksum_algorithm.py", "copy_from")
        assert not (project / "out").exists()  # nothing is written when a database fails


def test_downgrade_sql_without_a_range_is_refused(cli, project):
    result = cli("downgrade", "catalog", "--sql", "--to", "base")
    assert result.exit_code == 2
    assert_one_clean_error(result, "FROM:TO")
    assert not (project / "sql").exists()
    assert not (project / "var").exists()


def test_downgrade_sql_of_a_range_without_batch(cli, project):
    result = cli("downgrade", "catalog", "--sql", "--to", f"{CATALOG_HEAD}:{CATALOG_REVS[2]}")
    assert result.exit_code == 0, result.output
    sql = (project / "sql" / "catalog.downgrade.sql").read_text()
    assert "DELETE FROM locations" in sql
    assert f"version_num='{CATALOG_REVS[2]}'" in sql
    assert not (project / "var").exists()


# --- a failing revision ------------------------------------------------------------------------------


@pytest.fixture
def broken(project: Path) -> Path:
    """The project with a catalog revision that creates a table, then raises."""
    path = project / "catalog_versions" / FAILING_FILE
    path.write_text(FAILING_REVISION)
    return path


def test_failing_revision_rolls_back_and_skips_dependents(cli, project, broken):
    catalog, monitor = db_file(project, "catalog"), db_file(project, "monitor")
    assert cli("upgrade", "catalog", "--to", CATALOG_HEAD).exit_code == 0
    assert cli("upgrade", "monitor", "--to", MONITOR_REVS[0]).exit_code == 0
    monitor_before = schema(monitor)

    result = cli("upgrade", "--all")
    assert result.exit_code == 1
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert "catalog" in errors[0] and broken.name in errors[0] and FAILING_ERROR in errors[0]
    assert "Traceback (most recent call last)" not in result.output
    table = [line.split() for line in result.stderr.splitlines() if not line.startswith("multidb: error:")]
    assert table[0] == ["DATABASE", "FROM", "TO", "RESULT"]
    assert table[1][:4] == ["catalog", CATALOG_HEAD, CATALOG_HEAD, "failed:"]
    assert table[2] == ["monitor", MONITOR_REVS[0], MONITOR_REVS[0], "skipped"]

    assert versions(catalog) == {CATALOG_HEAD}
    assert "half_done" not in tables(catalog)  # the revision's DDL was rolled back
    assert tables(catalog) == CATALOG_TABLES
    assert versions(monitor) == {MONITOR_REVS[0]}  # not upgraded although monitor had work
    assert schema(monitor) == monitor_before


def test_failing_revision_from_nothing_keeps_the_revisions_before_it(cli, project, broken):
    result = cli("upgrade", "--all", "--json")
    assert result.exit_code == 1
    assert len(error_lines(result.stderr)) == 1
    catalog = db_file(project, "catalog")
    assert versions(catalog) == {CATALOG_HEAD}  # one transaction per revision
    assert tables(catalog) == CATALOG_TABLES
    monitor = db_file(project, "monitor")
    assert not monitor.exists() or (tables(monitor) == set() and versions(monitor) == set())


def test_failing_revision_with_per_run_transaction_undoes_the_whole_run(cli, project, broken):
    config = project / "config" / "multidb.yaml"
    config.write_text(
        config.read_text().replace(
            "    metadata: example_app.catalog:metadata\n",
            "    metadata: example_app.catalog:metadata\n    transaction: per_run\n",
        )
    )
    result = cli("upgrade", "catalog")
    assert result.exit_code == 1
    assert len(error_lines(result.stderr)) == 1
    catalog = db_file(project, "catalog")
    # one transaction for the whole run: the good revisions before the failing one are undone too
    assert tables(catalog) == set()
    assert versions(catalog) == set()


def test_failing_revision_with_traceback_flag(cli, project, broken):
    result = cli("upgrade", "--all", "--traceback")
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert f"RuntimeError: {FAILING_ERROR}" in result.stderr
    assert len(error_lines(result.stderr)) == 1
    assert "half_done" not in tables(db_file(project, "catalog"))


# --- config errors -------------------------------------------------------------------------------------


def test_broken_yaml_is_one_line_with_file_and_line(cli, project):
    config = project / "config" / "multidb.yaml"
    lines = config.read_text().splitlines()
    bad = lines.index("    metadata: example_app.catalog:metadata")
    lines[bad] += ": oops"
    config.write_text("\n".join(lines) + "\n")

    result = cli("status")
    assert result.exit_code == 2
    assert_one_clean_error(result, "multidb.yaml", f"line {bad + 1}")


def test_missing_config_file(cli, project):
    result = cli("-c", "missing.yaml", "status")
    assert result.exit_code == 2
    assert_one_clean_error(result, "missing.yaml")
    after = cli("upgrade", "--all", "-c", "missing.yaml")  # also accepted after the command
    assert after.exit_code == 2
    assert_one_clean_error(after, "missing.yaml")
    assert not (project / "var").exists()


def test_missing_version_folder_names_the_key_path(cli, project):
    (project / "monitor_versions").rename(project / "moved_away")
    result = cli("upgrade", "--all")
    assert result.exit_code == 2
    assert_one_clean_error(result, "databases.monitor.bases[0].path", "monitor_versions")
    assert not db_file(project, "monitor").exists()


def test_profile_with_unset_variables_lists_every_problem(cli, project):
    result = cli("--profile", "production", "upgrade", "--all")
    assert result.exit_code == 2
    assert "CATALOG_DATABASE_URL" in result.stderr and "MONITOR_DATABASE_URL" in result.stderr
    assert "profiles.production.databases.catalog.url" in result.stderr
    assert "Traceback" not in result.output
    assert not (project / "var").exists()


def test_unknown_profile_suggests(cli):
    result = cli("--profile", "prodcution", "list")
    assert result.exit_code == 2
    assert_one_clean_error(result, "prodcution", "did you mean 'production'")


def test_no_config_found(cli, project, tmp_path, monkeypatch):
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    monkeypatch.chdir(empty)
    result = cli("status")
    assert result.exit_code == 2
    assert_one_clean_error(result, "multidb init")


# --- help ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_has_an_example(cli, command):
    result = cli(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout


def test_main_help_lists_every_command(cli):
    result = cli("--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout
    for command in COMMANDS:
        assert f"  {command} " in result.stdout

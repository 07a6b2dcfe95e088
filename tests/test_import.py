"""``multidb import``: the three shapes of Alembic project (tests/import_projects/), the split of a lockstep
history, the stamp of live databases onto it, and the built-in replay that compares both histories.

The old setup is run with Alembic's own API and the fixture's own env.py; the new one with multidb, through
the config ``import`` wrote (``${VAR}`` URLs). Real SQLite and PostgreSQL databases.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import __version__ as alembic_version
from assertions import assert_one_clean_error
from click.testing import CliRunner, Result

from multidb.testing import parity

PROJECTS = Path(__file__).parent / "import_projects"
SECRET = "hunter2-ini-secret"  # the password of every URL in the fixtures' ini files
USERS_HEAD, EVENTS_HEAD = "t08000000008", "t10000000011"


@pytest.fixture
def copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """A fresh copy of one fixture project, and the current folder moved into it."""

    def make(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(PROJECTS / name, target, ignore=shutil.ignore_patterns("__pycache__"))
        monkeypatch.chdir(target)
        return target

    return make


@pytest.fixture
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """A factory of empty databases of the test's dialect (``dialect`` parameter), as URLs."""
    dialect = getattr(request, "param", "sqlite")
    if dialect == "sqlite":
        counter = iter(range(1000))
        yield lambda name: f"sqlite:///{tmp_path / f'{name}-{next(counter)}.db'}"
    else:
        make = request.getfixturevalue("pg_database")
        yield lambda name: make()


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    from multidb.cli import main

    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def point_ini(ini: Path, section_urls: dict[str, str]) -> None:
    """Rewrite the ``sqlalchemy.url`` of each named section of the old project's ini (a copy)."""
    text, section = [], None
    for line in ini.read_text().splitlines():
        found = re.match(r"^\[(.+)\]$", line)
        section = found.group(1) if found else section
        if line.startswith("sqlalchemy.url") and section in section_urls:
            line = f"sqlalchemy.url = {section_urls[section]}"
        text.append(line)
    ini.write_text("\n".join(text) + "\n")


def old_alembic(ini: Path, *args: str, section: str | None = None) -> None:
    """The old setup: Alembic's own command line (in-process), the project's own env.py."""
    from alembic.config import main

    main(argv=["-c", str(ini), *(["-n", section] if section else []), *args])


def schema(url: str) -> parity.Snapshot:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            # the version tables and multidb's checksum ledgers beside them (tests/test_ledger.py)
            versions = ["alembic_version", "monitor_version"]
            return parity.snapshot(conn, exclude=[*versions, *(f"{v}_ledger" for v in versions)])
    finally:
        engine.dispose()


def rows(url: str, sql: str) -> list:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def enums(url: str) -> list:
    if not url.startswith("postgresql"):
        return []
    return rows(url, "SELECT typname FROM pg_type WHERE typtype = 'e' ORDER BY typname")


# --- shapes (a) and (c): the config points at the folders, the revision files stay ----------------------------


def test_sections_import_writes_the_config_and_names_what_replaces_env_py(copy) -> None:
    root = copy("sections")
    before = {p: p.read_bytes() for p in root.rglob("*.py")}
    result = run("import")
    assert result.exit_code == 0, result.output
    config = (root / "config" / "multidb.yaml").read_text()
    assert 'url: "${CATALOG_DATABASE_URL}"' in config and 'url: "${MONITOR_DATABASE_URL}"' in config
    assert '{label: "catalog", path: "../catalog/versions"}' in config
    assert 'version_table: "monitor_version"' in config
    assert 'post_write_hooks: ["ruff format"]' in config
    for what, replacement in [
        ("include_object", "autogenerate: {include_object"),
        ("compare_type", "autogenerate: {compare_type"),
        ("search_path on connect", "hooks: {on_connect"),
        ("render_as_batch", "batch: auto"),
    ]:
        assert re.search(rf"env\.py:\d+: {what} -> {re.escape(replacement)}", result.output), what
    # the history of monitor has no branch label: what multidb needs is said, the file is left alone
    assert "e0a000000001 declares branch_labels = ('monitor',)" in result.output
    assert SECRET not in result.output + config
    assert {p: p.read_bytes() for p in root.rglob("*.py")} == before


def test_import_refuses_to_overwrite_the_config(copy) -> None:
    root = copy("single")
    first = run("import")
    assert first.exit_code == 0
    assert 'metadata: "notes_app.models:Base.metadata"' in (root / "config" / "multidb.yaml").read_text()
    assert "target_metadata carried over as metadata: notes_app.models:Base.metadata" in first.output
    assert "target_metadata ->" not in first.output
    (root / "config" / "multidb.yaml").write_text("# mine\n")
    result = run("import")
    assert result.exit_code == 2
    assert_one_clean_error(result, "config/multidb.yaml exists; pass --force")
    assert (root / "config" / "multidb.yaml").read_text() == "# mine\n"
    assert run("import", "--force").exit_code == 0
    assert "DATABASE_URL" in (root / "config" / "multidb.yaml").read_text()


def test_import_without_an_alembic_project_says_where_it_looked(copy, tmp_path: Path) -> None:
    result = run("import", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert_one_clean_error(result, "no alembic.ini in", "nowhere")


SHAPES = {  # project: {ini section: database}, the revision each history ends at
    "sections": ({"catalog": "catalog", "monitor": "monitor"}, {"catalog": "c0a000000002", "monitor": "e0a000000002"}),
    "single": ({"alembic": "single"}, {"single": "5a0000000003"}),
}


@pytest.mark.parametrize("urls", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_databases_the_old_setup_brought_to_head_need_nothing(copy, urls, shape: str) -> None:
    root = copy(shape)
    sections, heads = SHAPES[shape]
    made = {section: urls(section) for section in sections}
    point_ini(root / "alembic.ini", made)
    for section in sections:
        old_alembic(root / "alembic.ini", "upgrade", "head", section=None if section == "alembic" else section)
    imported = run("import")
    assert imported.exit_code == 0, imported.output
    env = {("DATABASE_URL" if s == "alembic" else f"{s.upper()}_DATABASE_URL"): u for s, u in made.items()}
    schemas = {s: schema(u) for s, u in made.items()}

    status = run("status", "--all", "--check", env=env)
    assert status.exit_code == 0, status.output
    result = run("upgrade", "--all", env=env)
    assert result.exit_code == 0, result.output
    for name, head in heads.items():
        assert re.search(rf"^{name}\s+{head}\s+{head}\s+no change$", result.output, re.MULTILINE), result.output
    assert {s: schema(u) for s, u in made.items()} == schemas
    if shape == "single":  # env.py's target_metadata = Base.metadata, carried over: check compares the models
        checked = run("check", "--all", env=env)
        assert checked.exit_code == 0, checked.output
    # and the imported config runs the history both ways
    assert run("downgrade", *heads, "--to", "base", env=env).exit_code == 0
    assert all(not schema(u).tables for u in made.values())
    assert run("upgrade", "--all", env=env).exit_code == 0
    assert {s: schema(u) for s, u in made.items()} == schemas


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_imported_histories_render_offline_and_match_across_dialects(copy, pg_database, tmp_path: Path, shape) -> None:
    from multidb.config import load_config
    from multidb.testing import checks

    root = copy(shape)
    assert run("import").exit_code == 0
    sections, heads = SHAPES[shape]
    variables = {("DATABASE_URL" if s == "alembic" else f"{s.upper()}_DATABASE_URL") for s in sections}
    offline = run("upgrade", "--all", "--sql", env=dict.fromkeys(variables, "postgresql://app@nohost/x"))
    assert offline.exit_code == 0, offline.output
    for name in heads:
        sql = (root / "sql" / f"{name}.sql").read_text()
        assert "CREATE TABLE" in sql and f"'{heads[name]}'" in sql
    on_sqlite = load_config(
        root / "config" / "multidb.yaml", None, {v: f"sqlite:///{tmp_path / v}.db" for v in variables}
    )
    on_postgresql = load_config(root / "config" / "multidb.yaml", None, {v: pg_database() for v in variables})
    for name in heads:
        checks.check_parity(on_sqlite, on_postgresql, name)


def process(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python ARGS`` in its own process, from ``cwd``: nothing of this test's sys.path, no PYTHONPATH."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | (env or {})
    return subprocess.run([sys.executable, *args], cwd=cwd, env=environ, capture_output=True, text=True, check=False)


def multidb_process(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return process(cwd, "-m", "multidb", *args, env=env)


def test_a_src_layout_project_imports_with_its_prepend_sys_path(copy, tmp_path: Path) -> None:
    """``prepend_sys_path = . src``: the models (``src/notes_app``) import under multidb as they do under Alembic:
    for upgrade (the naming convention names the constraints), check and autogenerate, from any folder."""
    root = copy("src_layout")
    old_url, new_url = f"sqlite:///{tmp_path / 'old.db'}", f"sqlite:///{tmp_path / 'new.db'}"
    point_ini(root / "alembic.ini", {"alembic": old_url})
    # the old setup, in its own process (an in-process run would find the notes_app of an earlier test's folder,
    # through the sys.path_importer_cache entry of Alembic's relative "."), run from the project's folder
    old = process(root, "-c", "from alembic.config import main; main()", "upgrade", "head")
    assert old.returncode == 0, old.stderr
    elsewhere = tmp_path / "elsewhere"  # not the project's folder: the path must come from the config
    elsewhere.mkdir()
    imported = multidb_process(elsewhere, "import", str(root))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    config = root / "config" / "multidb.yaml"
    assert 'python_path: ["..", "../src"]' in config.read_text()
    assert 'metadata: "notes_app.models:Base.metadata"' in config.read_text()

    env = {"DATABASE_URL": new_url}
    upgraded = multidb_process(elsewhere, "-c", str(config), "upgrade", "--all", env=env)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert "upgraded (2 revisions)" in upgraded.stdout
    made = schema(new_url)
    assert made == schema(old_url)  # the same names as Alembic's: uq_notes_title from the models' convention
    assert {u.name for u in made.tables["notes"].uniques} == {"uq_notes_title"}
    assert {i.name for i in made.tables["notes"].indexes} == {"idx_notes_author"}
    checked = multidb_process(elsewhere, "-c", str(config), "check", "--all", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "the models match the migrations" in checked.stdout
    revision = multidb_process(
        elsewhere, "-c", str(config), "revision", "src_layout", "--autogenerate", "-m", "x", env=env
    )
    assert revision.returncode == 0, revision.stdout + revision.stderr
    assert "the models match the database; no revision written" in revision.stdout


@pytest.mark.parametrize(
    ("settings", "python_path"),
    [
        ("prepend_sys_path = src\n", '["../src", ".."]'),  # Alembic's order: prepend_sys_path first
        ("prepend_sys_path = src, .\n", '["../src", ".."]'),  # no path_separator: spaces, commas and colons
        ("prepend_sys_path = src;.\npath_separator = ;\n", '["../src", ".."]'),
        ("prepend_sys_path = %(here)s/src\n", '["../src", ".."]'),
        # version_path_separator is for version_locations only: Alembic splits prepend_sys_path the legacy way
        ("prepend_sys_path = . src\nversion_path_separator = os\n", '["..", "../src"]'),
    ],
)
def test_every_prepend_sys_path_folder_is_in_python_path(copy, settings: str, python_path: str) -> None:
    root = copy("src_layout")
    ini = root / "alembic.ini"
    ini.write_text(ini.read_text().replace("prepend_sys_path = . src\npath_separator = space\n", settings))
    result = run("import")
    assert result.exit_code == 0, result.output
    assert f"python_path: {python_path}\n" in (root / "config" / "multidb.yaml").read_text()


def test_a_prepend_sys_path_entry_that_is_no_folder_is_said(copy) -> None:
    root = copy("src_layout")
    ini = root / "alembic.ini"
    ini.write_text(ini.read_text().replace("prepend_sys_path = . src\n", "prepend_sys_path = . lib\n"))
    result = run("import")
    assert result.exit_code == 0, result.output
    assert 'python_path: [".."]\n' in (root / "config" / "multidb.yaml").read_text()
    assert "prepend_sys_path: 'lib' is no folder next to alembic.ini: left out of python_path" in result.output


def test_sections_sharing_one_history_become_one_fleet(copy, tmp_path: Path) -> None:
    root = copy("single")
    sections = ["tenant_a", "tenant_b"]  # alembic -n tenant_a / -n tenant_b, one script_location
    settings = "script_location = migrations\nprepend_sys_path = .\npath_separator = os\n"
    ini = "".join(f"[{s}]\n{settings}sqlalchemy.url = sqlite:///{tmp_path / s}.db\n\n" for s in sections)
    (root / "alembic.ini").write_text(ini)
    for section in sections:
        old_alembic(root / "alembic.ini", "upgrade", "head", section=section)
    result = run("import")
    assert result.exit_code == 0, result.output
    config = (root / "config" / "multidb.yaml").read_text()
    assert 'fleet: {by: url, names: ["${TENANT_A_DATABASE_URL}", "${TENANT_B_DATABASE_URL}"]}' in config
    assert "sections tenant_a, tenant_b share one history" in result.output
    assert str(tmp_path) not in result.output + config  # URLs are never copied, passwords or not
    env = {f"{s.upper()}_DATABASE_URL": f"sqlite:///{tmp_path / s}.db" for s in sections}
    upgraded = run("upgrade", "migrations", env=env)
    assert upgraded.exit_code == 0, upgraded.output
    assert "migrations: 2 targets: 2 no change" in upgraded.output


def test_an_alembic_section_with_its_own_history_is_a_database_too(copy) -> None:
    root = copy("sections")
    ini = root / "alembic.ini"
    # `alembic upgrade` runs [alembic] (its own URL and folder), `alembic -n monitor upgrade` the other one
    text = ini.read_text().replace("[catalog]\n", "")
    text = text.replace("[alembic]\n", "[alembic]\nscript_location = catalog\n", 1)
    text = text.replace("script_location = %(here)s/catalog\n", "")
    ini.write_text(text)
    result = run("import")
    assert result.exit_code == 0, result.output
    config = (root / "config" / "multidb.yaml").read_text()
    assert 'catalog:\n    url: "${CATALOG_DATABASE_URL}"' in config and "monitor:" in config
    assert "export CATALOG_DATABASE_URL=...   # the sqlalchemy.url of [alembic] in alembic.ini" in result.output


def test_flask_migrate_layout_imports(copy, tmp_path: Path) -> None:
    root = copy("flask_single")
    result = run("import")
    assert result.exit_code == 0, result.output
    config = (root / "config" / "multidb.yaml").read_text()
    assert '{label: "flask_single", path: "../migrations/versions"}' in config
    assert "SQLALCHEMY_DATABASE_URI" in result.output
    assert "process_revision_directives -> autogenerate: {process_revision_directives" in result.output
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'flask.db'}"}
    upgraded = run("upgrade", "--all", env=env)
    assert upgraded.exit_code == 0, upgraded.output
    assert "upgraded (3 revisions)" in upgraded.output
    assert set(schema(env["DATABASE_URL"]).tables) == {"notes"}


def test_flask_migrate_multidb_splits_per_bind(copy, tmp_path: Path) -> None:
    root = copy("flask_multidb")
    result = run("import", "--split")  # the default --verify-on: not run, the old env.py needs the Flask app
    assert result.exit_code == 0, result.output
    assert "not replayed: the old env.py needs your Flask app" in result.output
    assert "export DEFAULT_DATABASE_URL=...   # the Flask app's SQLALCHEMY_DATABASE_URI" in result.output
    assert "export STATS_DATABASE_URL=...   # the Flask app's SQLALCHEMY_BINDS['stats']" in result.output
    assert sorted(p.name[:12] for p in (root / "default_versions").glob("*.py")) == ["f10000000001", "f10000000003"]
    assert sorted(p.name[:12] for p in (root / "stats_versions").glob("*.py")) == ["f10000000002", "f10000000003"]
    env = {f"{name}_DATABASE_URL": f"sqlite:///{tmp_path / name}.db" for name in ("DEFAULT", "STATS")}
    upgraded = run("upgrade", "--all", env=env)
    assert upgraded.exit_code == 0, upgraded.output
    assert set(schema(env["DEFAULT_DATABASE_URL"]).tables) == {"accounts"}
    assert set(schema(env["STATS_DATABASE_URL"]).tables) == {"hits"}


def test_import_json_names_variables_and_env_findings_never_values(copy) -> None:
    copy("sections")
    result = run("import", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["shape"] == "sections"
    assert [db["url"] for db in data["databases"]] == ["${CATALOG_DATABASE_URL}", "${MONITOR_DATABASE_URL}"]
    assert {f["what"] for f in data["env"]} >= {"include_object", "compare_type", "search_path on connect"}
    assert SECRET not in result.output


# --- shape (b): the lockstep template, split --------------------------------------------------------------------


def test_a_lockstep_history_needs_split(copy) -> None:
    root = copy("template")
    result = run("import")
    assert result.exit_code == 2
    assert_one_clean_error(result, "a lockstep history", "users, events", "multidb import --split")
    assert not (root / "config").exists()


def test_split_refuses_what_it_cannot_split(copy, tmp_path: Path) -> None:
    single = copy("single")
    result = run("import", "--split")
    assert result.exit_code == 2
    assert_one_clean_error(result, "--split is for a lockstep", "this one is 'single'")
    assert not (single / "config").exists()
    root = copy("template")
    _split(root)
    for path in (root / "users_versions").glob("*.py"):  # users could be written again; events could not
        path.unlink()
    (root / "events_versions" / "t02000000002_events_table.py").write_text("# edited after the split\n")
    before = sorted(p.name for p in root.rglob("*.py"))
    again = run("import", "--split", "--force", "--verify-on", "none")
    assert again.exit_code == 2
    assert_one_clean_error(again, "events_versions already holds revision files")
    assert sorted(p.name for p in root.rglob("*.py")) == before  # nothing written, users included
    assert (root / "events_versions" / "t02000000002_events_table.py").read_text() == "# edited after the split\n"


def _split(root: Path, verify_on: str = "none") -> Result:
    result = run("import", "--split", "--verify-on", verify_on)
    assert result.exit_code == 0, result.output
    return result


def test_split_writes_one_history_per_database(copy) -> None:
    root = copy("template")
    old = {p: p.read_bytes() for p in (root / "migrations").rglob("*.py")}
    result = _split(root)
    users = sorted(p.name[:12] for p in (root / "users_versions").glob("*.py"))
    events = sorted(p.name[:12] for p in (root / "events_versions").glob("*.py"))
    # a revision with nothing for a database (pass, or a docstring only) is left out of its history
    assert users == ["t01000000001", "t03000000003", "t04000000004", "t05000000005", "t07000000007", "t08000000008"]
    assert events == ["t02000000002", "t04000000004", "t06000000006", "t07000000007", "t08000000009", "t10000000011"]
    enum_rev = (root / "users_versions" / "t03000000003_user_status_enum.py").read_text()
    assert 'status = sa.Enum("active", "blocked", name="user_status")' in enum_rev
    assert "postgresql" not in enum_rev  # an import the code does not use is left out
    assert "branch_labels = None" in enum_rev and "down_revision = 't01000000001'" in enum_rev
    audit = (root / "events_versions" / "t07000000007_audit_tables.py").read_text()
    assert "def audit_columns():" in audit and "unused_helper" not in audit
    assert 'op.create_table("event_audit"' in audit and "user_audit" not in audit
    first = (root / "events_versions" / "t02000000002_events_table.py").read_text()
    assert "branch_labels = 'events'" in first and "down_revision = None" in first
    # the merge had nothing for events: the next events revision follows the branch that reached it
    assert "down_revision = 't08000000009'" in (root / "events_versions" / "t10000000011_events_cleanup.py").read_text()
    mapping = json.loads((root / "config" / "import-map.json").read_text())["databases"]
    assert mapping["users"]["t10000000011"] == USERS_HEAD and mapping["events"]["t01000000001"] is None
    assert mapping["events"]["t09000000010"] == "t08000000009" and mapping["users"]["t06000000006"] == "t05000000005"
    assert {p: p.read_bytes() for p in (root / "migrations").rglob("*.py")} == old
    assert SECRET not in result.output + (root / "config" / "multidb.yaml").read_text()
    assert "export USERS_DATABASE_URL=...   # the sqlalchemy.url of [users] in alembic.ini" in result.output


def test_split_verification_replays_both_histories(copy, pg_database) -> None:
    root = copy("template")
    result = _split(root, "sqlite,postgresql")
    for name in ("users", "events"):
        for dialect in ("sqlite", "postgresql"):
            assert re.search(rf"^{name}\s+{dialect}\s+same$", result.output, re.MULTILINE), result.output


def test_split_verification_reports_a_difference(copy) -> None:
    root = copy("template")
    # the old history creates this column; the split file of users will not (edited before the replay)
    path = root / "migrations" / "versions" / "t08000000008_users_email.py"
    assert run("import", "--split", "--verify-on", "none").exit_code == 0
    new = root / "users_versions" / path.name
    new.write_text(new.read_text().replace('sa.Column("email", sa.String(120))', 'sa.Column("mail", sa.String(120))'))
    from multidb.importing import source, verify

    found = verify.verify(source.read_project(root), root / "config" / "multidb.yaml", ("sqlite",))
    users = next(c for c in found if c.database == "users")
    assert not users.same and any("email" in d for d in users.differences), users
    assert next(c for c in found if c.database == "events").same


@pytest.mark.parametrize("urls", ["sqlite", "postgresql"], indirect=True)
def test_split_histories_pass_the_plugins_checks(copy, urls) -> None:
    from multidb.config import load_config
    from multidb.testing import checks

    root = copy("template")
    _split(root)

    def fresh(make: Callable[[str], str] = urls):  # each check wants empty databases
        env = {f"{name.upper()}_DATABASE_URL": make(name) for name in ("users", "events")}
        return load_config(root / "config" / "multidb.yaml", None, env)

    counter = iter(range(100))

    def sqlite_url(name: str) -> str:
        return f"sqlite:///{root / name}-{next(counter)}.db"

    for name in ("users", "events"):
        checks.check_single_head(fresh(), name)
        assert checks.check_stairway(fresh(), name) == 6
        checks.check_clean_downgrade(fresh(), name)
        sql = checks.check_offline(fresh(), name, "postgresql://")
        assert ("CREATE TYPE user_status" in sql) == (name == "users")
        if fresh().databases[name].dialect == "postgresql":
            checks.check_parity(fresh(sqlite_url), fresh(), name)


# --- --stamp: live databases onto the split histories ----------------------------------------------------------

OLD_TARGETS = ["t01000000001", "t03000000003", "t06000000006", "t08000000009", "t09000000010", "t10000000011"]


@pytest.mark.parametrize("urls", ["sqlite", "postgresql"], indirect=True)
def test_databases_at_any_old_revision_stamp_and_reach_the_clean_schema(copy, urls) -> None:
    root = copy("template")
    _split(root)
    ini = root / "alembic.ini"
    clean = {"USERS_DATABASE_URL": urls("users"), "EVENTS_DATABASE_URL": urls("events")}
    assert run("upgrade", "--all", env=clean).exit_code == 0
    expected = {k: (schema(u), enums(u)) for k, u in clean.items()}
    seeded = rows(clean["USERS_DATABASE_URL"], "SELECT name FROM users ORDER BY name")
    assert seeded == [("admin",), ("guest",)]
    for target in OLD_TARGETS:
        env = {"USERS_DATABASE_URL": urls("users"), "EVENTS_DATABASE_URL": urls("events")}
        point_ini(ini, {"users": env["USERS_DATABASE_URL"], "events": env["EVENTS_DATABASE_URL"]})
        old_alembic(ini, "upgrade", target)
        stamped = run("import", "--stamp", env=env)
        assert stamped.exit_code == 0, stamped.output
        mapping = json.loads((root / "config" / "import-map.json").read_text())["databases"]
        for name in ("users", "events"):
            version = rows(env[f"{name.upper()}_DATABASE_URL"], "SELECT version_num FROM alembic_version")
            assert version == ([(mapping[name][target],)] if mapping[name][target] else []), (target, name)
        upgraded = run("upgrade", "--all", env=env)
        assert upgraded.exit_code == 0, (target, upgraded.output)
        if target == OLD_TARGETS[-1]:  # the old setup's head: nothing left to do
            assert upgraded.output.count("no change") == 2, upgraded.output
        assert {k: (schema(u), enums(u)) for k, u in env.items()} == expected, target
        assert rows(env["USERS_DATABASE_URL"], "SELECT name FROM users ORDER BY name") == seeded, target


def _split_with_old_sqlite_at(root: Path, tmp_path: Path, target: str) -> dict[str, str]:
    """The template split, and its two SQLite databases taken to ``target`` by the old setup: their URL variables."""
    _split(root)
    env = {f"{name.upper()}_DATABASE_URL": f"sqlite:///{tmp_path / name}.db" for name in ("users", "events")}
    point_ini(root / "alembic.ini", {"users": env["USERS_DATABASE_URL"], "events": env["EVENTS_DATABASE_URL"]})
    old_alembic(root / "alembic.ini", "upgrade", target)
    return env


def test_stamp_refuses_a_database_not_at_a_revision_of_the_old_history(copy, tmp_path: Path) -> None:
    env = _split_with_old_sqlite_at(copy("template"), tmp_path, "t03000000003")
    engine = sa.create_engine(env["USERS_DATABASE_URL"])
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'feedface0001'")
    engine.dispose()
    result = run("import", "--stamp", env=env)
    assert result.exit_code == 1
    assert_one_clean_error(result, "users: ", "revision feedface0001", "old history does not hold")
    assert rows(env["USERS_DATABASE_URL"], "SELECT version_num FROM alembic_version") == [("feedface0001",)]
    assert rows(env["EVENTS_DATABASE_URL"], "SELECT version_num FROM alembic_version") == [("t03000000003",)]


def test_stamp_twice_changes_nothing_the_second_time(copy, tmp_path: Path) -> None:
    env = _split_with_old_sqlite_at(copy("template"), tmp_path, "t06000000006")
    first = run("import", "--stamp", env=env)
    assert re.search(r"^users\s+t06000000006\s+t05000000005\s+stamped$", first.output, re.MULTILINE), first.output
    second = run("import", "--stamp", env=env)
    assert re.search(r"^users\s+t05000000005\s+t05000000005\s+already there$", second.output, re.MULTILINE)
    assert re.search(r"^events\s+t06000000006\s+t06000000006\s+already there$", second.output, re.MULTILINE)


def test_stamp_on_a_protected_profile_needs_yes(copy, tmp_path: Path) -> None:
    root = copy("template")
    env = _split_with_old_sqlite_at(root, tmp_path, "t06000000006")
    with (root / "config" / "multidb.yaml").open("a") as f:
        f.write("profiles:\n  production: {protected: true}\n")
    refused = run("import", "--stamp", "-p", "production", env=env)
    assert refused.exit_code == 2
    assert_one_clean_error(refused, "profile 'production' is protected", "--yes")
    assert rows(env["USERS_DATABASE_URL"], "SELECT version_num FROM alembic_version") == [("t06000000006",)]
    stamped = run("import", "--stamp", "-p", "production", "--yes", env=env)
    assert stamped.exit_code == 0, stamped.output
    assert rows(env["USERS_DATABASE_URL"], "SELECT version_num FROM alembic_version") == [("t05000000005",)]


def test_split_keeps_what_the_code_uses_and_nothing_else(tmp_path: Path) -> None:
    from multidb.importing.split import read_history, split

    old = tmp_path / "versions"
    old.mkdir()
    (old / "a1_first.py").write_text(
        '''"""first"""
from __future__ import annotations

import functools
import json
from sqlalchemy import *  # noqa: F403
from alembic import op

revision = "a1"
down_revision = None

TABLE = "things"


def name_of(suffix):
    return f"{TABLE}_{suffix}"


@functools.cache
def columns():
    return [Column("id", Integer, primary_key=True)]  # noqa: F405


def upgrade_one():
    op.create_table(name_of("one"), *columns())


def downgrade_one():
    op.drop_table(name_of("one"))


def upgrade_two():
    """nothing"""


def downgrade_two():
    pass
'''
    )
    result = split(read_history(old), {"one": "one", "two": "two"}, tmp_path, "versions")
    assert result.written == {"one": ["a1"], "two": []}
    assert result.mapping == {"one": {"a1": "a1"}, "two": {"a1": None}}
    text = (tmp_path / "one_versions" / "a1_first.py").read_text()
    for kept in (
        "from __future__ import annotations",
        "import functools",
        "from sqlalchemy import *",
        "TABLE = ",
        "def name_of",
        "@functools.cache",
        "def upgrade():",
        "def downgrade():",
    ):
        assert kept in text, kept
    assert "import json" not in text and "upgrade_two" not in text
    compile(text, "a1_first.py", "exec")


def test_target_metadata_is_read_when_env_py_says_it_plainly(tmp_path: Path) -> None:
    from multidb.importing.envscan import target_metadata

    env = tmp_path / "env.py"
    cases = {
        "from app.models import Base\ntarget_metadata = Base.metadata\n": {None: "app.models:Base.metadata"},
        "import app.db as db\ntarget_metadata = db.metadata\n": {None: "app.db:metadata"},
        "import app.users, app.events\nimport app.users as u\nimport app.events as e\n"
        'target_metadata = {"users": u.metadata, "events": e.Base.metadata, "other": None}\n': {
            "users": "app.users:metadata",
            "events": "app.events:Base.metadata",
        },
        "from flask import current_app\ntarget_metadata = current_app.extensions['migrate'].db.metadata\n": {},
        "target_metadata = None\n": {},
    }
    for text, expected in cases.items():
        env.write_text(text)
        assert target_metadata(env) == expected, text


def test_an_old_history_that_cannot_replay_is_one_error(copy) -> None:
    root = copy("template")
    (root / "migrations" / "env.py").write_text('raise RuntimeError("the old env.py is broken")\n')
    result = run("import", "--split")
    assert result.exit_code == 1
    assert_one_clean_error(
        result, "the old history failed to replay from empty with alembic", "the old env.py is broken"
    )
    assert (root / "config" / "import-map.json").is_file()  # the split is written; only the comparison is missing


def test_the_env_py_scan_names_the_setting_for_each_customization(tmp_path: Path) -> None:
    from multidb.importing.envscan import scan

    env = tmp_path / "env.py"
    env.write_text(
        "def set_role(conn):\n"
        '    conn.exec_driver_sql("SET ROLE migrator")\n'
        "# compare_type in a comment does not count\n"
        "context.configure(connection=c, on_version_apply=log, include_name=keep, process_revision_directives=skip)\n"
        'tenant = context.get_x_argument(as_dictionary=True).get("tenant")\n'
        "asyncio.run(run_async())\n"
    )
    found = {f.what: (f.line, f.replacement) for f in scan(env)}
    assert found["SET ROLE on connect"] == (2, "hooks: {on_connect: module:function} (called with the connection)")
    assert found["on_version_apply"][1] == "hooks: {after_each_revision: module:function}"
    assert found["-x arguments"][0] == 5 and found["an async engine"][0] == 6
    assert "compare_type" not in found
    env.write_text("target_metadata = None\n")  # the default env.py: nothing to carry over
    assert scan(env) == []


def test_the_env_py_scan_names_a_sys_path_change(tmp_path: Path) -> None:
    """An env.py that puts a folder on sys.path itself: import cannot tell which folder, so it says to add it."""
    from multidb.importing.envscan import scan

    env = tmp_path / "env.py"
    for line in (
        'sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))',
        "sys.path.append(str(Path(__file__).parents[1] / 'src'))",
        'site.addsitedir("src")',
        'sys.path[:0] = ["src"]',
    ):
        env.write_text(f"import sys\n{line}\nfrom notes_app.models import Base\n")
        found = {f.what: (f.line, f.replacement) for f in scan(env)}
        assert found["sys.path changed in env.py"] == (
            2,
            "python_path: [folder, ...] at the top of the config (relative to the config's folder)",
        ), line
    env.write_text("import sys\nprint(sys.path)\n")  # only reading it
    assert scan(env) == []


# --- script_location as a package resource (``mypkg:migrations``) -----------------------------------------------


def _as_package_resource(root: Path, ini_settings: str) -> None:
    """The single fixture with its history moved into the ``notes_app`` package, the ini naming it as a resource."""
    shutil.move(root / "migrations", root / "notes_app" / "migrations")
    text = (root / "alembic.ini").read_text().replace("script_location = migrations\n", ini_settings)
    (root / "alembic.ini").write_text(text)


def test_a_package_resource_script_location_is_resolved_through_prepend_sys_path(copy, tmp_path: Path) -> None:
    root = copy("single")
    # Alembic's template: prepend_sys_path = . makes the project's packages importable
    _as_package_resource(root, "script_location = notes_app:migrations\n")
    result = run("import")
    assert result.exit_code == 0, result.output
    config = (root / "config" / "multidb.yaml").read_text()
    assert '{label: "single", path: "../notes_app/migrations/versions"}' in config
    assert 'metadata: "notes_app.models:Base.metadata"' in config  # env.py was found in the package's folder
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'notes.db'}"}
    upgraded = run("upgrade", "--all", env=env)
    assert upgraded.exit_code == 0, upgraded.output
    assert "upgraded (3 revisions)" in upgraded.output


def test_a_package_resource_in_a_src_layout_is_found_whatever_version_path_separator_says(copy) -> None:
    root = copy("src_layout")
    shutil.move(root / "migrations", root / "src" / "notes_app" / "migrations")
    ini = root / "alembic.ini"
    text = ini.read_text().replace("script_location = migrations\n", "script_location = notes_app:migrations\n")
    # Alembic's older template: version_path_separator = os, which Alembic never applies to prepend_sys_path
    ini.write_text(text.replace("path_separator = space\n", "version_path_separator = os\n"))
    result = run("import")
    assert result.exit_code == 0, result.output
    config = (root / "config" / "multidb.yaml").read_text()
    assert '{label: "src_layout", path: "../src/notes_app/migrations/versions"}' in config
    assert 'python_path: ["..", "../src"]' in config


def test_a_package_resource_is_found_on_the_python_path(copy, tmp_path: Path, monkeypatch) -> None:
    root = copy("single")
    # an installed package: outside the project, importable through sys.path only
    library = tmp_path / "site"
    library.mkdir()
    (library / "notes_lib").mkdir()
    (library / "notes_lib" / "__init__.py").write_text("")
    shutil.move(root / "migrations", library / "notes_lib" / "migrations")
    text = (root / "alembic.ini").read_text().replace("prepend_sys_path = .\npath_separator = os\n", "")
    location = "script_location = notes_lib:migrations\nversion_locations = notes_lib:migrations/versions\n"
    (root / "alembic.ini").write_text(text.replace("script_location = migrations\n", location))
    monkeypatch.syspath_prepend(str(library))
    result = run("import")
    assert result.exit_code == 0, result.output
    config = (root / "config" / "multidb.yaml").read_text()
    assert '{label: "single", path: "../../site/notes_lib/migrations/versions"}' in config


def test_a_package_resource_whose_package_is_missing_is_one_error(copy) -> None:
    root = copy("single")
    _as_package_resource(root, "script_location = no_such_package_here:migrations\n")
    result = run("import")
    assert result.exit_code == 2
    assert_one_clean_error(result, "alembic.ini", "package 'no_such_package_here' not found", "prepend_sys_path")
    assert not (root / "config").exists()


# --- pyproject.toml's [tool.alembic] (Alembic 1.16+, tests/import_projects/pyproject/) ---------------------------

ALEMBIC_READS_PYPROJECT = tuple(int(p) for p in alembic_version.split(".")[:2]) >= (1, 16)


def old_alembic_process(root: Path, *args: str) -> None:
    """The old setup from the project's folder, where Alembic finds pyproject.toml (its own process: the
    relative "." of prepend_sys_path must not find an earlier test's notes_app). An Alembic before 1.16 (CI's
    oldest versions) reads only the ini: it gets one beside the project with [tool.alembic]'s settings in
    each database's section, so that the reference database is still Alembic's own."""
    if not ALEMBIC_READS_PYPROJECT:
        settings = (
            f"script_location = {root / 'migrations'}\n"
            f"version_locations = {root / 'migrations' / 'versions'}\n"
            f"prepend_sys_path = {root} {root / 'src'}\n"
        )
        lines = (root / "alembic.ini").read_text().splitlines(keepends=True)
        ini = root.parent / "alembic-before-1.16.ini"
        ini.write_text("".join(line + (settings if line.startswith("sqlalchemy.url") else "") for line in lines))
        args = ("-c", str(ini), *args)
    old = process(root, "-c", "from alembic.config import main; main()", *args)
    assert old.returncode == 0, old.stderr


def test_import_reads_the_settings_of_pyproject_toml(copy, tmp_path: Path) -> None:
    """alembic.ini holds the URL and logging only: script_location, version_locations, prepend_sys_path (TOML
    lists), file_template and post_write_hooks come from [tool.alembic], with %(here)s and %% as Alembic reads
    them. Whatever Alembic is installed: import reads the TOML itself."""
    root = copy("pyproject")
    result = run("import")
    assert result.exit_code == 0, result.output
    config = (root / "config" / "multidb.yaml").read_text()
    assert '{label: "pyproject", path: "../migrations/versions"}' in config
    assert 'python_path: ["..", "../src"]' in config  # prepend_sys_path = [".", "src"], in Alembic's order
    assert 'metadata: "notes_app.models:Base.metadata"' in config
    assert 'post_write_hooks: ["ruff format"]' in config
    assert "file_template (%(year)d_%(month).2d_%(day).2d-%(rev)s_%(slug)s) is not carried over" in result.output
    assert "from ../alembic.ini and ../pyproject.toml (shape: single)" in config
    assert "export DATABASE_URL=...   # the sqlalchemy.url of [alembic] in alembic.ini" in result.output
    assert SECRET not in result.output + config
    # the models import through the python_path read from the TOML: the naming convention names the constraints
    url = f"sqlite:///{tmp_path / 'new.db'}"
    upgraded = run("upgrade", "--all", env={"DATABASE_URL": url})
    assert upgraded.exit_code == 0, upgraded.output
    assert "upgraded (2 revisions)" in upgraded.output
    assert {u.name for u in schema(url).tables["notes"].uniques} == {"uq_notes_title"}


@pytest.mark.parametrize("urls", ["sqlite", "postgresql"], indirect=True)
def test_a_pyproject_project_upgrades_as_alembic_does(copy, urls) -> None:
    root = copy("pyproject")
    old_url, new_url = urls("old"), urls("new")
    point_ini(root / "alembic.ini", {"alembic": old_url})
    old_alembic_process(root, "upgrade", "head")
    imported = run("import")
    assert imported.exit_code == 0, imported.output
    upgraded = run("upgrade", "--all", env={"DATABASE_URL": new_url})
    assert upgraded.exit_code == 0, upgraded.output
    assert "upgraded (2 revisions)" in upgraded.output
    assert schema(new_url) == schema(old_url)
    versions = "SELECT version_num FROM alembic_version"
    assert rows(new_url, versions) == rows(old_url, versions) == [("8c0000000002",)]
    # the database Alembic brought to head needs nothing under the imported config
    status = run("status", "--all", "--check", env={"DATABASE_URL": old_url})
    assert status.exit_code == 0, status.output


def test_ini_sections_take_their_history_from_pyproject(copy, tmp_path: Path) -> None:
    """``alembic -n tenant_a upgrade head``: the section gives the URL, [tool.alembic] the rest (Alembic reads an
    option from the ini's section first, then from the TOML): the sections share one history, a fleet."""
    root = copy("pyproject")
    sections = ["tenant_a", "tenant_b"]
    made = {s: f"sqlite:///{tmp_path / s}.db" for s in sections}
    ini = root / "alembic.ini"
    text = ini.read_text().replace("[alembic]\n", "".join(f"[{s}]\nsqlalchemy.url = {u}\n\n" for s, u in made.items()))
    ini.write_text(text.replace("sqlalchemy.url = postgresql://app:hunter2-ini-secret@db.invalid/notes\n", ""))
    for section in sections:
        old_alembic_process(root, "-n", section, "upgrade", "head")
    result = run("import")
    assert result.exit_code == 0, result.output
    config = (root / "config" / "multidb.yaml").read_text()
    assert 'fleet: {by: url, names: ["${TENANT_A_DATABASE_URL}", "${TENANT_B_DATABASE_URL}"]}' in config
    assert '{label: "tenant_a", path: "../migrations/versions"}' in config
    assert 'python_path: ["..", "../src"]' in config
    env = {f"{s.upper()}_DATABASE_URL": u for s, u in made.items()}
    schemas = {s: schema(u) for s, u in made.items()}
    upgraded = run("upgrade", "migrations", env=env)
    assert upgraded.exit_code == 0, upgraded.output
    assert "migrations: 2 targets: 2 no change" in upgraded.output
    assert {s: schema(u) for s, u in made.items()} == schemas
    fresh = {f"{s.upper()}_DATABASE_URL": f"sqlite:///{tmp_path / s}-new.db" for s in sections}
    assert run("upgrade", "migrations", env=fresh).exit_code == 0
    assert all(schema(u) == schemas["tenant_a"] for u in fresh.values())


HOOKS_SECTION = (
    "[post_write_hooks]\nhooks = black\nblack.type = console_scripts\nblack.entrypoint = black\n"
    "black.options = -l 79 REVISION_SCRIPT_FILENAME\n\n"
)


@pytest.mark.parametrize(
    ("section", "options", "expected", "gone"),
    [
        # an option of the ini's section wins over [tool.alembic]'s
        ("", "prepend_sys_path = src\npath_separator = os\n", 'python_path: ["../src", ".."]', None),
        # an ini [post_write_hooks] section replaces the TOML's hooks as a whole
        (HOOKS_SECTION, "", 'post_write_hooks: ["black -l 79"]', "ruff"),
    ],
    ids=["ini-option", "ini-hooks"],
)
def test_the_ini_wins_over_pyproject_as_in_alembic(copy, section: str, options: str, expected: str, gone) -> None:
    root = copy("pyproject")
    ini = root / "alembic.ini"
    ini.write_text(section + ini.read_text().replace("[alembic]\n", f"[alembic]\n{options}", 1))
    result = run("import")
    assert result.exit_code == 0, result.output
    config = (root / "config" / "multidb.yaml").read_text()
    assert expected + "\n" in config
    assert gone is None or gone not in config


def test_a_pyproject_project_without_alembic_ini_imports(copy, tmp_path: Path) -> None:
    root = copy("pyproject")
    (root / "alembic.ini").unlink()
    result = run("import")
    assert result.exit_code == 0, result.output
    config = (root / "config" / "multidb.yaml").read_text()
    assert '{label: "pyproject", path: "../migrations/versions"}' in config
    assert "from ../pyproject.toml (shape: single)" in config
    assert "export DATABASE_URL=...   # the URL of database 'pyproject'" in result.output
    url = f"sqlite:///{tmp_path / 'new.db'}"
    upgraded = run("upgrade", "--all", env={"DATABASE_URL": url})
    assert upgraded.exit_code == 0, upgraded.output


def test_a_pyproject_toml_without_tool_alembic_changes_nothing(copy) -> None:
    root = copy("single")
    result = run("import")
    assert result.exit_code == 0, result.output
    before = (root / "config" / "multidb.yaml").read_text()
    (root / "pyproject.toml").write_text('[project]\nname = "notes"\n\n[tool.ruff]\nline-length = 100\n')
    again = run("import", "--force")
    assert again.exit_code == 0, again.output
    assert (root / "config" / "multidb.yaml").read_text() == before


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('[tool.alembic]\nscript_location = "%(here)s/migrations\n', ("cannot be read as TOML", "line 2")),
        ('[tool]\nalembic = "migrations"\n', ("[tool.alembic] is not a table",)),
        (
            '[tool.alembic]\nscript_location = "%(here)s/migrations"\nprepend_sys_path = "src"\n',
            ("[tool.alembic] prepend_sys_path", "a list of strings"),
        ),
        ('[tool.alembic]\nscript_location = "%(root)s/migrations"\n', ("[tool.alembic] script_location", "%(root)s")),
    ],
    ids=["syntax", "not-a-table", "not-a-list", "unknown-token"],
)
def test_a_pyproject_toml_that_cannot_be_read_is_one_error(copy, text: str, fragments: tuple[str, ...]) -> None:
    root = copy("pyproject")
    (root / "pyproject.toml").write_text(text)
    result = run("import")
    assert result.exit_code == 2, result.output
    assert_one_clean_error(result, "pyproject.toml", *fragments)
    assert not (root / "config").exists()


def test_a_broken_pyproject_toml_next_to_a_full_alembic_ini_is_one_error(copy) -> None:
    """Alembic 1.16+ reads pyproject.toml beside alembic.ini for any option the ini lacks: a broken one breaks it."""
    root = copy("single")
    (root / "pyproject.toml").write_text("[project\nname = 'notes'\n")
    result = run("import")
    assert result.exit_code == 2, result.output
    assert_one_clean_error(result, "pyproject.toml: cannot be read as TOML")

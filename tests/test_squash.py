"""``multidb squash``: the example catalog squashed up to its 4th revision, on copies of the example project.

The baseline keeps the id of c1a0f0a1b004 and replaces 001..004; a fresh upgrade of the squashed copy must
give the schema and the reference rows of the unsquashed history, and a database already at head must have
nothing to do. The refusals change nothing. A small project of its own covers what autogenerate cannot
see (PostgreSQL extensions, enums, sequences, explicit ids) and a dialect that needs a section of its own.
"""

from __future__ import annotations

import ast
import contextlib
import json
import shutil
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from assertions import assert_one_clean_error, forget_test_modules
from conftest import EXAMPLE_PARTS, ROOT

from multidb.testing import parity

from example_project import CATALOG_HEAD, CATALOG_REVS, MONITOR_HEAD, SEEDED_LOCATIONS

pytest_plugins = ["pytester"]

REV = CATALOG_REVS[3]  # seeds the two reference locations
BASELINE = f"{REV}_squashed_baseline.py"
MESSAGES = [
    "create locations, holdings, files",
    "create transactions, tags, holding_tags",
    "add files.checksum_algorithm and index on files.holding_id",
    "seed reference locations, backfill files.checksum_algorithm",
]


def folder_contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.py"))}


def module_constants(path: Path) -> dict[str, object]:
    """The module-level ``NAME = literal`` assignments of a revision file."""
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            with contextlib.suppress(ValueError):  # e.g. revision: str = ... stays out
                found[node.targets[0].id] = ast.literal_eval(node.value)
    return found


def plain_copy(tmp_path: Path, name: str = "plain") -> Path:
    target = tmp_path / name
    for part in EXAMPLE_PARTS:
        shutil.copytree(ROOT / part, target / part, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def state(url: str) -> tuple[parity.Snapshot, list[tuple]]:
    """The catalog's schema (bookkeeping left out) and its locations (name, medium)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            snapshot = parity.snapshot(conn, exclude=[n for n in names if n.startswith("alembic_version")])
            rows = conn.execute(sa.text("SELECT name, medium FROM locations ORDER BY id")).all()
    finally:
        engine.dispose()
    return snapshot, [tuple(r) for r in rows]


def squash(cli, *args: str):
    return cli("squash", "catalog", "--to", REV, *args)


# --- SQLite ---------------------------------------------------------------------------------


def test_the_baseline_keeps_the_id_replaces_the_first_four_and_upgrades_like_the_old_history(cli, project, tmp_path):
    later = {name: data for name, data in folder_contents(project / "catalog_versions").items() if name[:12] > REV}
    result = squash(cli, "--dialects", "sqlite")
    assert result.exit_code == 0, result.output
    assert "sqlite: equal" in result.output
    assert "tables 6 equal" in result.output and "rows 2 equal" in result.output
    assert f"squashed 4 revisions into catalog_versions/{BASELINE}" in result.output

    files = folder_contents(project / "catalog_versions")
    assert sorted(files) == [BASELINE, *sorted(later)]
    assert all(files[name] == data for name, data in later.items())  # the children still revise REV
    constants = module_constants(project / "catalog_versions" / BASELINE)
    assert constants["revision"] == REV
    assert constants["down_revision"] is None
    assert constants["branch_labels"] == ("catalog",)
    assert constants["multidb_squashed"] == dict(zip(CATALOG_REVS[:4], MESSAGES, strict=True))
    assert list(constants["multidb_squashed"]) == CATALOG_REVS[:4]  # oldest first
    assert "phase" not in constants  # c1a0f0a1b004 has none

    upgraded = cli("upgrade", "--all")
    assert upgraded.exit_code == 0, upgraded.output
    plain = plain_copy(tmp_path)
    assert cli("-c", str(plain / "config" / "multidb.yaml"), "upgrade", "--all").exit_code == 0
    squashed_state = state(f"sqlite:///{project / 'var' / 'catalog.db'}")
    plain_state = state(f"sqlite:///{plain / 'var' / 'catalog.db'}")
    sides = parity.Sides("squashed", "unsquashed")
    assert parity.compare(squashed_state[0], plain_state[0], sides, exact=True) == []
    assert squashed_state[1] == plain_state[1]
    assert set(squashed_state[1]) == SEEDED_LOCATIONS


def test_a_database_at_head_before_the_squash_has_nothing_to_do_after_it(cli, project):
    assert cli("upgrade", "--all").exit_code == 0
    assert squash(cli, "--dialects", "sqlite").exit_code == 0
    again = cli("upgrade", "--all")
    assert again.exit_code == 0, again.output
    assert "no change" in again.output and "upgraded" not in again.output
    status = cli("status", "catalog", "--json")
    assert json.loads(status.output)[0]["current"] == [CATALOG_HEAD]


def test_a_database_at_the_squashed_revision_upgrades_through_the_revisions_after_it(cli, project):
    assert cli("upgrade", "catalog", "--to", REV).exit_code == 0
    assert squash(cli, "--dialects", "sqlite").exit_code == 0
    # the ledger reads the baseline's record: 001..003 are squashed, not deleted, and 004 not edited
    again = cli("upgrade", "catalog")
    assert again.exit_code == 0, again.output
    assert "warning" not in again.output
    assert f"{REV}  {CATALOG_HEAD}  upgraded (3 revisions)" in again.output


def test_a_phase_marker_of_the_last_squashed_revision_is_kept(cli, project):
    result = cli("squash", "catalog", "--to", CATALOG_REVS[4], "--dialects", "sqlite")
    assert result.exit_code == 0, result.output
    constants = module_constants(project / "catalog_versions" / f"{CATALOG_REVS[4]}{BASELINE[12:]}")
    assert constants["phase"] == "expand"
    assert list(constants["multidb_squashed"]) == CATALOG_REVS[:5]


def test_a_history_whose_first_revision_has_no_label_gets_the_base_label_of_the_config(cli, project):
    first = next((project / "catalog_versions").glob(f"{CATALOG_REVS[0]}_*.py"))
    assert 'branch_labels = ("catalog",)' in first.read_text()
    first.write_text(first.read_text().replace('branch_labels = ("catalog",)', "branch_labels = None"))
    assert squash(cli, "--dialects", "sqlite").exit_code == 0
    assert module_constants(project / "catalog_versions" / BASELINE)["branch_labels"] == ("catalog",)


def test_a_baseline_squashed_again_keeps_the_record_of_what_it_had_replaced(cli, project):
    assert squash(cli, "--dialects", "sqlite").exit_code == 0
    again = cli("squash", "catalog", "--to", CATALOG_REVS[5], "--dialects", "sqlite")
    assert again.exit_code == 0, again.output
    files = sorted(folder_contents(project / "catalog_versions"))
    assert files == [f"{CATALOG_REVS[5]}{BASELINE[12:]}", next(n for n in files if n.startswith(CATALOG_HEAD))]
    record = module_constants(project / "catalog_versions" / files[0])["multidb_squashed"]
    assert list(record) == CATALOG_REVS[:6]
    assert record[REV] == MESSAGES[3]  # the original message, not the baseline's docstring
    assert cli("upgrade", "--all").exit_code == 0


def test_dry_run_prints_the_baseline_and_the_comparison_and_changes_nothing(cli, project):
    before = folder_contents(project / "catalog_versions")
    result = squash(cli, "--dialects", "sqlite", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "multidb_squashed = {" in result.output
    assert f'revision = "{REV}"' in result.output and "down_revision = None" in result.output
    assert "op.bulk_insert(" in result.output and "'primary-disk'" in result.output
    assert "sqlite: equal" in result.output
    assert "dry run: would remove 4 revision files" in result.output
    assert folder_contents(project / "catalog_versions") == before


def test_json_reports_the_replaced_revisions_and_each_dialects_comparison(cli, project):
    result = squash(cli, "--dialects", "sqlite", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["verified"] is True and data["written"] is True
    assert list(data["replaced"]) == CATALOG_REVS[:4]
    assert [Path(p).name[:12] for p in data["removed"]] == CATALOG_REVS[:4]
    (check,) = data["checks"]
    assert check["dialect"] == "sqlite" and check["equal"] is True and check["own_section"] is False
    counts = {c["name"]: (c["count"], c["differences"]) for c in check["categories"]}
    assert counts["tables"] == (6, []) and counts["rows"] == (2, [])


def test_the_dialects_default_to_the_plugin_setting_of_the_project(cli, project):
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\nmultidb_dialects = "sqlite"\n')
    result = squash(cli, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "sqlite: equal" in result.output and "postgresql" not in result.output.split("multidb_squashed")[-1]


def test_a_dialect_whose_driver_is_not_installed_is_one_line_and_changes_nothing(cli, project, monkeypatch):
    """A plain install (no test extra) has no MySQL driver, while the project's tests name mariadb."""
    from assertions import assert_one_clean_error

    monkeypatch.setenv("MULTIDB_TEST_MARIADB_URL", "mysql+mysqlconnector://root@127.0.0.1:3306/")  # not installed
    before = folder_contents(project / "catalog_versions")
    result = squash(cli, "--dialects", "sqlite,mariadb")
    assert result.exit_code == 1
    assert_one_clean_error(
        result, "cannot verify the squash on mariadb", "mysql+mysqlconnector driver is not installed"
    )
    assert "--dialects" in result.stderr
    assert folder_contents(project / "catalog_versions") == before


# --- refusals: exit 2, one line, nothing changed ----------------------------------------------

BRANCH = '''"""{doc}"""
revision = "{rev}"
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = {depends!r}


def upgrade():
    pass


def downgrade():
    pass
'''


def add_revision(project: Path, rev: str, down, labels=None, depends=None, doc="extra") -> None:
    text = BRANCH.format(doc=doc, rev=rev, down=down, labels=labels, depends=depends)
    (project / "catalog_versions" / f"{rev}_extra.py").write_text(text)


@pytest.mark.parametrize(
    ("setup", "target", "fragment"),
    [
        (None, "nope", "--to nope"),
        (None, CATALOG_REVS[0], "is the first revision of its base; there is nothing to squash"),
        (
            lambda p: add_revision(p, "aaaaaaaaaaa1", CATALOG_REVS[1]),
            REV,
            f"revision aaaaaaaaaaa1 revises {CATALOG_REVS[1]}, which the squash would remove",
        ),
        (
            lambda p: (
                add_revision(p, "aaaaaaaaaaa1", None, ("other",))
                or add_revision(p, "aaaaaaaaaaa2", CATALOG_HEAD, depends=CATALOG_REVS[2])
            ),
            REV,
            f"revision aaaaaaaaaaa2 depends on {CATALOG_REVS[2]}, which the squash would remove",
        ),
        (
            lambda p: (
                add_revision(p, "aaaaaaaaaaa1", CATALOG_REVS[1])
                or add_revision(p, "aaaaaaaaaaa2", (CATALOG_REVS[2], "aaaaaaaaaaa1"))
            ),
            "aaaaaaaaaaa2",
            "aaaaaaaaaaa2 is a merge point",
        ),
        (
            lambda p: (
                add_revision(p, "aaaaaaaaaaa1", None, ("other",))
                or add_revision(p, "aaaaaaaaaaa2", CATALOG_HEAD, depends="aaaaaaaaaaa1")
            ),
            "aaaaaaaaaaa2",
            "has ancestors on several bases (aaaaaaaaaaa1, c1a0f0a1b001)",
        ),
        (
            lambda p: shutil.copy(
                next((p / "catalog_versions").glob(f"{REV}_*.py")), p / "catalog_versions" / f"{REV}_copy.py"
            ),
            REV,
            "two revision files share an id",
        ),
    ],
    ids=["unknown", "first", "revises-squashed", "depends-on-squashed", "merge", "several-bases", "twice"],
)
def test_what_cannot_become_one_baseline_is_refused_and_nothing_changes(cli, project, setup, target, fragment):
    if setup is not None:
        setup(project)
    before = folder_contents(project / "catalog_versions")
    result = cli("squash", "catalog", "--to", target, "--dialects", "sqlite")
    assert result.exit_code == 2, result.output
    assert_one_clean_error(result, fragment, nothing_else=True)
    assert folder_contents(project / "catalog_versions") == before


def test_sqlites_autoincrement_is_carried_over_so_ids_are_never_reused(tmp_path, monkeypatch):
    project = write_project(tmp_path, "sqlite:///../app.db", AUTOINCREMENT_HISTORY)
    result = run_cli(project, monkeypatch, "squash", "app", "--to", "b2", "--dialects", "sqlite")
    assert result.exit_code == 0, result.output
    assert "rows 1 equal, next ids 1 equal" in result.output  # SQLite's sqlite_sequence: the next id is 6
    assert "sqlite_autoincrement=True" in (project / "versions" / "b2_squashed_baseline.py").read_text()


@pytest.mark.postgresql
def test_a_baseline_that_differs_from_the_old_history_changes_nothing_and_exits_1(tmp_path, monkeypatch):
    # the reference rows come from one replay (PostgreSQL's): a row the history inserts on SQLite only is
    # missing from the baseline there, which the comparison of rows reports
    history = [
        AUTOINCREMENT_HISTORY[0],
        (
            "b2",
            "b1",
            "a row on SQLite only",
            """    if op.get_context().dialect.name == "sqlite":
        op.execute("INSERT INTO things (id, name) VALUES (5, 'five')")""",
        ),
    ]
    project = write_project(tmp_path, "sqlite:///../app.db", history)
    before = folder_contents(project / "versions")
    result = run_cli(project, monkeypatch, "squash", "app", "--to", "b2", "--dialects", "sqlite,postgresql")
    assert result.exit_code == 1, result.output
    assert "sqlite: DIFFERENT" in result.output and "postgresql: equal" in result.output
    assert "rows of things: 1 row(s) [(5, 'five')] after the old revisions but 0 row(s) [] after the baseline" in (
        result.output
    )
    assert "the baseline differs from the old revisions: nothing was changed" in result.output
    assert folder_contents(project / "versions") == before


# --- a project of its own: what autogenerate cannot see ---------------------------------------

CONFIG = """databases:
  app:
    url: {url}
    bases:
      - label: app
        path: ../versions
"""

REVISION = '''"""{doc}"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "{rev}"
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = None
{extra}

def upgrade():
{upgrade}


def downgrade():
    pass
'''


def write_project(root: Path, url: str, history: list[tuple[str, str | None, str, str]]) -> Path:
    (root / "config").mkdir(parents=True)
    (root / "config" / "multidb.yaml").write_text(CONFIG.format(url=url))
    (root / "versions").mkdir()
    for rev, down, doc, body in history:
        upgrade, _, extra = body.partition("\n#module\n")
        text = REVISION.format(
            rev=rev, down=down, labels=("app",) if down is None else None, doc=doc, upgrade=upgrade, extra=extra
        )
        (root / "versions" / f"{rev}_x.py").write_text(text)
    return root


def run_cli(project: Path, monkeypatch: pytest.MonkeyPatch, *args: str, env: dict[str, str] | None = None):
    from click.testing import CliRunner

    from multidb.cli import main

    monkeypatch.chdir(project)
    return CliRunner().invoke(main, ["-c", "config/multidb.yaml", *args], env=env, catch_exceptions=False)


AUTOINCREMENT_HISTORY = [
    (
        "b1",
        None,
        "things",
        """    op.create_table(
        "things", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("name", sa.String(20)),
        sqlite_autoincrement=True,
    )""",
    ),
    ("b2", "b1", "seed", """    op.execute("INSERT INTO things (id, name) VALUES (5, 'five')")"""),
]

PG_HISTORY = [
    (
        "p1",
        None,
        "colours, with a mood enum, an unused enum, a sequence and an extension on PostgreSQL",
        """    if op.get_context().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS citext")
        op.execute("CREATE TYPE unused_kind AS ENUM ('a', 'b')")
        op.execute("CREATE SEQUENCE invoice_numbers START WITH 1000 INCREMENT BY 10")
    op.create_table(
        "colours",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(30), nullable=False, server_default="plain"),
        sa.Column("mood", sa.Enum("happy", "sad", name="mood"), nullable=True),
        sa.Column("weight", sa.Numeric(8, 2), server_default=sa.text("0")),
    )""",
    ),
    (
        "p2",
        "p1",
        "seed colours with ids of their own",
        """    op.execute("INSERT INTO colours (id, name, mood) VALUES (10, 'red', 'happy'), (20, 'blue', 'sad')")
    if op.get_context().dialect.name == "postgresql":  # explicit ids leave the serial's sequence behind
        op.execute("SELECT setval('colours_id_seq', 20)")
        op.execute("SELECT nextval('invoice_numbers')")  # 1000 is taken: 1010 comes next""",
    ),
    ("p3", "p2", "after the squash", """    op.add_column("colours", sa.Column("note", sa.Text()))"""),
]


@pytest.mark.postgresql
def test_extensions_enums_sequences_and_explicit_ids_survive_on_postgresql(tmp_path, monkeypatch, pg_database):
    project = write_project(tmp_path, "sqlite:///../app.db", PG_HISTORY)
    result = run_cli(project, monkeypatch, "squash", "app", "--to", "p2", "--dialects", "sqlite,postgresql")
    assert result.exit_code == 0, result.output
    assert "sqlite: equal" in result.output and "postgresql: equal" in result.output
    assert "enums 2 equal, sequences 1 equal, extensions 1 equal, rows 2 equal, next ids 1 equal" in result.output
    text = (project / "versions" / "p2_squashed_baseline.py").read_text()
    assert "CREATE EXTENSION IF NOT EXISTS citext" in text
    assert "CREATE TYPE unused_kind AS ENUM ('a', 'b')" in text
    assert "CREATE SEQUENCE invoice_numbers START WITH 1000 INCREMENT BY 10" in text
    assert "SELECT setval('invoice_numbers', 1000, true)" in text
    # ids 10 and 20 are not 1..n: the sequence is set where the old revisions left it
    assert "SELECT setval(pg_get_serial_sequence('colours', 'id'), 20, true)" in text

    url = pg_database()
    (project / "config" / "multidb.yaml").write_text(CONFIG.format(url=url))
    upgraded = run_cli(project, monkeypatch, "upgrade", "app")
    assert upgraded.exit_code == 0, upgraded.output
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        new_id = conn.execute(sa.text("INSERT INTO colours (name) VALUES ('green') RETURNING id")).scalar()
        assert new_id == 21  # after the largest seeded id, as after the old revisions
        assert conn.execute(sa.text("SELECT nextval('invoice_numbers')")).scalar() == 1010
        columns = {c["name"] for c in sa.inspect(conn).get_columns("colours")}
    engine.dispose()
    assert "note" in columns  # p3 ran on top of the baseline


@pytest.mark.mariadb
def test_a_dialect_the_generic_body_does_not_fit_gets_a_section_of_its_own(tmp_path, monkeypatch):
    history = [
        (
            "m1",
            None,
            "notes with a TINYTEXT on MariaDB",
            """    op.create_table("notes", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("body", sa.Text().with_variant(mysql.TINYTEXT(), "mysql", "mariadb")))""",
        ),
        ("m2", "m1", "an index", """    op.create_index("ix_notes_id_body", "notes", ["id"])"""),
    ]
    project = write_project(tmp_path, "sqlite:///../app.db", history)
    result = run_cli(project, monkeypatch, "squash", "app", "--to", "m2", "--dialects", "sqlite,mariadb")
    assert result.exit_code == 0, result.output
    assert "sqlite: equal\n" in result.output
    assert "mariadb: equal (with a section of its own)" in result.output
    text = (project / "versions" / "m2_squashed_baseline.py").read_text()
    assert 'if _dialect() == "mariadb":' in text and "def _create_tables_mariadb() -> None:" in text
    assert "mysql.TINYTEXT()" in text and "from sqlalchemy.dialects import mysql" in text


# --- the servers: the example on PostgreSQL and MariaDB, and the plugin on the squashed copy ---


@pytest.mark.postgresql
@pytest.mark.mariadb
def test_the_squashed_example_upgrades_like_the_old_history_on_postgresql_and_mariadb(
    cli, project, tmp_path, pg_database, mariadb_database
):
    result = squash(cli, "--dialects", "sqlite,postgresql,mariadb")
    assert result.exit_code == 0, result.output
    for dialect in ("sqlite", "postgresql", "mariadb"):
        assert f"{dialect}: equal\n" in result.output
    plain = plain_copy(tmp_path)
    for make in (pg_database, mariadb_database):
        urls = {"squashed": (make(), make()), "plain": (make(), make())}
        for name, folder in (("squashed", project), ("plain", plain)):
            env = {"CATALOG_DATABASE_URL": urls[name][0], "MONITOR_DATABASE_URL": urls[name][1]}
            config = str(folder / "config" / "multidb.yaml")
            done = cli("-c", config, "-p", "production", "upgrade", "--all", env=env)
            assert done.exit_code == 0, done.output
        squashed, unsquashed = state(urls["squashed"][0]), state(urls["plain"][0])
        assert parity.compare(squashed[0], unsquashed[0], parity.Sides("squashed", "plain"), exact=True) == []
        assert squashed[1] == unsquashed[1]
        engine = sa.create_engine(urls["squashed"][0])
        with engine.begin() as conn:  # the autoincrement key goes on after the seeded rows
            conn.execute(sa.text("INSERT INTO locations (name, medium) VALUES ('third', 'disk')"))
            assert conn.execute(sa.text("SELECT id FROM locations WHERE name = 'third'")).scalar() == 3
        engine.dispose()


@pytest.mark.postgresql
@pytest.mark.mariadb
def test_the_plugin_passes_on_the_squashed_example(pytester, monkeypatch, cli, project):
    from test_plugin import QUIET, SERVER_ENV

    assert squash(cli, "--dialects", "sqlite,postgresql,mariadb").exit_code == 0
    shutil.copytree(project, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "var"))
    # the example's own seed rows and checks (pyproject's multidb_data), as the repository's suite runs them
    shutil.copy(ROOT / "tests" / "plugin_projects" / "example_data.py", pytester.path / "squash_example_data.py")
    monkeypatch.syspath_prepend(str(pytester.path))
    for name, value in SERVER_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(pytester.path)
    result = pytester.runpytest(
        "--multidb-config",
        "config/multidb.yaml",
        "--multidb-dialects",
        "sqlite,postgresql,mariadb",
        "-o",
        "multidb_data=squash_example_data:data",
        *QUIET,
        "-v",
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, result.stdout.str()
    assert outcomes["passed"] >= 20
    # the checks on the squashed c1a0f0a1b004 are reported, not run; its seed rows still serve the later ones
    result.stdout.fnmatch_lines([f"*data check catalog {REV} (before/after) is obsolete*its seed rows are inserted*"])
    for dialect in ("sqlite", "postgresql", "mariadb"):
        result.stdout.fnmatch_lines([f"*test_data_survival[[]catalog-{dialect}[]] PASSED*"])
    for dialect in ("sqlite", "postgresql", "mariadb"):  # down to base through the baseline and up again
        result.stdout.fnmatch_lines([f"*test_stairway[[]catalog-{dialect}[]] PASSED*"])
        result.stdout.fnmatch_lines([f"*test_clean_downgrade[[]catalog-{dialect}[]] PASSED*"])


def test_the_monitor_database_is_left_alone(cli, project):
    before = folder_contents(project / "monitor_versions")
    assert squash(cli, "--dialects", "sqlite").exit_code == 0
    assert folder_contents(project / "monitor_versions") == before
    assert MONITOR_HEAD in "".join(before)


# --- the project's rendering settings: its own column type ------------------------------------

TYPES_MODELS = """import sqlalchemy as sa


class Tag(sa.types.TypeDecorator):
    impl = sa.String(20)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # the baseline's rows must not go through it again
        return None if value is None else value.lower()


metadata = sa.MetaData()
sa.Table(
    "labels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("tag", Tag(20)),
    sa.Column("note", sa.String(50)),
)
"""

TYPES_HOOKS = """from .models import Tag


def render_item(type_, obj, autogen_context):
    if type_ == "type" and isinstance(obj, Tag):
        autogen_context.imports.add("from {package}.models import Tag")
        return f"Tag({{obj.impl.length}})"
    return False
"""

TYPES_CONFIG = """python_path: [".."]
databases:
  app:
    url: sqlite:///../app.db
    metadata: {package}.models:metadata
    bases:
      - label: app
        path: ../versions
{settings}"""


def types_project(root: Path, package: str, setting: str | None, tag_type: str = "{package}.models.Tag(20)") -> Path:
    """A project whose models module (in ``package``) has a Tag type, its history making ``labels.tag``
    with ``tag_type``, and its config the autogenerate ``setting`` (a YAML line) if any."""
    project = write_project(root, "sqlite:///../app.db", types_history(package, tag_type.format(package=package)))
    (root / package).mkdir()
    (root / package / "__init__.py").write_text("from .models import Tag\n")
    (root / package / "models.py").write_text(TYPES_MODELS)
    (root / package / "hooks.py").write_text(TYPES_HOOKS.format(package=package))
    settings = f"    autogenerate:\n      {setting.format(package=package)}\n" if setting else ""
    (project / "config" / "multidb.yaml").write_text(TYPES_CONFIG.format(package=package, settings=settings))
    return project


def squash_types(project: Path, monkeypatch: pytest.MonkeyPatch):
    """``squash app --to t2`` on SQLite, the project's modules forgotten afterwards."""
    before = set(sys.modules)
    try:
        return run_cli(project, monkeypatch, "squash", "app", "--to", "t2", "--dialects", "sqlite")
    finally:
        forget_test_modules(before)


def types_history(package: str, tag_type: str) -> list[tuple[str, str | None, str, str]]:
    create = f"""    import {package}.models

    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tag", {tag_type}),
        sa.Column("note", sa.String(50)),
    )"""
    seed = """    op.execute("INSERT INTO labels (tag, note) VALUES ('Red', 'kept as written')")"""
    return [("t1", None, "labels, with the project's Tag type", create), ("t2", "t1", "seed", seed)]


@pytest.mark.parametrize(
    ("setting", "column", "imports"),
    [
        (
            "user_module_prefix: '{package}.'",
            "sa.Column('tag', {package}.Tag(length=20), nullable=True)",
            ["import {package}"],
        ),
        (
            "render_item: '{package}.hooks:render_item'",
            "sa.Column('tag', Tag(20), nullable=True)",
            ["from {package}.models import Tag"],
        ),
        (None, "sa.Column('tag', sa.String(length=20), nullable=True)", []),
    ],
    ids=["user_module_prefix", "render_item", "no_setting"],
)
def test_the_baseline_writes_the_projects_own_type_as_its_rendering_settings_say(
    tmp_path, monkeypatch, setting, column, imports
):
    package = f"squash_types_{'none' if setting is None else setting.partition(':')[0]}"
    project = types_project(tmp_path, package, setting)
    result = squash_types(project, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "sqlite: equal" in result.output and "rows 1 equal" in result.output
    text = (project / "versions" / "t2_squashed_baseline.py").read_text()
    assert column.format(package=package) in text
    assert "sa.Column('note', sa.String(length=50), nullable=True)" in text  # SQLAlchemy's types stay generic
    header = text.split("import sqlalchemy as sa")[0]
    assert [line for line in header.splitlines() if package in line] == [i.format(package=package) for i in imports]
    assert "{'tag': 'Red', 'note': 'kept as written'}" in text  # the rows as the replay holds them


def test_a_column_whose_type_at_the_squashed_revision_is_not_the_models_keeps_the_reflected_type(tmp_path, monkeypatch):
    # the models say Tag(20) (a later revision may widen it); at t2 the column is a VARCHAR(10)
    project = types_project(tmp_path, "squash_types_older", "user_module_prefix: '{package}.'", "sa.String(10)")
    result = squash_types(project, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "sqlite: equal" in result.output
    text = (project / "versions" / "t2_squashed_baseline.py").read_text()
    assert "sa.Column('tag', sa.String(length=10), nullable=True)" in text
    assert "squash_types_older" not in text


@pytest.mark.postgresql
def test_a_colon_in_postgresql_objects_of_the_baseline_is_not_a_bind_parameter(tmp_path, monkeypatch):
    """The baseline's PostgreSQL statements go through op.execute(), i.e. sa.text(): ' :night' in an enum label
    must stay text, as in the baseline's views and rows (it failed with 'A value is required for bind
    parameter' before)."""
    history = [
        (
            "c1",
            None,
            "an enum no column uses, with a colon in a label",
            """    op.create_table("shifts", sa.Column("id", sa.Integer(), primary_key=True))
    if op.get_context().dialect.name == "postgresql":
        op.execute(r"CREATE TYPE shift_kind AS ENUM ('day', ' \\:night')")""",
        ),
        ("c2", "c1", "a column", """    op.add_column("shifts", sa.Column("note", sa.Text()))"""),
        ("c3", "c2", "after", """    op.add_column("shifts", sa.Column("more", sa.Text()))"""),
    ]
    project = write_project(tmp_path, "sqlite:///../app.db", history)
    result = run_cli(project, monkeypatch, "squash", "app", "--to", "c2", "--dialects", "postgresql")
    assert result.exit_code == 0, result.output
    assert "postgresql: equal" in result.output and "enums 1 equal" in result.output, result.output

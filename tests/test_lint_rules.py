"""The lint rules of issue #16: foreign keys without NOT VALID, contract before expand (against the
models), unbatched updates and SQLite batch rebuilds of large tables (against the live tables' sizes).

Rules that read no database run on a PostgreSQL URL that never connects (``--all-revisions``); the
size-dependent ones run on real SQLite, PostgreSQL and MariaDB databases holding rows above a small
``lint_large_table_rows``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from sqlalchemy.pool import NullPool
from test_lint import findings, line_of, lint, revision

BASE = "cc0000000001"
NEXT = "cc0000000002"
PG = "postgresql://nobody@nohost:1/never"  # never connects: --all-revisions reads no database

CREATE = """op.create_table("owners", sa.Column("id", sa.Integer(), primary_key=True))
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(50)),
        sa.Column("owner_id", sa.Integer()),
        sa.Column("legacy", sa.String(20)),
    )"""
DOWN_CREATE = 'op.drop_table("items")\n    op.drop_table("owners")'

# the models of the running code: items still has "legacy"
MODELS = """\
import sqlalchemy as sa

metadata = sa.MetaData()
owners = sa.Table("owners", metadata, sa.Column("id", sa.Integer, primary_key=True))
items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(COLUMNS),
)
"""
# the table as a revision copies it (batch copy_from=, update_in_batches)
ITEMS = """items = sa.Table(
        "items",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(50)),
        sa.Column("owner_id", sa.Integer()),
        sa.Column("legacy", sa.String(20)),
    )"""


def project(
    root: Path, url: str, upgrade: str, downgrade: str = "pass", extra: str = "", models: str | None = None
) -> Path:
    """``main``: BASE creates ``owners`` and ``items``, NEXT runs ``upgrade``. ``models``: the columns
    the models give ``items`` besides ``id`` (then the config names them as ``metadata:``)."""
    versions = root / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    for old in versions.glob("*.py"):
        old.unlink()
    revision(versions, BASE, None, CREATE, DOWN_CREATE)
    revision(versions, NEXT, BASE, upgrade, downgrade)
    config = root / "config"
    config.mkdir(exist_ok=True)
    top = ""
    if models is not None:
        columns = "),\n    sa.Column(".join(models.split(";"))
        module = f"lintmodels_{uuid.uuid4().hex[:8]}"  # a new name: an imported module is not read again
        (root / f"{module}.py").write_text(MODELS.replace("COLUMNS", columns))
        top = "python_path: ['..']\n"
        extra += f"    metadata: {module}:metadata\n"
    (config / "multidb.yaml").write_text(
        f"{top}databases:\n  main:\n    url: {url}\n    bases:\n      - label: main\n        path: ../versions\n"
        + extra
    )
    return config / "multidb.yaml"


def next_file(root: Path) -> Path:
    return root / "versions" / f"{NEXT}_step.py"


def batch_lines(path: Path) -> tuple[int, int]:
    """Where the end of a ``with op.batch_alter_table(...)`` block is reported: the ``with`` line (Python
    3.11+ attributes the exit to it), or the line after the block's last one."""
    lines = path.read_text().splitlines()
    start = line_of(path, "batch_alter_table")
    last = next(i for i in range(start, len(lines)) if not lines[i].startswith("        "))
    return start, last + 1


def rules(result: Result) -> list[str]:
    return [f["rule"] for f in findings(result)]


def run(config: Path, *args: str) -> Result:
    from click.testing import CliRunner

    from multidb.cli import main

    return CliRunner().invoke(main, ["-c", str(config), *args], catch_exceptions=False)


def fill(url: str, rows: int) -> None:
    """``rows`` rows in ``items``, and the server's statistics brought up to date."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO items (id, name) VALUES (:id, :name)"),
                [{"id": i, "name": f"n{i}"} for i in range(1, rows + 1)],  # (MariaDB: an id 0 is auto-numbered)
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("ANALYZE items"))
            elif conn.dialect.name in ("mysql", "mariadb"):
                conn.execute(sa.text("ANALYZE TABLE items")).all()
    finally:
        engine.dispose()


# --- pg-fk-not-valid --------------------------------------------------------------------------------------------

FK = 'op.create_foreign_key("fk_items_owner", "items", "owners", ["owner_id"], ["id"])'
DROP_FK = 'op.drop_constraint("fk_items_owner", "items", type_="foreignkey")'


def test_a_foreign_key_on_an_existing_table_without_not_valid_is_an_error_with_its_fix(tmp_path):
    config = project(tmp_path, PG, FK, DROP_FK)
    result = lint(config, "--all-revisions", "--json")
    assert result.exit_code == 1, result.output
    [found] = findings(result)
    assert (found["rule"], found["severity"], found["revision"]) == ("pg-fk-not-valid", "error", NEXT)
    assert found["line"] == line_of(next_file(tmp_path), "create_foreign_key")
    assert "fk_items_owner on items -> owners" in found["message"]
    assert "NOT VALID" in found["fix"] and "VALIDATE CONSTRAINT" in found["fix"]
    text = lint(config, "--all-revisions")
    assert f"{NEXT}_step.py:{found['line']}: error pg-fk-not-valid" in text.stdout


@pytest.mark.parametrize(
    "body",
    [
        'op.execute("ALTER TABLE items ADD CONSTRAINT fk_items_owner FOREIGN KEY (owner_id) REFERENCES owners (id) '
        'NOT VALID")',
        'op.create_foreign_key("fk_items_owner", "items", "owners", ["owner_id"], ["id"], postgresql_not_valid=True)',
        'op.execute("ALTER TABLE items VALIDATE CONSTRAINT fk_items_owner")',  # the later revision's step
        # a table the revision creates holds no rows to scan
        'op.create_table("tags", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("item_id", sa.Integer()))\n'
        '    op.create_foreign_key("fk_tags_item", "tags", "items", ["item_id"], ["id"])',
    ],
)
def test_the_not_valid_foreign_key_and_one_on_a_new_table_pass(tmp_path, body):
    config = project(tmp_path, PG, body, DROP_FK)
    result = lint(config, "--all-revisions", "--json")
    assert result.exit_code == 0, result.output
    assert rules(result) == []


@pytest.mark.parametrize(
    "body",
    [
        'op.execute("ALTER TABLE items ADD CONSTRAINT fk_items_owner FOREIGN KEY (owner_id) REFERENCES owners (id)")',
        'op.add_column("items", sa.Column("maker_id", sa.Integer(), sa.ForeignKey("owners.id")))',
    ],
)
def test_a_foreign_key_in_sql_text_or_with_a_new_column_is_flagged_too(tmp_path, body):
    config = project(tmp_path, PG, body, DROP_FK)
    result = lint(config, "--all-revisions", "--json")
    assert result.exit_code == 1, result.output
    assert rules(result) == ["pg-fk-not-valid"]
    # the same revision on SQLite or MariaDB: not PostgreSQL's rule
    sqlite = project(tmp_path / "lite", "sqlite:///nothing.db", body, DROP_FK)
    assert "pg-fk-not-valid" not in rules(lint(sqlite, "--all-revisions", "--json"))


def test_allow_silences_the_foreign_key_rule(tmp_path):
    config = project(tmp_path, PG, FK + "  # multidb: allow=pg-fk-not-valid owners has 3 rows", DROP_FK)
    assert lint(config, "--all-revisions").exit_code == 0


# --- contract-before-expand, rename-breaks-running-code --------------------------------------------------------------

DROP_LEGACY = 'op.drop_column("items", "legacy")'
ADD_LEGACY = 'op.add_column("items", sa.Column("legacy", sa.String(20)))'
STILL = '"name", sa.String(50);"owner_id", sa.Integer;"legacy", sa.String(20)'  # the models use "legacy"
STOPPED = '"name", sa.String(50);"owner_id", sa.Integer'  # they no longer do


def test_dropping_a_column_the_models_still_declare_is_an_error(tmp_path):
    config = project(tmp_path, PG, DROP_LEGACY, ADD_LEGACY, models=STILL)
    result = lint(config, "--all-revisions", "--json")
    assert result.exit_code == 1, result.output
    [found] = findings(result)
    assert (found["rule"], found["severity"]) == ("contract-before-expand", "error")
    assert found["message"] == "column items.legacy is dropped, but the models still declare it"
    assert found["line"] == line_of(next_file(tmp_path), "drop_column")
    assert 'phase = "contract"' in found["fix"]
    # once the models stop using it, the drop passes
    stopped = project(tmp_path, PG, DROP_LEGACY, ADD_LEGACY, models=STOPPED)
    assert lint(stopped, "--all-revisions", "--json").exit_code == 0
    assert rules(lint(stopped, "--all-revisions", "--json")) == []


def test_a_contract_revision_still_gets_the_models_check(tmp_path):
    body = DROP_LEGACY
    config = project(tmp_path, PG, body, ADD_LEGACY, models=STILL)
    path = next_file(tmp_path)
    path.write_text(path.read_text().replace("depends_on = None", 'depends_on = None\nphase = "contract"'))
    assert rules(lint(config, "--all-revisions", "--json")) == ["contract-before-expand"]


def test_dropping_a_table_the_models_declare_is_an_error_and_without_models_nothing_is_said(tmp_path):
    body = 'op.drop_constraint("items_pkey", "items")\n    op.drop_table("owners")'
    config = project(tmp_path, PG, body, "pass  # multidb: allow=no-downgrade", models=STILL)
    found = findings(lint(config, "--all-revisions", "--json"))
    assert [(f["rule"], f["message"]) for f in found] == [
        ("contract-before-expand", "table owners is dropped, but the models still declare it")
    ]
    no_models = project(tmp_path / "none", PG, body, "pass  # multidb: allow=no-downgrade")
    assert rules(lint(no_models, "--all-revisions", "--json")) == []


RENAME = 'op.alter_column("items", "legacy", new_column_name="old_code")'
UNRENAME = 'op.alter_column("items", "old_code", new_column_name="legacy")'


def test_a_rename_is_an_error_while_the_models_use_the_old_name_and_a_warning_otherwise(tmp_path):
    still = project(tmp_path, PG, RENAME, UNRENAME, models=STILL)
    result = lint(still, "--all-revisions", "--json")
    assert result.exit_code == 1
    [found] = findings(result)
    assert found["rule"] == "contract-before-expand"
    assert found["message"] == "column items.legacy is renamed to old_code, but the models still declare it"

    renamed_models = project(tmp_path, PG, RENAME, UNRENAME, models=STOPPED + ';"old_code", sa.String(20)')
    result = lint(renamed_models, "--all-revisions", "--json")
    assert result.exit_code == 0  # a warning: the code running during the deploy still reads "legacy"
    [found] = findings(result)
    assert (found["rule"], found["severity"]) == ("rename-breaks-running-code", "warning")
    assert "expand" in found["fix"]
    no_models = project(
        tmp_path / "none", PG, 'op.rename_table("owners", "people")', 'op.rename_table("people", "owners")'
    )
    [found] = findings(lint(no_models, "--all-revisions", "--json"))
    assert (found["rule"], found["message"]) == ("rename-breaks-running-code", "table owners is renamed to people")


def test_a_rename_in_a_contract_revision_or_silenced_passes(tmp_path):
    config = project(tmp_path, PG, 'op.rename_table("owners", "people")', 'op.rename_table("people", "owners")')
    path = next_file(tmp_path)
    path.write_text(path.read_text().replace("depends_on = None", 'depends_on = None\nphase = "contract"'))
    assert rules(lint(config, "--all-revisions", "--json")) == []
    silenced = project(
        tmp_path / "allow",
        PG,
        RENAME + "  # multidb: allow=contract-before-expand,rename-breaks-running-code the column is unused",
        UNRENAME,
        models=STILL,
    )
    assert rules(lint(silenced, "--all-revisions", "--json")) == []


def test_a_sqlite_batch_that_drops_a_column_the_models_declare_is_an_error(tmp_path):
    batch = f"""{ITEMS}
    with op.batch_alter_table("items", copy_from=items) as batch_op:
        batch_op.drop_column("legacy")"""
    config = project(tmp_path, "sqlite:///x.db", batch, "pass  # multidb: allow=no-downgrade", models=STILL)
    result = lint(config, "--all-revisions", "--json")
    assert result.exit_code == 1, result.output
    [found] = findings(result)
    assert found["rule"] == "contract-before-expand"
    assert found["message"] == "batch rebuild of items leaves out items.legacy, which the models still declare"
    assert found["line"] in batch_lines(next_file(tmp_path))
    stopped = project(tmp_path, "sqlite:///x.db", batch, "pass  # multidb: allow=no-downgrade", models=STOPPED)
    assert rules(lint(stopped, "--all-revisions", "--json")) == []


def test_the_models_are_imported_only_for_a_drop_or_rename(tmp_path):
    from assertions import assert_one_clean_error

    extra = "    metadata: no_such_models_module:metadata\n"
    index = 'op.execute("CREATE INDEX CONCURRENTLY ix_items_name ON items (name)")  # multidb: allow=no-downgrade'
    config = project(tmp_path, PG, index, extra=extra)
    assert lint(config, "--all-revisions").exit_code == 0  # nothing asked for the models
    dropping = project(tmp_path / "drop", PG, DROP_LEGACY, ADD_LEGACY, extra=extra)
    result = lint(dropping, "--all-revisions")
    assert result.exit_code == 2
    assert_one_clean_error(result, "databases.main.metadata", "cannot import 'no_such_models_module'")


def test_the_plugin_check_fails_on_a_contract_before_expand(tmp_path):
    from multidb.config import load_config
    from multidb.testing import MigrationCheckFailed
    from multidb.testing.checks import check_lint

    config = project(tmp_path, "sqlite:///x.db", DROP_LEGACY, ADD_LEGACY, models=STILL)
    with pytest.raises(MigrationCheckFailed) as failed:
        check_lint(load_config(config), "main", "postgresql://", on="postgresql")
    assert "contract-before-expand in revision cc0000000002" in str(failed.value)
    assert "column items.legacy is dropped, but the models still declare it" in str(failed.value)


# --- unbatched-update, without a database ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "op.execute(\"UPDATE items SET name = 'x'\")",
        "op.execute(sa.text('DELETE FROM items'))",
        f"{ITEMS}\n    op.execute(sa.update(items).values(name='x'))",
    ],
)
def test_without_a_database_an_update_or_delete_without_where_warns_size_unknown(tmp_path, body):
    config = project(tmp_path, PG, body, "pass  # multidb: allow=no-downgrade")
    result = lint(config, "--all-revisions", "--json")
    assert result.exit_code == 0  # a warning
    [found] = findings(result)
    assert (found["rule"], found["severity"]) == ("unbatched-update", "warning")
    assert found["message"].endswith("of every row of items (no WHERE); table size unknown")
    assert "update_in_batches" in found["fix"] and "delete_in_batches" in found["fix"]


@pytest.mark.parametrize(
    "body",
    [
        "op.execute(\"UPDATE items SET name = 'x' WHERE name IS NULL\")",
        f"{ITEMS}\n    op.execute(sa.delete(items).where(items.c.id > 5))",
        f"{ITEMS}\n    from multidb import data\n    data.update_in_batches(items, {{'name': 'x'}})",
        f"{ITEMS}\n    from multidb import data\n    data.delete_in_batches(items, online=True)",
        'op.create_table("tags", sa.Column("id", sa.Integer(), primary_key=True))\n'
        '    op.execute("UPDATE tags SET id = id + 1")',
        "op.execute(\"UPDATE items SET name = 'x'\")  # multidb: allow=unbatched-update 12 rows, ever",
    ],
)
def test_without_a_database_a_where_a_batch_helper_a_new_table_or_allow_passes(tmp_path, body):
    config = project(tmp_path, PG, body, "pass  # multidb: allow=no-downgrade")
    result = lint(config, "--all-revisions", "--json")
    assert result.exit_code == 0, result.output
    assert rules(result) == []


# --- the size-dependent rules, on live databases ------------------------------------------------------------------

LARGE = "    lint_large_table_rows: 50\n"
WHERE_UPDATE = "op.execute(\"UPDATE items SET name = 'x' WHERE id >= 0\")"
BATCHED = (
    f"{ITEMS}\n    from multidb import data\n    data.update_in_batches(items, {{'name': 'x'}}, where=items.c.id >= 0)"
)


def _live(tmp_path: Path, url: str, body: str, rows: int) -> Path:
    config = project(tmp_path, url, body, "pass  # multidb: allow=no-downgrade", extra=LARGE)
    upgraded = run(config, "upgrade", "--all", "--to", BASE)
    assert upgraded.exit_code == 0, upgraded.output
    fill(url, rows)
    return config


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgresql),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def live_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'main.db'}"
    return request.getfixturevalue("pg_database" if request.param == "postgresql" else "mariadb_database")()


def test_an_update_on_a_large_live_table_warns_even_with_where_and_the_batch_helper_passes(tmp_path, live_url):
    config = _live(tmp_path, live_url, WHERE_UPDATE, 60)
    result = lint(config, "--json")
    assert result.exit_code == 0, result.output  # a warning
    [item] = json.loads(result.stdout)
    assert item["revisions"] == [NEXT]
    [found] = item["findings"]
    assert found["rule"] == "unbatched-update"
    assert found["line"] == line_of(next_file(tmp_path), "UPDATE items")
    assert "UPDATE on items" in found["message"] and "lint_large_table_rows: 50" in found["message"]
    # the same change through multidb.data's helper passes
    project(tmp_path, live_url, BATCHED, "pass  # multidb: allow=no-downgrade", extra=LARGE)
    assert rules(lint(config, "--json")) == []


def test_an_update_without_where_on_a_small_live_table_passes(tmp_path, live_url):
    config = _live(tmp_path, live_url, "op.execute(\"UPDATE items SET name = 'x'\")", 10)
    assert rules(lint(config, "--json")) == []  # the size is known, and small
    # with no database at hand (--all-revisions) the size is unknown: the missing WHERE is all there is to go on
    assert rules(lint(config, "--all-revisions", "--json")) == ["unbatched-update"]


@pytest.mark.postgresql
def test_plan_shows_the_unbatched_update_finding(tmp_path, pg_database):
    url = pg_database()
    config = _live(tmp_path, url, WHERE_UPDATE, 60)
    result = run(config, "plan", "--json")
    assert result.exit_code == 0, result.output
    [db] = json.loads(result.stdout)
    [rev] = db["revisions"]
    assert [f["rule"] for f in rev["findings"]] == ["unbatched-update"]
    text = run(config, "plan")
    assert "lint: warning unbatched-update" in text.stdout
    assert "~60 rows" in text.stdout or "at least 50 rows" in text.stdout


# --- sqlite-batch-rebuild-large ---------------------------------------------------------------------------------

REBUILD = f"""{ITEMS}
    with op.batch_alter_table("items", copy_from=items) as batch_op:
        batch_op.alter_column("name", type_=sa.Text(), existing_type=sa.String(50))"""


def test_a_sqlite_batch_rebuild_of_a_large_table_warns(tmp_path):
    """(Also the check of alembic_private.batch_temp_table: the rebuild is recognised by Alembic's name for
    the new table; were it renamed, no finding.)"""
    url = f"sqlite:///{tmp_path / 'main.db'}"
    config = _live(tmp_path, url, REBUILD, 60)
    result = lint(config, "--json")
    assert result.exit_code == 0, result.output
    [found] = findings(result)
    assert (found["rule"], found["severity"]) == ("sqlite-batch-rebuild-large", "warning")
    assert found["message"] == "batch rebuild of items, at least 50 rows (lint_large_table_rows: 50)"
    assert found["line"] in batch_lines(next_file(tmp_path))
    assert "in place" in found["fix"]
    # the plan says so too
    [db] = json.loads(run(config, "plan", "--json").stdout)
    assert [f["rule"] for f in db["revisions"][0]["findings"]] == ["sqlite-batch-rebuild-large"]
    # without a database the rule is silent (the size is unknown)
    assert rules(lint(config, "--all-revisions", "--json")) == []
    # silenced in the revision
    path = next_file(tmp_path)
    path.write_text(path.read_text() + "# multidb: allow=sqlite-batch-rebuild-large done at night\n")
    assert rules(lint(config, "--json")) == []


def test_a_sqlite_batch_rebuild_of_a_small_table_passes(tmp_path):
    url = f"sqlite:///{tmp_path / 'main.db'}"
    config = _live(tmp_path, url, REBUILD, 10)
    assert rules(lint(config, "--json")) == []


def test_lint_large_table_rows_must_be_a_positive_whole_number(tmp_path):
    from assertions import assert_one_clean_error

    config = project(tmp_path, PG, WHERE_UPDATE, extra="    lint_large_table_rows: 0\n")
    result = lint(config, "--all-revisions")
    assert result.exit_code == 2
    assert_one_clean_error(result, "lint_large_table_rows", "a whole number of rows >= 1")


def test_the_rule_texts_are_documented():
    from multidb.lint import RULES

    doc = (Path(__file__).parent.parent / "docs" / "safe-deploys.md").read_text()
    missing = [rule for rule in RULES if f"| `{rule}` |" not in doc]
    assert missing == []

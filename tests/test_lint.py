"""``multidb lint``: revisions rendered offline for each database's dialect, checked against rules.

The projects here never need a server: the rules read what Alembic would send, not a database
(the default scope reads the version table, so those tests use SQLite files).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

BASE = "bb0000000001"
NEXT = "bb0000000002"

CREATE = """op.create_table(
        "items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(50)),
    )
    op.create_index("ix_items_name_new", "items", ["name"])  # a new table: no lock worth a rule"""
DOWN_CREATE = 'op.drop_table("items")'


def write_project(root: Path, url: str, upgrade: str, downgrade: str = "pass", extra: str = "") -> Path:
    """``main``: a first revision creating ``items``, then NEXT with the given bodies."""
    versions = root / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    revision(versions, BASE, None, CREATE, DOWN_CREATE)
    revision(versions, NEXT, BASE, upgrade, downgrade)
    config = root / "config"
    config.mkdir(exist_ok=True)
    (config / "multidb.yaml").write_text(
        f"databases:\n  main:\n    url: {url}\n    bases:\n      - label: main\n        path: ../versions\n{extra}"
    )
    return config / "multidb.yaml"


def revision(folder: Path, rev: str, down: str | None, upgrade: str, downgrade: str) -> Path:
    path = folder / f"{rev}_step.py"
    path.write_text(
        textwrap.dedent(
            f"""\
            import sqlalchemy as sa
            from alembic import op

            revision = {rev!r}
            down_revision = {down!r}
            branch_labels = {("main",) if down is None else None!r}
            depends_on = None


            def upgrade():
                UPGRADE


            def downgrade():
                DOWNGRADE
            """
        )
        .replace("UPGRADE", upgrade)
        .replace("DOWNGRADE", downgrade)
    )
    return path


def lint(config: Path, *args: str) -> Result:
    from multidb.cli import main

    return CliRunner().invoke(main, ["-c", str(config), "lint", *args], catch_exceptions=False)


def findings(result: Result) -> list[dict]:
    return [f for item in json.loads(result.stdout) for f in item["findings"]]


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


PG = "postgresql://nobody@nohost:1/never"  # never connects: --all-revisions and --since read no database


def test_an_index_without_concurrently_on_an_existing_table_is_an_error_with_its_fix(tmp_path):
    config = write_project(
        tmp_path, PG, 'op.create_index("ix_items_name", "items", ["name"])', 'op.drop_index("ix_items_name", "items")'
    )
    result = lint(config, "--all-revisions", "--json")
    assert result.exit_code == 1, result.output
    [found] = findings(result)
    assert (found["rule"], found["severity"], found["revision"]) == ("pg-index-not-concurrent", "error", NEXT)
    assert found["line"] == line_of(tmp_path / "versions" / f"{NEXT}_step.py", "ix_items_name")
    assert "postgresql_concurrently=True" in found["fix"] and "autocommit_block()" in found["fix"]
    text = lint(config, "--all-revisions")
    assert f"{NEXT}_step.py:{found['line']}: error pg-index-not-concurrent" in text.stdout
    assert "fix: op.create_index(..., postgresql_concurrently=True)" in text.stdout


def test_the_concurrent_index_passes(tmp_path):
    body = """with op.get_context().autocommit_block():
        op.create_index("ix_items_name", "items", ["name"], postgresql_concurrently=True)"""
    config = write_project(tmp_path, PG, body, 'op.drop_index("ix_items_name", "items")')
    result = lint(config, "--all-revisions", "--json")
    assert result.exit_code == 0, result.output
    assert findings(result) == []


def test_a_not_null_column_without_a_default_is_an_error(tmp_path):
    config = write_project(
        tmp_path,
        PG,
        'op.add_column("items", sa.Column("code", sa.String(10), nullable=False))',
        'op.drop_column("items", "code")',
    )
    result = lint(config, "--all-revisions", "--json")
    assert result.exit_code == 1
    assert [f["rule"] for f in findings(result)] == ["not-null-without-default"]
    with_default = 'op.add_column("items", sa.Column("code", sa.String(10), nullable=False, server_default="x"))'
    (tmp_path / "versions" / f"{NEXT}_step.py").unlink()
    revision(tmp_path / "versions", NEXT, BASE, with_default, 'op.drop_column("items", "code")')
    assert lint(config, "--all-revisions").exit_code == 0


def test_a_type_change_warns_and_widening_a_varchar_on_postgresql_does_not(tmp_path):
    change = 'op.alter_column("items", "name", type_=sa.Integer(), existing_type=sa.String(50))'
    config = write_project(tmp_path, PG, change, 'op.alter_column("items", "name", type_=sa.String(50))')
    result = lint(config, "--all-revisions", "--json")
    assert result.exit_code == 0  # a warning only
    assert "type-change-rewrites" in [f["rule"] for f in findings(result)]
    (tmp_path / "versions" / f"{NEXT}_step.py").unlink()
    widen = 'op.alter_column("items", "name", type_=sa.String(100), existing_type=sa.String(50))'
    revision(tmp_path / "versions", NEXT, BASE, widen, 'op.alter_column("items", "name", type_=sa.String(50))')
    assert "type-change-rewrites" not in [f["rule"] for f in findings(lint(config, "--all-revisions", "--json"))]


def test_a_revision_without_downgrade_warns(tmp_path):
    config = write_project(tmp_path, PG, 'op.add_column("items", sa.Column("note", sa.Text()))')
    result = lint(config, "--all-revisions", "--json")
    assert result.exit_code == 0
    [found] = findings(result)
    assert (found["rule"], found["severity"]) == ("no-downgrade", "warning")
    assert found["line"] == line_of(tmp_path / "versions" / f"{NEXT}_step.py", "def downgrade")


def test_ddl_and_dml_in_one_revision_on_mariadb_warns(tmp_path):
    body = """op.add_column("items", sa.Column("note", sa.Text()))
    op.execute("UPDATE items SET note = 'x' WHERE note IS NULL")"""  # (a WHERE: unbatched-update is silent)
    config = write_project(tmp_path, "mysql+pymysql://nobody@nohost:1/never", body, 'op.drop_column("items", "note")')
    result = lint(config, "--all-revisions", "--json")
    [found] = findings(result)
    assert found["rule"] == "mariadb-ddl-with-dml"
    assert found["line"] == line_of(tmp_path / "versions" / f"{NEXT}_step.py", "UPDATE items")
    # the same revision on PostgreSQL: DDL rolls back there, no finding
    pg = write_project(tmp_path / "pg", PG, body, 'op.drop_column("items", "note")')
    assert findings(lint(pg, "--all-revisions", "--json")) == []


def test_a_revision_comment_or_the_config_silences_a_rule(tmp_path):
    body = 'op.create_index("ix_items_name", "items", ["name"])  # multidb: allow=pg-index-not-concurrent tiny table'
    config = write_project(tmp_path, PG, body, 'op.drop_index("ix_items_name", "items")')
    assert lint(config, "--all-revisions").exit_code == 0
    other = write_project(
        tmp_path / "other",
        PG,
        'op.create_index("ix_items_name", "items", ["name"])',
        'op.drop_index("ix_items_name", "items")',
        extra="    lint_allow: [pg-index-not-concurrent]\n",
    )
    assert lint(other, "--all-revisions").exit_code == 0


def test_by_default_only_revisions_not_yet_applied_are_checked(tmp_path):
    from multidb.cli import main

    url = f"sqlite:///{tmp_path / 'main.db'}"
    config = write_project(tmp_path, url, 'op.add_column("items", sa.Column("code", sa.String(10), nullable=False))')
    before = lint(config, "--json")
    assert [item["revisions"] for item in json.loads(before.stdout)] == [[BASE, NEXT]]
    assert before.exit_code == 1
    upgraded = CliRunner().invoke(main, ["-c", str(config), "upgrade", "--all", "--to", BASE])
    assert upgraded.exit_code == 0, upgraded.output
    assert [item["revisions"] for item in json.loads(lint(config, "--json").stdout)] == [[NEXT]]
    since = lint(config, "--since", NEXT, "--json")
    assert [item["revisions"] for item in json.loads(since.stdout)] == [[]]


@pytest.mark.parametrize("dialect_url", [PG])
def test_lint_since_in_the_config_is_used_when_the_database_cannot_be_read(tmp_path, dialect_url):
    config = write_project(
        tmp_path,
        "postgresql://nobody@127.0.0.1:1/never",  # refused at once: nothing listens on port 1
        'op.create_index("ix_items_name", "items", ["name"])',
        'op.drop_index("ix_items_name", "items")',
        extra=f"    lint_since: {BASE}\n",
    )
    result = lint(config, "--json")
    assert [item["revisions"] for item in json.loads(result.stdout)] == [[NEXT]]
    assert result.exit_code == 1


def test_since_with_all_revisions_or_an_unknown_since_is_a_one_line_usage_error(tmp_path):
    from assertions import assert_one_clean_error

    config = write_project(tmp_path, PG, 'op.create_index("ix_items_name", "items", ["name"])', "pass")
    both = lint(config, "--since", BASE, "--all-revisions")
    assert both.exit_code == 2
    assert_one_clean_error(both, "--since and --all-revisions", nothing_else=True)
    unknown = lint(config, "--since", "nosuch")
    assert unknown.exit_code == 2
    assert_one_clean_error(unknown, "main", "unknown revision 'nosuch'", nothing_else=True)


@pytest.mark.parametrize(
    ("new", "old", "warns"),
    [
        ("sa.Text()", "sa.String(50)", False),  # varchar -> text: catalog only
        ("sa.String(80)", "sa.Text()", True),  # text -> varchar(n): every value is checked
        ("sa.Numeric(12, 2)", "sa.Numeric(10, 2)", False),  # more precision, same scale
        ("sa.Numeric(12, 4)", "sa.Numeric(10, 2)", True),  # another scale rewrites
        ("sa.BigInteger()", "sa.Integer()", True),
        ("sa.DateTime(timezone=True)", "sa.DateTime()", True),  # depends on the session's time zone: warn
    ],
)
def test_type_change_rewrites_agrees_with_plan_on_what_postgresql_rewrites(tmp_path, new, old, warns):
    """lint and plan read PostgreSQL's rule from one place: a change plan says keeps the rows is no warning."""
    from multidb.deploy_plan import pg_keeps_rows

    change = f'op.alter_column("items", "name", type_={new}, existing_type={old})'
    config = write_project(tmp_path, PG, change, f'op.alter_column("items", "name", type_={old})')
    rules = [f["rule"] for f in findings(lint(config, "--all-revisions", "--json"))]
    assert ("type-change-rewrites" in rules) is warns, rules
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    def ddl(expr: str) -> str:
        return eval(expr, {"sa": sa}).compile(dialect=postgresql.dialect())

    assert (pg_keeps_rows(ddl(old), ddl(new)) is not True) is warns

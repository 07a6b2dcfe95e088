"""``multidb lint`` reads risky changes written as SQL text (``op.execute("ALTER TABLE ...")``, ``sa.text()``)
as it reads the same change made with ``op.*``: same rule, same line, same table and column in the message.

The revisions run on URLs that never connect (``--all-revisions``); the projects are those of
``test_lint_rules`` (``owners``; ``items`` with ``name``, ``owner_id``, ``legacy``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_lint import findings, line_of, lint, revision
from test_lint_rules import NEXT, PG, STILL, STOPPED, next_file, project, rules, run

SQLITE = "sqlite:///never.db"
MARIADB = "mysql+pymysql://nobody@nohost:1/never"
ALLOW_DOWN = "pass  # multidb: allow=no-downgrade"


def found(tmp_path: Path, url: str, body: str, models: str | None = None) -> list[tuple[str, int, str]]:
    """(rule, line, message) of each finding of the revision ``body``; the message lower-cased (a type is
    written ``integer`` in SQL and rendered ``INTEGER`` by SQLAlchemy)."""
    config = project(tmp_path, url, body, ALLOW_DOWN, models=models)
    result = lint(config, "--all-revisions", "--json")
    assert result.exit_code in (0, 1), result.output  # 1: an error finding
    return [(f["rule"], f["line"], f["message"].lower()) for f in findings(result)]


def same_as_op(tmp_path: Path, url: str, op_body: str, sql_body: str, models: str | None = None) -> list:
    """The findings of ``sql_body``, checked to be those of ``op_body`` (and not none)."""
    expected = found(tmp_path / "op", url, op_body, models)
    assert expected, "the op.* form is flagged"
    got = found(tmp_path / "sql", url, sql_body, models)
    assert got == expected
    assert {line for _, line, _ in got} == {line_of(next_file(tmp_path / "sql"), "op.execute")}
    return got


# --- pg-index-not-concurrent -----------------------------------------------------------------------------------

INDEX = 'op.create_index("ix_items_name", "items", ["name"])'


@pytest.mark.parametrize(
    "sql",
    [
        'op.execute("CREATE INDEX ix_items_name ON items (name)")',
        "op.execute(sa.text('create   index\\n ix_items_name on public.items(name)'))",
        """op.execute('CREATE UNIQUE INDEX IF NOT EXISTS "ix_items_name" ON ONLY "items" USING btree (lower(name))')""",
        'op.execute("-- the name index\\nCREATE INDEX ix_items_name ON items (name DESC NULLS LAST);")',
    ],
)
def test_an_index_in_sql_text_is_flagged_as_create_index_is(tmp_path, sql):
    [(rule, _, message)] = same_as_op(tmp_path, PG, INDEX, sql)
    assert (rule, message) == ("pg-index-not-concurrent", "index ix_items_name on items without concurrently")


@pytest.mark.parametrize(
    "sql",
    [
        'op.execute("CREATE INDEX CONCURRENTLY ix_items_name ON items (name)")',
        'op.execute(sa.text("create unique index concurrently if not exists ix_items_name on public.items (name)"))',
        # a table the revision creates (in SQL, in the same string) holds no rows
        'op.execute("CREATE TABLE tags (id int, item_id int); CREATE INDEX ix_tags_item ON tags (item_id)")',
        'op.execute("SELECT 1 -- CREATE INDEX ix_items_name ON items (name)")',
        'op.execute("/* CREATE INDEX ix_items_name ON items (name); */ SELECT 1")',
    ],
)
def test_a_concurrent_index_one_on_a_new_table_or_one_in_a_comment_passes(tmp_path, sql):
    assert found(tmp_path, PG, sql) == []


def test_an_index_in_sql_text_is_not_flagged_on_sqlite_or_mariadb(tmp_path):
    sql = 'op.execute("CREATE INDEX ix_items_name ON items (name)")'
    assert found(tmp_path / "lite", SQLITE, sql) == []
    assert found(tmp_path / "maria", MARIADB, sql) == []


# --- pg-fk-not-valid ---------------------------------------------------------------------------------------------

FK = 'op.create_foreign_key("fk_items_owner", "items", "owners", ["owner_id"], ["id"])'


@pytest.mark.parametrize(
    "sql",
    [
        'op.execute("ALTER TABLE items ADD CONSTRAINT fk_items_owner FOREIGN KEY (owner_id) REFERENCES owners (id)")',
        'op.execute(sa.text(\'alter table only public.items\\n  add constraint "fk_items_owner" '
        "foreign key (owner_id) references owners(id) on delete cascade'))",
    ],
)
def test_a_foreign_key_in_sql_text_gets_the_message_of_create_foreign_key(tmp_path, sql):
    [(rule, _, message)] = same_as_op(tmp_path, PG, FK, sql)
    assert (rule, message) == ("pg-fk-not-valid", "foreign key fk_items_owner on items -> owners without not valid")


def test_a_new_column_referencing_a_table_in_sql_text_is_flagged_as_add_column_is(tmp_path):
    # (REFERENCES in the column definition is what inline_references=True renders)
    import inspect

    from alembic.operations import Operations

    sql = 'op.execute("ALTER TABLE items ADD COLUMN maker_id integer REFERENCES owners (id)")'
    expected = ("pg-fk-not-valid", "column items.maker_id references owners.id without not valid")
    if "inline_references" not in inspect.signature(Operations.add_column).parameters:  # Alembic < 1.16
        [(rule, line, message)] = found(tmp_path, PG, sql)
        assert (rule, message) == expected and line == line_of(next_file(tmp_path), "op.execute")
        return
    column = 'sa.Column("maker_id", sa.Integer(), sa.ForeignKey("owners.id"))'
    op_body = f'op.add_column("items", {column}, inline_references=True)'
    [(rule, _, message)] = same_as_op(tmp_path, PG, op_body, sql)
    assert (rule, message) == expected


@pytest.mark.parametrize(
    "sql",
    [
        'op.execute("ALTER TABLE items ADD CONSTRAINT fk_items_owner FOREIGN KEY (owner_id) REFERENCES owners (id) '
        'NOT VALID")',
        'op.execute("ALTER TABLE items VALIDATE CONSTRAINT fk_items_owner")',
        "op.execute(\"COMMENT ON TABLE items IS 'ALTER TABLE items ADD FOREIGN KEY (owner_id) REFERENCES owners'\")",
    ],
)
def test_a_not_valid_foreign_key_its_validation_or_one_in_a_string_literal_passes(tmp_path, sql):
    assert found(tmp_path, PG, sql) == []


# --- contract-before-expand: drops ---------------------------------------------------------------------------------

DROP_COLUMN = 'op.drop_column("items", "legacy")'


@pytest.mark.parametrize(
    "url, sql",
    [
        (PG, 'op.execute("ALTER TABLE items DROP COLUMN legacy")'),
        (PG, "op.execute(sa.text('alter  table items\\n\\tdrop legacy'))"),
        (PG, 'op.execute("ALTER TABLE IF EXISTS public.items DROP COLUMN IF EXISTS legacy;")'),
        (SQLITE, 'op.execute("ALTER TABLE items DROP COLUMN legacy")'),
        (SQLITE, 'op.execute("ALTER TABLE main.items DROP COLUMN legacy")'),
        (MARIADB, 'op.execute("ALTER TABLE `items` DROP COLUMN `legacy`")'),
        (MARIADB, 'op.execute("ALTER TABLE never.items DROP legacy")'),  # the URL's database
    ],
)
def test_dropping_a_declared_column_in_sql_text_is_flagged_as_drop_column_is(tmp_path, url, sql):
    [(rule, _, message)] = same_as_op(tmp_path, url, DROP_COLUMN, sql, models=STILL)
    assert (rule, message) == (
        "contract-before-expand",
        "column items.legacy is dropped, but the models still declare it",
    )


def test_quoted_and_folded_names_on_postgresql(tmp_path):
    quoted = """op.execute('ALTER TABLE ONLY "items" DROP COLUMN "legacy" CASCADE')"""
    assert same_as_op(tmp_path / "q", PG, DROP_COLUMN, quoted, models=STILL)
    # PostgreSQL folds a name written without quotes to lower case: Legacy is the column legacy
    folded = 'op.execute("ALTER TABLE Items DROP COLUMN Legacy")'
    assert same_as_op(tmp_path / "f", PG, DROP_COLUMN, folded, models=STILL)
    # and a quoted name keeps its case: "Legacy" is another column, which the models do not declare
    assert found(tmp_path / "other", PG, """op.execute('ALTER TABLE items DROP COLUMN "Legacy"')""", STILL) == []


def test_dropping_a_column_the_models_no_longer_declare_a_constraint_or_in_another_schema_passes(tmp_path):
    assert found(tmp_path / "stopped", PG, 'op.execute("ALTER TABLE items DROP COLUMN legacy")', STOPPED) == []
    # a constraint (or an index on MariaDB) named like the column is not the column
    assert found(tmp_path / "constraint", PG, 'op.execute("ALTER TABLE items DROP CONSTRAINT legacy")', STILL) == []
    assert found(tmp_path / "index", MARIADB, 'op.execute("ALTER TABLE items DROP INDEX legacy")', STILL) == []
    # items in another schema is not the models' items (as op.drop_column(..., schema="archive"))
    assert found(tmp_path / "schema", PG, 'op.execute("ALTER TABLE archive.items DROP COLUMN legacy")', STILL) == []


def test_a_name_in_the_default_schema_is_the_models_table_for_op_calls_too(tmp_path):
    qualified = 'op.drop_column("items", "legacy", schema="public")'
    assert same_as_op(tmp_path, PG, qualified, 'op.execute("ALTER TABLE public.items DROP COLUMN legacy")', STILL)


@pytest.mark.parametrize(
    "sql",
    [
        'op.execute("DROP TABLE owners")',
        "op.execute(sa.text('drop table if exists public.\"owners\" cascade'))",
        'op.execute("DROP TABLE IF EXISTS tmp_import, owners;")',
    ],
)
def test_dropping_a_declared_table_in_sql_text_is_flagged_as_drop_table_is(tmp_path, sql):
    [(rule, _, message)] = same_as_op(tmp_path, PG, 'op.drop_table("owners")', sql, models=STILL)
    assert (rule, message) == ("contract-before-expand", "table owners is dropped, but the models still declare it")


def test_dropping_a_table_the_revision_created_passes(tmp_path):
    sql = 'op.execute("CREATE TABLE IF NOT EXISTS owners_copy (id int); DROP TABLE owners_copy")'
    assert found(tmp_path, PG, sql, STILL) == []


# --- rename-breaks-running-code, contract-before-expand: renames ----------------------------------------------------

RENAME_COLUMN = 'op.alter_column("items", "legacy", new_column_name="old_code", existing_type=sa.String(20))'  # (MySQL)
RENAME_TABLE = 'op.rename_table("owners", "people")'


@pytest.mark.parametrize(
    "url, sql",
    [
        (PG, 'op.execute("ALTER TABLE items RENAME COLUMN legacy TO old_code")'),
        (PG, "op.execute(sa.text('alter table only public.items rename legacy to \"old_code\"'))"),
        (SQLITE, 'op.execute("ALTER TABLE items RENAME COLUMN legacy TO old_code")'),
        (MARIADB, 'op.execute("ALTER TABLE items RENAME COLUMN legacy TO old_code")'),
        (MARIADB, 'op.execute("ALTER TABLE `items` CHANGE COLUMN `legacy` `old_code` varchar(20)")'),
    ],
)
def test_renaming_a_column_in_sql_text_is_flagged_as_alter_column_is(tmp_path, url, sql):
    [(rule, _, message)] = same_as_op(tmp_path / "models", url, RENAME_COLUMN, sql, models=STILL)
    assert (rule, message) == (
        "contract-before-expand",
        "column items.legacy is renamed to old_code, but the models still declare it",
    )
    [(rule, _, message)] = same_as_op(tmp_path / "none", url, RENAME_COLUMN, sql)
    assert (rule, message) == ("rename-breaks-running-code", "column items.legacy is renamed to old_code")


@pytest.mark.parametrize(
    "url, sql",
    [
        (PG, 'op.execute("ALTER TABLE owners RENAME TO people")'),
        (PG, "op.execute(sa.text('ALTER TABLE IF EXISTS public.owners RENAME TO people;'))"),
        (SQLITE, 'op.execute("ALTER TABLE \\"owners\\" RENAME TO \\"people\\"")'),
        (MARIADB, 'op.execute("RENAME TABLE owners TO people")'),
    ],
)
def test_renaming_a_table_in_sql_text_is_flagged_as_rename_table_is(tmp_path, url, sql):
    [(rule, _, message)] = same_as_op(tmp_path, url, RENAME_TABLE, sql)
    assert (rule, message) == ("rename-breaks-running-code", "table owners is renamed to people")


def test_a_rename_in_sql_text_in_a_contract_revision_passes(tmp_path):
    config = project(tmp_path, PG, 'op.execute("ALTER TABLE owners RENAME TO people")', ALLOW_DOWN)
    path = next_file(tmp_path)
    path.write_text(path.read_text().replace("depends_on = None", 'depends_on = None\nphase = "contract"'))
    assert rules(lint(config, "--all-revisions", "--json")) == []


def test_renaming_a_constraint_or_an_index_is_no_rename_of_a_column(tmp_path):
    body = 'op.execute("ALTER TABLE items RENAME CONSTRAINT legacy TO old_code; ALTER INDEX ix_a RENAME TO ix_b")'
    assert found(tmp_path, PG, body, STILL) == []


# --- type-change-rewrites, not-null-without-default, pg-set-not-null-scans ------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        'op.execute("ALTER TABLE items ALTER COLUMN name TYPE integer USING name::integer")',
        "op.execute(sa.text('alter table public.items alter name set data type INTEGER'))",
    ],
)
def test_a_type_change_in_sql_text_is_flagged_as_alter_column_is(tmp_path, sql):
    op_body = 'op.alter_column("items", "name", type_=sa.Integer())'
    [(rule, _, message)] = same_as_op(tmp_path, PG, op_body, sql)
    assert (rule, message) == ("type-change-rewrites", "column items.name type to integer")


@pytest.mark.parametrize("url", [PG, SQLITE, MARIADB])
@pytest.mark.parametrize(
    "sql",
    [
        'op.execute("ALTER TABLE items ADD COLUMN code varchar(10) NOT NULL")',
        "op.execute(sa.text('alter table items add code VARCHAR(10) not null'))",
        "op.execute(\"ALTER TABLE items ADD COLUMN code varchar(10) NOT NULL CHECK (code <> 'DEFAULT')\")",
    ],
)
def test_a_not_null_column_without_default_in_sql_text_is_flagged_as_add_column_is(tmp_path, url, sql):
    op_body = 'op.add_column("items", sa.Column("code", sa.String(10), nullable=False))'
    [(rule, _, message)] = same_as_op(tmp_path, url, op_body, sql)
    assert (rule, message) == ("not-null-without-default", "column items.code not null, no default")


@pytest.mark.parametrize(
    "sql",
    [
        "op.execute(\"ALTER TABLE items ADD COLUMN code varchar(10) NOT NULL DEFAULT 'x'\")",
        "op.execute(\"ALTER TABLE items ADD COLUMN code varchar(10) DEFAULT 'x' NOT NULL\")",
        'op.execute("ALTER TABLE items ADD COLUMN code varchar(10)")',
        "op.execute(\"ALTER TABLE items ADD COLUMN code varchar(10) DEFAULT 'NOT NULL'\")",  # a literal
        'op.execute("ALTER TABLE items ADD CONSTRAINT ck_name CHECK (name IS NOT NULL) NOT VALID")',
    ],
)
def test_a_not_null_column_with_a_default_or_a_nullable_one_passes(tmp_path, sql):
    assert found(tmp_path, PG, sql) == []


def test_set_not_null_in_sql_text_is_flagged_as_alter_column_is(tmp_path):
    op_body = 'op.alter_column("items", "name", nullable=False)'
    sql = 'op.execute("ALTER TABLE items ALTER COLUMN name SET NOT NULL")'
    [(rule, _, message)] = same_as_op(tmp_path, PG, op_body, sql)
    assert (rule, message) == ("pg-set-not-null-scans", "column items.name set not null")


NOT_VALID = 'op.execute("ALTER TABLE items ADD CONSTRAINT ck_items_name CHECK (name IS NOT NULL) NOT VALID")'
VALIDATE = 'op.execute("ALTER TABLE items VALIDATE CONSTRAINT ck_items_name")'
SET_NOT_NULL = 'op.alter_column("items", "name", nullable=False)'


def recipe(tmp_path: Path, url: str, *later: str) -> Path:
    """NEXT runs the recipe's first step (the CHECK, NOT VALID); each of ``later`` is one more revision."""
    config = project(tmp_path, url, NOT_VALID, ALLOW_DOWN)
    down = NEXT
    for number, body in enumerate(later, start=3):
        rev = f"{number:012d}"
        revision(tmp_path / "versions", rev, down, body, ALLOW_DOWN)
        down = rev
    return config


def test_set_not_null_after_its_recipe_passes(tmp_path):
    """The last step of pg-set-not-null-scans' own recipe (a valid CHECK proves the column, so PostgreSQL 12+
    does not scan; plan says so too) is not flagged; without the VALIDATE it still is."""
    config = recipe(
        tmp_path / "done", PG, VALIDATE, SET_NOT_NULL + '\n    op.drop_constraint("ck_items_name", "items")'
    )
    assert rules(lint(config, "--all-revisions", "--json")) == []
    config = recipe(tmp_path / "unvalidated", PG, SET_NOT_NULL)
    assert rules(lint(config, "--all-revisions", "--json")) == ["pg-set-not-null-scans"]
    # a CHECK made valid at once (op.create_check_constraint scans then) proves it as well
    body = 'op.create_check_constraint("ck_items_name", "items", "name IS NOT NULL")\n    ' + SET_NOT_NULL
    assert found(tmp_path / "valid", PG, body) == []


@pytest.mark.postgresql
def test_set_not_null_on_a_live_database_whose_check_proves_it_passes(tmp_path, pg_database):
    """Lint of the pending revisions reads the live database's valid CHECKs (as plan does)."""
    url = pg_database()
    config = recipe(tmp_path, url, VALIDATE, SET_NOT_NULL)
    upgraded = run(config, "upgrade", "--all", "--to", "000000000003")
    assert upgraded.exit_code == 0, upgraded.output
    assert rules(lint(config, "--json")) == []
    assert rules(lint(config, "--json")) == []  # (read twice: nothing is left open or changed)


# --- MariaDB/MySQL's MODIFY and CHANGE, parenthesised ADD; CTEs before UPDATE/DELETE; several actions -------------


@pytest.mark.parametrize(
    "sql",
    [
        'op.execute("ALTER TABLE items MODIFY name varchar(100)")',
        "op.execute(sa.text('alter table `items` modify column `name` VARCHAR(100) NULL COMMENT \\'x\\''))",
        # CHANGE to the same name: the column restated, as MODIFY does
        'op.execute("ALTER TABLE items CHANGE COLUMN name name varchar(100) AFTER id")',
    ],
)
def test_modify_and_change_to_the_same_name_are_a_type_change_as_alter_column_is(tmp_path, sql):
    """MariaDB/MySQL's MODIFY (and a CHANGE that keeps the name) restate the whole column: read as
    op.alter_column(type_=) (they used to be left as text, so no rule saw the type change)."""
    op_body = 'op.alter_column("items", "name", type_=sa.String(100))'
    [(rule, _, message)] = same_as_op(tmp_path, MARIADB, op_body, sql)
    assert (rule, message) == ("type-change-rewrites", "column items.name type to varchar(100)")


def test_modify_not_null_is_the_type_change_with_nullable_false_of_alter_column(tmp_path):
    from multidb.lint_sql import records

    [record] = records("ALTER TABLE items MODIFY COLUMN name varchar(100) NOT NULL DEFAULT 'x'", "mariadb", 3)
    assert (record.name, record.args) == ("alter_column", ("items", "name"))
    assert str(record.kwargs["type_"]) == "varchar(100)" and record.kwargs["nullable"] is False
    op_body = 'op.alter_column("items", "name", type_=sa.String(100), nullable=False)'
    sql = "op.execute(\"ALTER TABLE items MODIFY COLUMN name varchar(100) NOT NULL DEFAULT 'x'\")"
    assert same_as_op(tmp_path, MARIADB, op_body, sql)


def test_a_change_that_renames_reads_its_type_as_the_existing_one(tmp_path):
    """CHANGE a b type restates the type whether or not it changes; Alembic writes a rename on MariaDB that
    way (with existing_type): read as the rename, the type as the column's existing one."""
    from multidb.lint_sql import records

    [record] = records("ALTER TABLE items CHANGE legacy old_code varchar(20) NOT NULL", "mariadb", 3)
    assert record.kwargs["name"] == "old_code" and "type_" not in record.kwargs
    assert str(record.kwargs["existing_type"]) == "varchar(20)" and record.kwargs["existing_nullable"] is False


@pytest.mark.parametrize(
    "sql",
    [
        'op.execute("ALTER TABLE items ADD (code varchar(10) NOT NULL, note text, n int NOT NULL)")',
        "op.execute('ALTER TABLE items ADD COLUMN IF NOT EXISTS '\n"
        "           '(code varchar(10) NOT NULL, note text, n int NOT NULL)')",
        # several actions, comma-separated: each read on its own
        'op.execute("ALTER TABLE items ADD code varchar(10) NOT NULL, ADD COLUMN note text, ADD n int NOT NULL")',
    ],
)
def test_a_parenthesised_add_is_one_add_column_per_column(tmp_path, sql):
    op_body = """op.add_column("items", sa.Column("code", sa.String(10), nullable=False))
    op.add_column("items", sa.Column("note", sa.Text()))
    op.add_column("items", sa.Column("n", sa.Integer(), nullable=False))"""
    expected = found(tmp_path / "op", MARIADB, op_body)
    assert [(rule, message) for rule, _, message in expected] == [
        ("not-null-without-default", "column items.code not null, no default"),
        ("not-null-without-default", "column items.n not null, no default"),
    ]
    got = found(tmp_path / "sql", MARIADB, sql)
    line = line_of(next_file(tmp_path / "sql"), "op.execute")
    assert got == [(rule, line, message) for rule, _, message in expected]


def test_several_actions_of_one_statement_are_each_read_modify_and_change_among_them(tmp_path):
    body = (
        'op.execute("ALTER TABLE items ADD code varchar(10) NOT NULL, MODIFY name varchar(100), '
        'CHANGE legacy old_code varchar(20), ALGORITHM=INPLACE, LOCK=NONE")'
    )
    op_body = """op.add_column("items", sa.Column("code", sa.String(10), nullable=False))
    op.alter_column("items", "name", type_=sa.String(100))
    op.alter_column("items", "legacy", new_column_name="old_code", existing_type=sa.String(20))"""
    expected = found(tmp_path / "op", MARIADB, op_body, STILL)
    got = found(tmp_path / "sql", MARIADB, body, STILL)
    assert [(rule, message) for rule, _, message in got] == [(rule, message) for rule, _, message in expected]
    assert [rule for rule, _, _ in got] == [
        "not-null-without-default",
        "type-change-rewrites",
        "contract-before-expand",
    ]


@pytest.mark.parametrize(
    ("url", "sql", "message"),
    [
        (
            PG,
            "op.execute(\"WITH o AS (SELECT id FROM owners) UPDATE items SET name = 'x'\")",
            "update of every row of items (no where); table size unknown",
        ),
        (
            PG,
            'op.execute("WITH RECURSIVE o (id) AS MATERIALIZED (SELECT id FROM owners WHERE id > 1), '
            'p AS NOT MATERIALIZED (SELECT 1) DELETE FROM ONLY items")',
            "delete of every row of items (no where); table size unknown",
        ),
        (
            SQLITE,
            "op.execute(\"with o as (select id from owners where id > 1) update items set name = 'x'\")",
            "update of every row of items (no where); table size unknown",
        ),
    ],
)
def test_an_update_or_delete_after_ctes_is_read_as_the_update_or_delete(tmp_path, url, sql, message):
    verb = "update" if "update" in message[:6] else "delete"
    op_body = f'op.execute(sa.{verb}(sa.table("items")))'
    [(rule, _, got)] = same_as_op(tmp_path, url, op_body, sql)
    assert (rule, got) == ("unbatched-update", message)


def test_an_update_after_a_cte_with_a_where_of_its_own_passes_and_is_a_data_change_on_mariadb(tmp_path):
    where = "op.execute(\"WITH o AS (SELECT id FROM owners) UPDATE items SET name = 'x' WHERE owner_id IN (1)\")"
    assert found(tmp_path / "pg", PG, where) == []
    body = where.replace('op.execute("', 'op.execute("ALTER TABLE items ADD COLUMN note text; ')
    assert [rule for rule, _, _ in found(tmp_path / "maria", MARIADB, body)] == ["mariadb-ddl-with-dml"]


# --- several statements, comments, literals, what is not read ------------------------------------------------------


def test_each_statement_of_a_string_is_read(tmp_path):
    body = """op.execute(
        \"\"\"
        ALTER TABLE items ADD COLUMN code integer;
        CREATE INDEX ix_items_code ON items (code);
        ALTER TABLE items DROP COLUMN legacy, ALTER COLUMN name SET NOT NULL
        \"\"\"
    )"""
    got = found(tmp_path, PG, body, STILL)
    line = line_of(next_file(tmp_path), "op.execute")
    assert [(rule, message) for rule, _, message in got] == [
        ("pg-index-not-concurrent", "index ix_items_code on items without concurrently"),
        ("contract-before-expand", "column items.legacy is dropped, but the models still declare it"),
        ("pg-set-not-null-scans", "column items.name set not null"),
    ]
    assert {at for _, at, _ in got} <= {line, line + 1}  # the call's line (Python versions differ on which)


def test_each_update_of_a_string_is_read_and_a_where_in_a_literal_is_no_where(tmp_path):
    body = "op.execute(\"UPDATE items SET name = 'x'; DELETE FROM owners; UPDATE items SET legacy = ' WHERE '\")"
    got = found(tmp_path, PG, body)
    assert [(rule, message) for rule, _, message in got] == [
        ("unbatched-update", "update of every row of items (no where); table size unknown"),
        ("unbatched-update", "delete of every row of owners (no where); table size unknown"),
        ("unbatched-update", "update of every row of items (no where); table size unknown"),
    ]


def test_a_data_change_after_ddl_in_one_string_warns_on_mariadb(tmp_path):
    body = "op.execute(\"ALTER TABLE items ADD COLUMN note text; UPDATE items SET note = 'x' WHERE note IS NULL\")"
    assert [rule for rule, _, _ in found(tmp_path, MARIADB, body)] == ["mariadb-ddl-with-dml"]
    assert found(tmp_path / "pg", PG, body) == []


@pytest.mark.parametrize(
    "url, sql",
    [
        # inside a string literal, a dollar-quoted body or a comment: not statements of the revision
        (PG, "op.execute(\"INSERT INTO items (id, name) VALUES (1, 'x; ALTER TABLE items DROP COLUMN legacy')\")"),
        (PG, "op.execute(\"INSERT INTO items (id, name) VALUES (1, E'it\\\\'s; DROP TABLE owners')\")"),
        (PG, "op.execute(\"DO $$ BEGIN EXECUTE 'DROP TABLE owners'; END $$\")"),
        (PG, 'op.execute("DO $body$ BEGIN ALTER TABLE items DROP COLUMN legacy; END $body$")'),
        (PG, 'op.execute("/* outer /* nested */ DROP TABLE owners; */ SELECT 1")'),
        (MARIADB, "op.execute(\"INSERT INTO items (id, name) VALUES (1, 'it\\\\'s; DROP TABLE owners')\")"),
        (MARIADB, 'op.execute("SELECT 1 # DROP TABLE owners")'),
    ],
)
def test_statements_in_literals_or_comments_and_statements_not_read_pass(tmp_path, url, sql):
    assert found(tmp_path, url, sql, STILL) == []


@pytest.mark.parametrize(
    "sql",
    [
        # a WHERE inside parentheses (a subquery) is no WHERE of the UPDATE
        'op.execute("UPDATE items SET name = (SELECT min(o.id) FROM owners o WHERE o.id = items.owner_id)")',
        "op.execute(sa.text('update only public.items set name = :n'))",
    ],
)
def test_an_update_without_a_where_of_its_own_is_flagged(tmp_path, sql):
    assert [rule for rule, _, _ in found(tmp_path, PG, sql)] == ["unbatched-update"]


@pytest.mark.parametrize(
    "url, sql",
    [
        # not read (no guessing): a query that starts with WITH and is no UPDATE or DELETE
        (PG, "op.execute(\"WITH o AS (SELECT id FROM owners) INSERT INTO items (name) SELECT 'x' FROM o\")"),
        # values computed per row: a serial, an identity, a generated column are not missing a default
        (PG, 'op.execute("ALTER TABLE items ADD COLUMN n bigserial NOT NULL")'),
        (PG, 'op.execute("ALTER TABLE items ADD COLUMN n int NOT NULL GENERATED ALWAYS AS IDENTITY")'),
        (MARIADB, 'op.execute("ALTER TABLE items ADD COLUMN n int NOT NULL AUTO_INCREMENT UNIQUE")'),
    ],
)
def test_shapes_not_read_and_computed_columns_pass(tmp_path, url, sql):
    assert found(tmp_path, url, sql) == []


def test_an_unnamed_index_is_flagged(tmp_path):
    [(rule, _, message)] = found(tmp_path, PG, 'op.execute("CREATE INDEX ON items (name)")')
    assert rule == "pg-index-not-concurrent" and message.endswith(" on items without concurrently")


# --- the reader itself -----------------------------------------------------------------------------------------


def texts(sql: str, dialect: str = "postgresql") -> list[list[str]]:
    from multidb.lint_sql import statements

    return [[t.text for t in statement] for statement in statements(sql, dialect)]


def test_the_reader_cuts_statements_at_semicolons_outside_literals_names_and_comments():
    sql = """-- one; two
    ALTER TABLE "a;b" ADD c text DEFAULT 'x;y'; /* x; /* nested; */ y; */ SELECT $f$ ; $f$;;
    SELECT E'it\\'s;' , $$;$$"""
    assert texts(sql) == [
        ["ALTER", "TABLE", "a;b", "ADD", "c", "text", "DEFAULT", "'x;y'"],
        ["SELECT", "$f$ ; $f$"],
        ["SELECT", "E'it\\'s;'", ",", "$$;$$"],
    ]


def test_the_reader_follows_each_dialects_quoting():
    # MariaDB: a backslash escapes in strings, # starts a comment, `name` is a name
    assert texts("SELECT 'a\\';b' # x; y\n; ALTER TABLE `t``x` DROP c", "mariadb") == [
        ["SELECT", "'a\\';b'"],
        ["ALTER", "TABLE", "t`x", "DROP", "c"],
    ]
    # PostgreSQL: a backslash is an ordinary character in a standard string; "" is a quote in a name
    assert texts('SELECT \'a\\\'; SELECT "x""y"') == [["SELECT", "'a\\'"], ["SELECT", 'x"y']]
    # SQLite: [name] is a name
    assert texts("DROP TABLE [my table]; SELECT 1", "sqlite") == [["DROP", "TABLE", "my table"], ["SELECT", "1"]]
    # an unterminated literal or comment runs to the end
    assert texts("SELECT 'a; DROP TABLE t") == [["SELECT", "'a; DROP TABLE t"]]
    assert texts("SELECT 1 /* DROP TABLE t") == [["SELECT", "1"]]


def test_a_statement_not_read_stays_its_own_text():
    from multidb.lint_sql import records

    [first, second] = records("/* note */ CREATE EXTENSION citext ; VACUUM items -- now", "postgresql", 7)
    assert (first.name, first.args, first.line) == ("execute", ("CREATE EXTENSION citext",), 7)
    assert (second.name, second.args) == ("execute", ("VACUUM items",))


WORDS = [
    "ALTER", "TABLE", "ADD", "DROP", "COLUMN", "CONSTRAINT", "FOREIGN", "KEY", "REFERENCES", "RENAME", "TO",
    "CREATE", "INDEX", "ON", "ONLY", "IF", "EXISTS", "NOT", "NULL", "DEFAULT", "TYPE", "SET", "UPDATE", "DELETE",
    "FROM", "WHERE", "CHANGE", "MODIFY", "WITH", "AS", "RECURSIVE", "MATERIALIZED", "items", '"x"', "(", ")", ",",
    ".", ";", "'s'", "1", "--", "/*", "$$", "`",
]  # fmt: skip


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite", "mariadb"])
def test_the_reader_never_fails_on_any_sequence_of_sql_words(dialect):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from multidb.lint_sql import records

    @settings(max_examples=300, deadline=None, database=None)
    @given(st.lists(st.sampled_from(WORDS), max_size=14))
    def check(words: list[str]) -> None:
        for op in records(" ".join(words), dialect, 1):  # each statement read, or kept as its text
            assert op.line == 1 and op.name in {
                "execute", "create_index", "create_table", "drop_table", "rename_table", "add_column",
                "drop_column", "alter_column", "add_constraint",
            }  # fmt: skip

    check()


# --- a table rebuilt by hand (SQLite's way to change what ALTER TABLE cannot) ------------------------------------

KEPT = "id integer PRIMARY KEY, name varchar(50), owner_id integer, legacy varchar(20)"
REBUILD_SQL = """op.execute(
        \"\"\"
        CREATE TABLE items_new (COLUMNS, CONSTRAINT uq_name UNIQUE (name));
        INSERT INTO items_new SELECT * FROM items;
        DROP TABLE items;
        ALTER TABLE items_new RENAME TO items;
        \"\"\"
    )"""


def rebuild(columns: str) -> str:
    return REBUILD_SQL.replace("COLUMNS", columns)


def test_a_table_rebuilt_by_hand_is_a_rebuild_not_a_drop(tmp_path):
    # every column the models declare is kept: no drop, no rename to report
    assert found(tmp_path / "kept", SQLITE, rebuild(KEPT), STILL) == []
    # legacy left out while the models declare it
    [(rule, line, message)] = found(tmp_path / "lost", SQLITE, rebuild(KEPT.rsplit(",", 1)[0]), STILL)
    assert (rule, message) == (
        "contract-before-expand",
        "rebuild of items leaves out items.legacy, which the models still declare",
    )
    assert line in (
        line_of(next_file(tmp_path / "lost"), "op.execute"),
        line_of(next_file(tmp_path / "lost"), "CREATE"),
    )
    # the same rebuild made with op.* is read the same way (one rule, two ways to write it)
    ops = (
        'op.create_table("items_new", sa.Column("id", sa.Integer(), primary_key=True), '
        'sa.Column("name", sa.String(50)), sa.Column("owner_id", sa.Integer()))\n'
        '    op.execute("INSERT INTO items_new SELECT id, name, owner_id FROM items")\n'
        '    op.drop_table("items")\n'
        '    op.rename_table("items_new", "items")'
    )
    assert [(r, m) for r, _, m in found(tmp_path / "ops", SQLITE, ops, STILL)] == [(rule, message)]


def test_a_large_table_rebuilt_by_hand_on_sqlite_warns(tmp_path):
    from test_lint_rules import _live

    config = _live(tmp_path, f"sqlite:///{tmp_path / 'main.db'}", rebuild(KEPT), 60)
    result = lint(config, "--json")
    assert [(f["rule"], f["message"]) for f in findings(result)] == [
        ("sqlite-batch-rebuild-large", "rebuild of items, at least 50 rows (lint_large_table_rows: 50)")
    ]


def test_a_new_table_created_under_another_name_and_renamed_is_no_rebuild(tmp_path):
    body = 'op.execute("CREATE TABLE tags_tmp (id int); ALTER TABLE tags_tmp RENAME TO tags; DROP TABLE owners")'
    assert [rule for rule, _, _ in found(tmp_path, SQLITE, body, STILL)] == ["contract-before-expand"]


@pytest.mark.postgresql
def test_plan_shows_no_set_not_null_finding_after_the_recipe(tmp_path, pg_database):
    """plan's lint findings follow the same rule: the pending recipe's last step, with its CHECK validated by
    the pending revision before it, is neither a scan nor a finding."""
    import json

    url = pg_database()
    config = recipe(tmp_path, url, VALIDATE, SET_NOT_NULL)
    upgraded = run(config, "upgrade", "--all", "--to", NEXT)
    assert upgraded.exit_code == 0, upgraded.output
    result = run(config, "plan", "--json")
    assert result.exit_code == 0, result.output
    [db] = json.loads(result.stdout)
    assert [[f["rule"] for f in rev["findings"]] for rev in db["revisions"]] == [[], []]

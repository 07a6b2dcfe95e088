"""``multidb plan`` / ``upgrade --plan``: the pending revisions' statements, their PostgreSQL locks and the
live tables' sizes, with lint findings, and nothing changed."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool
from test_ledger import run, versions
from test_lint import BASE, NEXT, write_project  # (the same small project)
from test_lint_rules import fill

INDEX = 'op.create_index("ix_items_name", "items", ["name"])'
DROP = 'op.drop_index("ix_items_name", "items")'


@pytest.mark.postgresql
def test_plan_shows_the_lock_and_the_row_estimate_of_each_pending_statement(tmp_path, pg_database):
    url = pg_database()
    config = write_project(tmp_path, url, INDEX, DROP)
    assert run(config, "upgrade", "--all", "--to", BASE).exit_code == 0
    fill(url, 5000)

    result = run(config, "plan", "--json")
    assert result.exit_code == 0, result.output
    [db] = json.loads(result.stdout)
    assert db["current"] == [BASE]
    engine = sa.create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:  # the SQL is rendered for the live server's version
        server = ".".join(str(part) for part in conn.dialect.server_version_info)
    engine.dispose()
    assert db["server_version"] == server
    [rev] = db["revisions"]
    assert rev["revision"] == NEXT
    [statement] = rev["statements"]  # the version and ledger rows are not shown
    assert statement["sql"].startswith("CREATE INDEX ix_items_name ON items")
    assert (statement["table"], statement["lock"], statement["rows"]) == ("items", "SHARE", 5000)
    assert statement["bytes"] > 0
    assert [f["rule"] for f in rev["findings"]] == ["pg-index-not-concurrent"]

    text = run(config, "upgrade", "--all", "--plan")
    assert text.exit_code == 0
    assert f"main (postgresql {server}): 1 pending revision(s)" in text.stdout, text.stdout
    assert "lock SHARE on items, scans (writes wait); ~5000 rows" in text.stdout, text.stdout
    assert "lint: error pg-index-not-concurrent" in text.stdout
    assert versions(url) == {BASE}  # nothing ran


def test_plan_on_sqlite_counts_rows_and_changes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'main.db'}"
    config = write_project(tmp_path, url, INDEX, DROP)
    assert run(config, "upgrade", "--all", "--to", BASE).exit_code == 0
    fill(url, 3)
    [db] = json.loads(run(config, "plan", "--json").stdout)
    [statement] = db["revisions"][0]["statements"]
    assert (statement["table"], statement["lock"], statement["rows"]) == ("items", None, 3)
    assert versions(url) == {BASE}


def test_upgrade_plan_with_sql_atomic_or_a_target_is_a_usage_error(tmp_path):
    from assertions import assert_one_clean_error

    url = f"sqlite:///{tmp_path / 'main.db'}"
    config = write_project(tmp_path, url, INDEX, DROP)
    for extra in (["--sql"], ["--atomic"], ["--to", BASE]):
        result = run(config, "upgrade", "--all", "--plan", *extra)
        assert result.exit_code == 2, result.output
        assert_one_clean_error(result, "--plan", nothing_else=True)
    assert not (tmp_path / "main.db").exists()  # nothing ran, nothing was created


@pytest.mark.parametrize(
    ("sql", "lock", "effect"),
    [
        # from the SQL alone a type change may or may not rewrite: it depends on the column's type now (plan
        # reads it from the live database; tests/test_plan_truth.py)
        ("ALTER TABLE orders ALTER COLUMN total TYPE NUMERIC(12, 2)", "ACCESS EXCLUSIVE", "may rewrite"),
        ("ALTER TABLE orders ALTER total SET DATA TYPE BIGINT", "ACCESS EXCLUSIVE", "may rewrite"),
        # a column named "type" is not a type change
        ("ALTER TABLE orders ADD COLUMN type VARCHAR(8)", "ACCESS EXCLUSIVE", ""),
        ("ALTER TABLE orders ADD COLUMN kind VARCHAR(8) DEFAULT 'type'", "ACCESS EXCLUSIVE", ""),
        # PostgreSQL 11+: a constant or stable default is stored once; a value computed per row rewrites
        ("ALTER TABLE orders ADD COLUMN seen TIMESTAMP DEFAULT now() NOT NULL", "ACCESS EXCLUSIVE", ""),
        ("ALTER TABLE orders ADD COLUMN token UUID DEFAULT gen_random_uuid()", "ACCESS EXCLUSIVE", "rewrites"),
        ("ALTER TABLE orders ADD COLUMN at TIMESTAMP DEFAULT clock_timestamp()", "ACCESS EXCLUSIVE", "rewrites"),
        ("ALTER TABLE orders ADD COLUMN n BIGSERIAL", "ACCESS EXCLUSIVE", "rewrites"),
        ("ALTER TABLE orders ADD COLUMN n INTEGER GENERATED ALWAYS AS IDENTITY", "ACCESS EXCLUSIVE", "rewrites"),
        # a function plan cannot look up (no live database): its volatility is unknown
        ("ALTER TABLE orders ADD COLUMN code TEXT DEFAULT next_code()", "ACCESS EXCLUSIVE", "may rewrite"),
        # a new column's key is checked against the rows when the column has a DEFAULT clause (even NULL)
        ("ALTER TABLE orders ADD COLUMN owner INT DEFAULT 1 REFERENCES owners (id)", "ACCESS EXCLUSIVE", "scans"),
        ("ALTER TABLE orders ADD COLUMN owner INT DEFAULT NULL REFERENCES owners (id)", "ACCESS EXCLUSIVE", "scans"),
        ("ALTER TABLE orders ADD COLUMN owner INT REFERENCES owners (id)", "ACCESS EXCLUSIVE", ""),
        (
            "ALTER TABLE orders ADD COLUMN owner INT REFERENCES owners (id) ON DELETE SET DEFAULT",
            "ACCESS EXCLUSIVE",
            "",
        ),
        (
            "ALTER TABLE orders ADD COLUMN t UUID DEFAULT gen_random_uuid() REFERENCES t (id)",
            "ACCESS EXCLUSIVE",
            "rewrites",
        ),
        # no live database: no CHECK constraint is known to prove the column not null, no index's columns
        ("ALTER TABLE orders ALTER COLUMN total SET NOT NULL", "ACCESS EXCLUSIVE", "scans"),
        # a table constraint with or without a name; a column's own constraint is checked, or indexed, too
        ("ALTER TABLE orders ADD UNIQUE (code)", "ACCESS EXCLUSIVE", "scans"),
        ("ALTER TABLE orders ADD CHECK (total > 0)", "ACCESS EXCLUSIVE", "scans"),
        ("ALTER TABLE orders ADD CHECK (total > 0) NOT VALID", "ACCESS EXCLUSIVE", ""),
        ("ALTER TABLE orders ADD COLUMN n INTEGER CHECK (n > 0)", "ACCESS EXCLUSIVE", "scans"),
        ("ALTER TABLE orders ADD COLUMN code VARCHAR(8) UNIQUE", "ACCESS EXCLUSIVE", "scans"),
        ("ALTER TABLE orders ADD COLUMN n BIGSERIAL PRIMARY KEY", "ACCESS EXCLUSIVE", "rewrites"),
        ("ALTER TABLE orders ADD COLUMN unique_code VARCHAR(8)", "ACCESS EXCLUSIVE", ""),
        ("ALTER TABLE orders ADD COLUMN z INT, ADD CONSTRAINT ck CHECK (total > 0) NOT VALID", "ACCESS EXCLUSIVE", ""),
        ("ALTER TABLE orders ADD COLUMN z INT, ADD COLUMN y INT UNIQUE", "ACCESS EXCLUSIVE", "scans"),
        # no live database: the table is taken to be the other kind
        ("ALTER TABLE orders SET UNLOGGED", "ACCESS EXCLUSIVE", "rewrites"),
        ("CLUSTER orders USING ix_orders_type", "ACCESS EXCLUSIVE", "rewrites"),
        ("CLUSTER VERBOSE orders", "ACCESS EXCLUSIVE", "rewrites"),
        ("REINDEX TABLE orders", "SHARE", "scans (writes wait)"),
        ("REINDEX (VERBOSE) INDEX ix_orders_type", "SHARE", "scans (writes wait)"),
        ("REINDEX INDEX CONCURRENTLY ix_orders_type", "SHARE UPDATE EXCLUSIVE", "scans (writes go on)"),
        ("ALTER TABLE orders ADD CONSTRAINT uq UNIQUE USING INDEX ix_orders_code", "ACCESS EXCLUSIVE", ""),
        ("ALTER TABLE orders ADD CONSTRAINT pk PRIMARY KEY USING INDEX ix_orders_code", "ACCESS EXCLUSIVE", "scans"),
        ("COMMENT ON COLUMN orders.total IS 'in cents'", "SHARE UPDATE EXCLUSIVE", ""),
        ("ALTER TABLE orders ALTER COLUMN total SET STATISTICS 500", "SHARE UPDATE EXCLUSIVE", ""),
        ("ALTER TABLE orders SET (fillfactor = 70, autovacuum_enabled = false)", "SHARE UPDATE EXCLUSIVE", ""),
        ("ALTER TABLE orders SET (user_catalog_table = true)", "ACCESS EXCLUSIVE", ""),
        ("ALTER TABLE orders ALTER COLUMN total DROP DEFAULT", "ACCESS EXCLUSIVE", ""),
        ("CREATE TABLE lines (id INT, order_id INT REFERENCES orders (id))", None, ""),
        ("ALTER TABLE orders DISABLE TRIGGER audit", "SHARE ROW EXCLUSIVE", ""),
        ("CREATE INDEX ix_orders_type ON orders (type)", "SHARE", "scans (writes wait)"),
        ("CREATE INDEX CONCURRENTLY ix ON orders (customer_id)", "SHARE UPDATE EXCLUSIVE", "scans (writes go on)"),
        # without a WHERE every row is read; with one, the query planner decides (an index or a scan)
        ("UPDATE orders SET type = 'x'", "ROW EXCLUSIVE", "scans"),
        ("DELETE FROM orders", "ROW EXCLUSIVE", "scans"),
        ("UPDATE orders SET type = 'x' WHERE id = 1", "ROW EXCLUSIVE", ""),
        ("DELETE FROM orders WHERE id IN (SELECT id FROM old)", "ROW EXCLUSIVE", ""),
        ("UPDATE orders SET type = (SELECT t FROM kinds WHERE k = 1)", "ROW EXCLUSIVE", "scans"),
        ("UPDATE orders SET note = 'x WHERE y'", "ROW EXCLUSIVE", "scans"),
        ("INSERT INTO orders (id) VALUES (1)", "ROW EXCLUSIVE", ""),
    ],
)
def test_postgresql_lock_and_effect_of_a_statement(sql, lock, effect):
    from multidb.deploy_plan import pg_lock

    assert pg_lock(sql) == (lock, effect)


@pytest.mark.parametrize(
    ("earlier", "effect"),
    [
        (["ALTER TABLE orders ADD CONSTRAINT ck CHECK (total IS NOT NULL)"], ""),
        (["ALTER TABLE orders ADD CONSTRAINT ck CHECK (total IS NOT NULL AND total > 0)"], ""),
        (["ALTER TABLE orders ADD CONSTRAINT ck CHECK (total IS NOT NULL OR note IS NOT NULL)"], "scans"),
        (["ALTER TABLE orders ADD CONSTRAINT ck CHECK (subtotal IS NOT NULL)"], "scans"),
        (["ALTER TABLE orders ADD CONSTRAINT ck CHECK (total IS NOT NULL) NOT VALID"], "scans"),
        (
            [
                "ALTER TABLE orders ADD CONSTRAINT ck CHECK (total IS NOT NULL) NOT VALID",
                "ALTER TABLE orders VALIDATE CONSTRAINT ck",
            ],
            "",
        ),
        (
            [
                "ALTER TABLE orders ADD CONSTRAINT ck CHECK (total IS NOT NULL)",
                "ALTER TABLE orders DROP CONSTRAINT ck",
            ],
            "scans",
        ),
        (["ALTER TABLE lines ADD CONSTRAINT ck CHECK (total IS NOT NULL)"], "scans"),
    ],
)
def test_set_not_null_after_a_check_that_proves_it_reads_no_row(earlier, effect):
    """PostgreSQL 12+ sets NOT NULL without reading the rows when a valid CHECK constraint proves the column is
    not null (the last step of lint's pg-set-not-null-scans recipe); the plan's earlier statements count."""
    from multidb.deploy_plan import Catalog, pg_locks

    catalog = Catalog(None)
    for sql in earlier:
        catalog.saw(sql, sql.split()[2])
    lock, found, _ = pg_locks("ALTER TABLE orders ALTER COLUMN total SET NOT NULL", catalog, "orders")
    assert (lock, found) == ("ACCESS EXCLUSIVE", effect)


@pytest.mark.parametrize(
    ("sql", "table"),
    [
        ("REINDEX TABLE CONCURRENTLY items", "items"),
        ("REINDEX (VERBOSE) TABLE items", "items"),
        ("CLUSTER VERBOSE items USING ix_items_name", "items"),
        ("CLUSTER items", "items"),
    ],
)
def test_the_table_of_a_reindex_or_cluster(sql, table):
    from multidb.deploy_plan import table_of

    assert table_of(sql) == table


def test_a_type_change_locks_the_other_end_of_the_foreign_keys_on_the_column():
    """PostgreSQL drops the column's foreign keys and adds them again: ACCESS EXCLUSIVE on the other table too
    (tests/test_plan_truth.py checks it on a live database; here the key is the plan's own)."""
    from multidb.deploy_plan import Catalog, OtherLock, pg_locks

    catalog = Catalog(None)
    catalog.saw("ALTER TABLE lines ADD CONSTRAINT fk FOREIGN KEY (order_id) REFERENCES orders (id)", "lines")
    _, _, others = pg_locks("ALTER TABLE lines ALTER COLUMN order_id TYPE BIGINT", catalog, "lines")
    assert others == (OtherLock("orders", "ACCESS EXCLUSIVE"),)
    _, _, others = pg_locks("ALTER TABLE lines ALTER COLUMN note TYPE TEXT", catalog, "lines")
    assert others == ()


@pytest.mark.mariadb
def test_plan_on_mariadb_is_rendered_for_the_live_server(tmp_path, mariadb_database):
    url = mariadb_database()
    config = write_project(tmp_path, url, INDEX, DROP)
    assert run(config, "upgrade", "--all", "--to", BASE).exit_code == 0
    fill(url, 7)
    engine = sa.create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        server = ".".join(str(part) for part in conn.dialect.server_version_info)
    engine.dispose()
    result = run(config, "plan", "--json")
    assert result.exit_code == 0, result.output
    [db] = json.loads(result.stdout)
    assert db["server_version"] == server
    [statement] = db["revisions"][0]["statements"]
    assert statement["sql"].startswith("CREATE INDEX ix_items_name ON items")
    assert (statement["table"], statement["lock"]) == ("items", None)  # (locks are shown for PostgreSQL)
    assert 1 <= statement["rows"] <= 20  # InnoDB's estimate
    assert versions(url) == {BASE}


def test_a_lock_on_a_table_plan_cannot_name_says_so_instead_of_none():
    """DROP INDEX of an index the live database does not have: PostgreSQL locks its table, which plan cannot
    name; the text said 'on None'."""
    from multidb import render
    from multidb.deploy_plan import DatabasePlan, PlannedRevision, Statement

    statement = Statement("DROP INDEX ix_gone", None, "ACCESS EXCLUSIVE", "", None, None)
    plan = DatabasePlan("catalog", "postgresql", (), (PlannedRevision("r1", "r1.py", (statement,), ()),), "15.2")
    text = render.plans([plan])
    assert "None" not in text, text
    assert "lock ACCESS EXCLUSIVE on its table (not found in the database)" in text, text

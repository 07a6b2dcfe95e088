"""Issue #16's acceptance: on a PostgreSQL table of 1,000,000 rows, ``plan`` shows what the pending revisions
would lock and how big the table is, ``lint`` refuses the unsafe versions with their fixes, and the safe
versions pass lint, show the lighter lock and run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool
from test_ledger import run, versions
from test_lint import revision

ROWS = 1_000_000
FIRST, COLUMN, INDEX = "ac0000000001", "ac0000000002", "ac0000000003"

CREATE = """op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text()),
    )"""
UNSAFE_COLUMN = 'op.add_column("orders", sa.Column("region", sa.String(8), nullable=False))'
SAFE_COLUMN = 'op.add_column("orders", sa.Column("region", sa.String(8), server_default="eu", nullable=False))'
UNSAFE_INDEX = 'op.create_index("ix_orders_customer_id", "orders", ["customer_id"])'
SAFE_INDEX = """with op.get_context().autocommit_block():
        op.create_index("ix_orders_customer_id", "orders", ["customer_id"], postgresql_concurrently=True)"""
DROP_INDEX = """with op.get_context().autocommit_block():
        op.drop_index("ix_orders_customer_id", "orders", postgresql_concurrently=True)"""


def write_project(root: Path, url: str, column: str, index: str) -> Path:
    """``main``: FIRST creates ``orders``; COLUMN and INDEX (pending in the tests) change it."""
    folder = root / "versions"
    folder.mkdir(parents=True, exist_ok=True)
    revision(folder, FIRST, None, CREATE, 'op.drop_table("orders")')
    revision(folder, COLUMN, FIRST, column, 'op.drop_column("orders", "region")')
    revision(folder, INDEX, COLUMN, index, DROP_INDEX)
    config = root / "config" / "multidb.yaml"
    config.parent.mkdir(exist_ok=True)
    bases = "    bases:\n      - label: main\n        path: ../versions\n"
    config.write_text(f"databases:\n  main:\n    url: {url}\n{bases}")
    return config


def fill(url: str) -> None:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO orders (id, customer_id, created_at, payload) "
                    "SELECT g, g % 50000, now() - g * interval '1 second', md5(g::text) "
                    "FROM generate_series(1, :rows) AS g"
                ),
                {"rows": ROWS},
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE orders"))
    finally:
        engine.dispose()


def indexes(url: str) -> dict[str, bool]:
    """The ``orders`` indexes by name, each with whether PostgreSQL considers it valid."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                sa.text(
                    "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE i.indrelid = 'orders'::regclass"
                )
            )
            return {name: valid for name, valid in found}
    finally:
        engine.dispose()


def statements(config: Path) -> dict[str, list[dict]]:
    result = run(config, "plan", "--json")
    assert result.exit_code == 0, result.output
    [db] = json.loads(result.stdout)
    assert db["current"] == [FIRST]
    return {r["revision"]: r for r in db["revisions"]}


def assert_big(statement: dict) -> None:
    assert statement["table"] == "orders"
    assert 0.9 * ROWS <= statement["rows"] <= 1.1 * ROWS, statement  # reltuples: ANALYZE's estimate
    assert statement["bytes"] > 50 * 2**20, statement  # heap + primary key of a million rows


@pytest.mark.postgresql
def test_a_million_row_table_plan_and_lint_refuse_the_unsafe_revisions_and_pass_the_safe_ones(tmp_path, pg_database):
    url = pg_database()
    config = write_project(tmp_path, url, UNSAFE_COLUMN, UNSAFE_INDEX)
    assert run(config, "upgrade", "--all", "--to", FIRST).exit_code == 0
    fill(url)

    # the unsafe versions: plan shows the locks and the table's size, lint refuses both with their fixes
    revisions = statements(config)
    assert list(revisions) == [COLUMN, INDEX]
    [add] = revisions[COLUMN]["statements"]
    assert add["sql"].startswith("ALTER TABLE orders ADD COLUMN region") and "NOT NULL" in add["sql"]
    assert add["lock"] == "ACCESS EXCLUSIVE"
    assert_big(add)
    [create] = revisions[INDEX]["statements"]
    assert create["sql"].startswith("CREATE INDEX ix_orders_customer_id ON orders")
    assert (create["lock"], create["effect"]) == ("SHARE", "scans (writes wait)")
    assert_big(create)
    assert [f["rule"] for f in revisions[COLUMN]["findings"]] == ["not-null-without-default"]
    assert [f["rule"] for f in revisions[INDEX]["findings"]] == ["pg-index-not-concurrent"]

    text = run(config, "plan", "main")
    assert text.exit_code == 0, text.output
    estimate = f"~{create['rows']} rows, {create['bytes']} bytes in orders"
    assert f"lock ACCESS EXCLUSIVE on orders; {estimate}" in text.stdout, text.stdout
    assert f"lock SHARE on orders, scans (writes wait); {estimate}" in text.stdout, text.stdout

    result = run(config, "lint", "main", "--json")
    assert result.exit_code == 1, result.output
    [db] = json.loads(result.stdout)
    found = {f["rule"]: f for f in db["findings"]}
    assert set(found) == {"not-null-without-default", "pg-index-not-concurrent"}
    assert (found["not-null-without-default"]["revision"], found["pg-index-not-concurrent"]["revision"]) == (
        COLUMN,
        INDEX,
    )
    assert "server_default=" in found["not-null-without-default"]["fix"]
    assert "postgresql_concurrently=True" in found["pg-index-not-concurrent"]["fix"]
    assert all(f["severity"] == "error" for f in found.values())
    text = run(config, "lint", "main")
    assert text.exit_code == 1
    assert "error not-null-without-default: column orders.region NOT NULL, no default" in text.stdout
    assert "error pg-index-not-concurrent: index ix_orders_customer_id on orders without CONCURRENTLY" in text.stdout
    assert "fix: add it nullable (or with server_default=...)" in text.stdout
    assert "fix: op.create_index(..., postgresql_concurrently=True)" in text.stdout
    assert versions(url) == {FIRST} and indexes(url) == {"orders_pkey": True}  # plan and lint changed nothing

    # what the lint error is about: the unsafe column cannot even be added to a table with rows
    failed = run(config, "upgrade", "main")
    assert failed.exit_code == 1, failed.output
    assert versions(url) == {FIRST}

    # the safe versions (same revision ids, still pending): lint passes, plan shows the lighter index lock
    write_project(tmp_path, url, SAFE_COLUMN, SAFE_INDEX)
    result = run(config, "lint", "main", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["findings"] == []
    revisions = statements(config)
    [add] = revisions[COLUMN]["statements"]
    assert "DEFAULT 'eu'" in add["sql"] and add["lock"] == "ACCESS EXCLUSIVE"  # brief: no rewrite since PG 11
    assert_big(add)
    [create] = revisions[INDEX]["statements"]  # the autocommit block's COMMIT/BEGIN are not statements
    assert create["sql"].startswith("CREATE INDEX CONCURRENTLY ix_orders_customer_id ON orders")
    assert (create["lock"], create["effect"]) == ("SHARE UPDATE EXCLUSIVE", "scans (writes go on)")
    assert_big(create)
    text = run(config, "upgrade", "main", "--plan")
    assert "lock SHARE UPDATE EXCLUSIVE on orders, scans (writes go on); ~" in text.stdout, text.stdout
    assert "lint:" not in text.stdout

    # and they run: the column gets its default on every row, the index is built and valid
    done = run(config, "upgrade", "main")
    assert done.exit_code == 0, done.output
    assert versions(url) == {INDEX}
    assert indexes(url) == {"orders_pkey": True, "ix_orders_customer_id": True}
    engine = sa.create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM orders WHERE region = 'eu'")).scalar() == ROWS
    engine.dispose()

"""``multidb plan``'s PostgreSQL locks and effects (rewrites, scans) checked against PostgreSQL itself.

A catalogue of migration operations as users write them (``op.*``, a few ``op.execute`` strings). For each:
a database at the previous revision, with rows in its tables; ``plan --json`` for the pending revision; then
the same revision run for real by ``multidb upgrade``. The revision reads, on its own connection and inside
its own transaction (so before it commits), ``pg_locks`` for its backend and ``pg_class.relfilenode`` before
and after its operations. Operations that run outside a transaction (``CONCURRENTLY`` in
``autocommit_block()``) hold their locks only while their statement runs: there a writer's open transaction
makes the statement wait half-way, and a second connection reads the migrating backend's locks then.

Compared, for the tables that existed before the revision: the strongest lock plan shows on each table it
names is the strongest lock PostgreSQL took on it; every table locked in a mode that blocks writes (SHARE or
stronger) is named by plan; plan says "rewrites" only for a table whose relfilenode changed, and every
rewritten table is "rewrites" (or "may rewrite" in the cases where plan cannot know).

And the rows read: plan says "scans" (in any of its forms) or "rewrites" only for a table whose rows
PostgreSQL read, all of them, and every table PostgreSQL read with a sequential scan is one plan says it
scans, rewrites or may rewrite (except where the query planner decides: ``Case.planned_reads``, and the known
gap of ``Case.unsaid_reads``: a table plan shows only a lock on, whose rows PostgreSQL reads). Read from
``pg_stat_get_xact_numscans`` and ``pg_stat_get_xact_tuples_returned`` for each table, in the probes before
and after the operations, inside the revision's transaction. Checked on PostgreSQL 15.20 first, statement by
statement in psql, the sequential scans it counts are every read of the table's heap from its start to its end
by this backend: a CHECK's validation (``ADD CONSTRAINT ... CHECK``, ``VALIDATE CONSTRAINT``), a foreign key's
(the validating query's scan of the table, and of the referenced table when the planner scans it: a hash join
here, an index lookup per row on other sizes), ``SET NOT NULL``'s, an index build (``CREATE INDEX``, a
``UNIQUE`` or ``PRIMARY KEY`` constraint; two for ``CONCURRENTLY``: the build and its validation), a rewrite
(two: the copy of the old rows, then the indexes rebuilt from the new ones; ``CLUSTER`` copies from a scan and
a sort or through the index, as the planner picks: a scan on these few rows) and a query's (an ``UPDATE``
without a ``WHERE``; on these few rows a ``DELETE ... WHERE id = 1`` too), in a transaction rolled back as in
one committed. Not counted: reads through an index, ``ANALYZE``'s sample, and the scans of a parallel worker
(counted in its own backend; on these few rows PostgreSQL starts none). On PostgreSQL 15 these functions also
count the backend's earlier transactions whose counts it has not sent to the shared statistics yet (it sends
them when idle, at most once a second): only the difference between the two probes is the revision's. The
operations outside a transaction are read from ``pg_stat_user_tables`` (``seq_scan``, ``seq_tup_read``) before
and after the revision, with no other connection left on the database (a backend sends its counts when it
exits, before it leaves ``pg_stat_activity``; the test's writer only takes a writer's lock, and its watcher
reads catalogs).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool
from test_ledger import run, versions

from multidb.engines import close_shared

BASE, NEXT = "pt0000000001", "pt0000000002"

# PostgreSQL's table lock modes, weakest first (its own numbering, lock.h)
MODES = (
    "ACCESS SHARE",
    "ROW SHARE",
    "ROW EXCLUSIVE",
    "SHARE UPDATE EXCLUSIVE",
    "SHARE",
    "SHARE ROW EXCLUSIVE",
    "EXCLUSIVE",
    "ACCESS EXCLUSIVE",
)
BLOCKS_WRITES = MODES.index("SHARE")
# plan's effects that read the table's rows
READS = {"rewrites", "may rewrite", "scans", "scans (writes wait)", "scans (writes go on)"}

CREATE = """\
op.create_table(
    "owners",
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(50)),
)
op.create_table(
    "items",
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(50)),
    sa.Column("qty", sa.Integer()),
    sa.Column("code", sa.String(20)),
    sa.Column("owner_id", sa.Integer()),
    sa.Column("note", sa.String(50)),
    sa.Column("price", sa.Numeric(10, 2)),
    sa.Column("made", sa.DateTime()),
)
op.create_table(
    "tags",
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id", name="fk_tags_item")),
    sa.Column("label", sa.String(20)),
)"""

ROWS = (
    "INSERT INTO owners (id, name) SELECT g, 'owner ' || g FROM generate_series(1, 3) AS g",
    "INSERT INTO items (id, name, qty, code, owner_id, note, price, made) "
    "SELECT g, 'item ' || g, g, g::text, g % 3 + 1, 'note', g * 1.5, now() FROM generate_series(1, 5) AS g",
    "INSERT INTO tags (id, item_id, label) SELECT g, g, 'tag ' || g FROM generate_series(1, 5) AS g",
    "ANALYZE",
)

FK = "ALTER TABLE items ADD CONSTRAINT fk_items_owner FOREIGN KEY (owner_id) REFERENCES owners (id)"
INDEX = "CREATE INDEX ix_items_name ON items (name)"
TOUCH = "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
TRIGGER = "CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch()"


@dataclass(frozen=True)
class Case:
    name: str
    body: str  # the upgrade's operations (Python, unindented)
    setup: str = ""  # SQL run after the previous revision and its rows (statements separated by ";\n")
    uncertain: bool = False  # plan may answer "may rewrite": the answer depends on what it cannot see
    # tables PostgreSQL's query planner decides to read in full or not (the referenced table a foreign key's
    # validation joins, a DELETE's WHERE: a sequential scan on these few rows, an index scan on many)
    planned_reads: tuple[str, ...] = ()
    # tables PostgreSQL reads that plan shows a lock on but no effect (an entry of other_locks has none): not
    # checked for reads, a known gap
    unsaid_reads: tuple[str, ...] = ()


CATALOGUE = (
    Case("add_column nullable", 'op.add_column("items", sa.Column("color", sa.String(20)))'),
    Case(
        "add_column constant default", 'op.add_column("items", sa.Column("color", sa.String(20), server_default="red"))'
    ),
    Case(
        "add_column constant default not null",
        'op.add_column("items", sa.Column("stock", sa.Integer(), server_default="0", nullable=False))',
    ),
    Case(
        "add_column now() default not null",
        'op.add_column("items", sa.Column("seen", sa.DateTime(), server_default=sa.func.now(), nullable=False))',
    ),
    Case(
        "add_column gen_random_uuid() default",
        'op.add_column("items", sa.Column("token", sa.Uuid(), server_default=sa.text("gen_random_uuid()")))',
    ),
    Case(
        "add_column clock_timestamp() default",
        'op.add_column("items", sa.Column("at", sa.DateTime(), server_default=sa.text("clock_timestamp()")))',
    ),
    Case(
        "add_column default of the project's own volatile function",
        'op.add_column("items", sa.Column("ticket", sa.Text(), server_default=sa.text("next_ticket()")))',
        setup="CREATE FUNCTION next_ticket() RETURNS text VOLATILE LANGUAGE sql AS $$ SELECT md5(random()::text) $$",
    ),
    Case(
        "add_column default of the project's own immutable function",
        'op.add_column("items", sa.Column("ticket", sa.Text(), server_default=sa.text("first_ticket()")))',
        setup="CREATE FUNCTION first_ticket() RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT 'T-1' $$",
    ),
    Case(  # Alembic adds the constraint in a second statement: ALTER TABLE items ADD UNIQUE (sku)
        "add_column unique=True", 'op.add_column("items", sa.Column("sku", sa.String(20), unique=True))'
    ),
    Case(  # rendered inline: ADD COLUMN n INTEGER CHECK (n > 0); PostgreSQL checks it against the rows
        "add_column with a CheckConstraint",
        'op.add_column("items", sa.Column("n", sa.Integer(), sa.CheckConstraint("n > 0")))',
    ),
    Case("add_column identity", 'op.add_column("items", sa.Column("seq", sa.BigInteger(), sa.Identity()))'),
    Case(
        "add_column stored generated",
        'op.add_column("items", sa.Column("twice", sa.Integer(), sa.Computed("qty * 2", persisted=True)))',
    ),
    Case(
        "add_column with a ForeignKey",
        'op.add_column("items", sa.Column("maker_id", sa.Integer(), '
        'sa.ForeignKey("owners.id", name="fk_items_maker")))',
        planned_reads=("owners",),
    ),
    Case(
        "alter_column varchar(50) -> varchar(100)",
        'op.alter_column("items", "name", type_=sa.String(100), existing_type=sa.String(50))',
    ),
    Case(
        "alter_column varchar(50) -> varchar(10)",
        'op.alter_column("items", "name", type_=sa.String(10), existing_type=sa.String(50))',
    ),
    Case(
        "alter_column text -> varchar",
        'op.alter_column("items", "note", type_=sa.String(), existing_type=sa.Text())',
        setup="ALTER TABLE items ALTER COLUMN note TYPE text",
    ),
    Case(
        "alter_column varchar -> text", 'op.alter_column("items", "name", type_=sa.Text(), existing_type=sa.String(50))'
    ),
    Case(
        "alter_column numeric(10, 2) -> numeric(12, 2)",
        'op.alter_column("items", "price", type_=sa.Numeric(12, 2), existing_type=sa.Numeric(10, 2))',
    ),
    Case(
        "alter_column numeric(10, 2) -> numeric(12, 4)",
        'op.alter_column("items", "price", type_=sa.Numeric(12, 4), existing_type=sa.Numeric(10, 2))',
    ),
    Case(  # no rewrite when the session's TimeZone is UTC: plan cannot know the deploy's
        "alter_column timestamp -> timestamptz",
        'op.alter_column("items", "made", type_=sa.DateTime(timezone=True), existing_type=sa.DateTime())',
        uncertain=True,
    ),
    Case(  # the column's type before the change is the one the revision gave it: not in the live database
        "alter_column type of a column added in the same revision",
        """\
op.add_column("items", sa.Column("size", sa.String(10)))
op.alter_column("items", "size", type_=sa.String(40), existing_type=sa.String(10))""",
        uncertain=True,
    ),
    Case(
        "alter_column int -> bigint",
        'op.alter_column("items", "qty", type_=sa.BigInteger(), existing_type=sa.Integer())',
    ),
    Case(  # tags.item_id references it: PostgreSQL adds that foreign key again and checks every row of tags
        "alter_column int -> bigint of a referenced column",
        'op.alter_column("items", "id", type_=sa.BigInteger(), existing_type=sa.Integer())',
        unsaid_reads=("tags",),
    ),
    Case(
        "alter_column int -> bigint of a referencing column",
        'op.alter_column("tags", "item_id", type_=sa.BigInteger(), existing_type=sa.Integer())',
        planned_reads=("items",),
    ),
    Case(
        "alter_column varchar -> int with postgresql_using",
        'op.alter_column("items", "code", type_=sa.Integer(), existing_type=sa.String(20), '
        'postgresql_using="code::integer")',
    ),
    Case(
        "alter_column nullable=False",
        'op.alter_column("items", "name", nullable=False, existing_type=sa.String(50))',
    ),
    Case(  # the last step of the recipe of lint's pg-set-not-null-scans: PostgreSQL 12+ skips the scan
        "alter_column nullable=False with a valid CHECK (name IS NOT NULL)",
        'op.alter_column("items", "name", nullable=False, existing_type=sa.String(50))',
        setup="ALTER TABLE items ADD CONSTRAINT ck_items_name CHECK (name IS NOT NULL)",
    ),
    Case(  # NOT NULL already: PostgreSQL has nothing to do
        "alter_column nullable=False of a NOT NULL column",
        'op.alter_column("items", "qty", nullable=False, existing_type=sa.Integer())',
        setup="ALTER TABLE items ALTER COLUMN qty SET NOT NULL",
    ),
    Case(
        "alter_column drop not null",
        'op.alter_column("items", "qty", nullable=True, existing_type=sa.Integer())',
        setup="ALTER TABLE items ALTER COLUMN qty SET NOT NULL",
    ),
    Case(
        "alter_column server_default", 'op.alter_column("items", "qty", server_default="1", existing_type=sa.Integer())'
    ),
    Case("alter_column rename", 'op.alter_column("items", "note", new_column_name="remark")'),
    Case(
        "alter_column comment",
        'op.alter_column("items", "name", comment="shown to users", existing_type=sa.String(50))',
    ),
    Case("create_table_comment", 'op.create_table_comment("items", "what we sell")'),
    Case("rename_table", 'op.rename_table("owners", "people")'),
    Case("drop_column", 'op.drop_column("items", "note")'),
    Case(
        "add a column with REFERENCES (op.execute)",
        'op.execute("ALTER TABLE items ADD COLUMN maker_id integer REFERENCES owners (id)")',
    ),
    Case(  # a DEFAULT, even NULL: PostgreSQL validates the new key against the rows
        "add a column with a default and REFERENCES (op.execute)",
        'op.execute("ALTER TABLE items ADD COLUMN maker_id integer DEFAULT 1 REFERENCES owners (id)")',
        planned_reads=("owners",),
    ),
    Case("drop_column with a foreign key", 'op.drop_column("items", "owner_id")', setup=FK),
    Case("create_index", 'op.create_index("ix_items_name", "items", ["name"])'),
    Case("create_index unique", 'op.create_index("ix_items_code", "items", ["code"], unique=True)'),
    Case(
        "create_index concurrently",
        """\
with op.get_context().autocommit_block():
    op.create_index("ix_items_name", "items", ["name"], postgresql_concurrently=True)""",
    ),
    Case("drop_index", 'op.drop_index("ix_items_name", "items")', setup=INDEX),
    Case(
        "drop_index of an index created earlier in the plan",
        """\
op.create_index("ix_items_code", "items", ["code"])
op.drop_index("ix_items_code", "items")""",
    ),
    Case(
        "drop_index concurrently",
        """\
with op.get_context().autocommit_block():
    op.drop_index("ix_items_name", "items", postgresql_concurrently=True)""",
        setup=INDEX,
    ),
    Case(
        "rename an index (op.execute)", 'op.execute("ALTER INDEX ix_items_name RENAME TO ix_items_label")', setup=INDEX
    ),
    Case("create_unique_constraint", 'op.create_unique_constraint("uq_items_code", "items", ["code"])'),
    Case(
        "unique constraint USING INDEX (op.execute)",
        'op.execute("ALTER TABLE items ADD CONSTRAINT uq_items_code UNIQUE USING INDEX ix_items_code")',
        setup="CREATE UNIQUE INDEX ix_items_code ON items (code)",
    ),
    Case(  # its column is NOT NULL already: nothing to read
        "primary key USING INDEX (op.execute)",
        'op.execute("ALTER TABLE tags ADD CONSTRAINT tags_pkey PRIMARY KEY USING INDEX ix_tags_id")',
        setup="ALTER TABLE tags DROP CONSTRAINT tags_pkey;\nCREATE UNIQUE INDEX ix_tags_id ON tags (id)",
    ),
    Case(  # the column is set NOT NULL: its rows are read
        "primary key USING INDEX on a nullable column (op.execute)",
        'op.execute("ALTER TABLE owners ADD CONSTRAINT owners_pkey PRIMARY KEY USING INDEX ix_owners_name")',
        setup="ALTER TABLE owners DROP CONSTRAINT owners_pkey;\nCREATE UNIQUE INDEX ix_owners_name ON owners (name)",
    ),
    Case("create_check_constraint", 'op.create_check_constraint("ck_items_qty", "items", "qty >= 0")'),
    Case(
        "check constraint NOT VALID (op.execute)",
        'op.execute("ALTER TABLE items ADD CONSTRAINT ck_items_qty CHECK (qty >= 0) NOT VALID")',
    ),
    Case(
        "VALIDATE a check constraint (op.execute)",
        'op.execute("ALTER TABLE items VALIDATE CONSTRAINT ck_items_qty")',
        setup="ALTER TABLE items ADD CONSTRAINT ck_items_qty CHECK (qty >= 0) NOT VALID",
    ),
    Case(
        "create_foreign_key",
        'op.create_foreign_key("fk_items_owner", "items", "owners", ["owner_id"], ["id"])',
        planned_reads=("owners",),
    ),
    Case(
        "create_foreign_key postgresql_not_valid",
        'op.create_foreign_key("fk_items_owner", "items", "owners", ["owner_id"], ["id"], postgresql_not_valid=True)',
    ),
    Case(
        "VALIDATE a foreign key (op.execute)",
        'op.execute("ALTER TABLE items VALIDATE CONSTRAINT fk_items_owner")',
        setup=FK + " NOT VALID",
        planned_reads=("owners",),
    ),
    Case("drop_constraint of a foreign key", 'op.drop_constraint("fk_tags_item", "tags", type_="foreignkey")'),
    Case(
        "drop_constraint of a foreign key created earlier in the plan",
        """\
op.create_foreign_key("fk_items_owner", "items", "owners", ["owner_id"], ["id"], postgresql_not_valid=True)
op.drop_constraint("fk_items_owner", "items", type_="foreignkey")""",
    ),
    Case(
        "drop_constraint of a unique constraint",
        'op.drop_constraint("uq_items_code", "items", type_="unique")',
        setup="ALTER TABLE items ADD CONSTRAINT uq_items_code UNIQUE (code)",
    ),
    Case(
        "create_table with a ForeignKey to an existing table",
        """\
op.create_table(
    "notes",
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id")),
)""",
    ),
    Case("drop_table", 'op.drop_table("owners")'),
    Case("drop_table of a table with a foreign key", 'op.drop_table("tags")'),
    Case("DROP TABLE ... CASCADE of a referenced table (op.execute)", 'op.execute("DROP TABLE items CASCADE")'),
    Case(
        "create_primary_key",
        'op.create_primary_key("tags_pkey", "tags", ["id"])',
        setup="ALTER TABLE tags DROP CONSTRAINT tags_pkey",
    ),
    Case(
        "CREATE TRIGGER (op.execute)",
        'op.execute("CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch()")',
        setup=TOUCH,
    ),
    Case(
        "DROP TRIGGER (op.execute)",
        'op.execute("DROP TRIGGER items_touch ON items")',
        setup=TOUCH + ";\n" + TRIGGER,
    ),
    Case(
        "ALTER TABLE DISABLE TRIGGER (op.execute)",
        'op.execute("ALTER TABLE items DISABLE TRIGGER items_touch")',
        setup=TOUCH + ";\n" + TRIGGER,
    ),
    Case("ENABLE ROW LEVEL SECURITY (op.execute)", 'op.execute("ALTER TABLE items ENABLE ROW LEVEL SECURITY")'),
    Case("SET STATISTICS (op.execute)", 'op.execute("ALTER TABLE items ALTER COLUMN name SET STATISTICS 500")'),
    Case("SET (fillfactor) (op.execute)", 'op.execute("ALTER TABLE items SET (fillfactor = 70)")'),
    Case("SET UNLOGGED (op.execute)", 'op.execute("ALTER TABLE tags SET UNLOGGED")'),
    Case(
        "SET UNLOGGED of an unlogged table (op.execute)",
        'op.execute("ALTER TABLE tags SET UNLOGGED")',
        setup="ALTER TABLE tags SET UNLOGGED",
    ),
    Case("CLUSTER (op.execute)", 'op.execute("CLUSTER items USING ix_items_name")', setup=INDEX),
    Case("REINDEX TABLE (op.execute)", 'op.execute("REINDEX TABLE items")', setup=INDEX),
    Case("REINDEX INDEX (op.execute)", 'op.execute("REINDEX INDEX ix_items_name")', setup=INDEX),
    Case(
        "REINDEX TABLE CONCURRENTLY (op.execute)",
        """\
with op.get_context().autocommit_block():
    op.execute("REINDEX TABLE CONCURRENTLY items")""",
    ),
    Case(
        "REINDEX INDEX CONCURRENTLY (op.execute)",
        """\
with op.get_context().autocommit_block():
    op.execute("REINDEX INDEX CONCURRENTLY ix_items_name")""",
        setup=INDEX,
    ),
    Case(
        "alter_column varchar(50) -> varchar(100) of an indexed column",
        'op.alter_column("items", "name", type_=sa.String(100), existing_type=sa.String(50))',
        setup=INDEX,
    ),
    Case(  # no rewrite, but PostgreSQL adds the CHECK constraints on the column again: it checks the rows
        "alter_column varchar(50) -> varchar(100) of a column a CHECK uses",
        'op.alter_column("items", "name", type_=sa.String(100), existing_type=sa.String(50))',
        setup="ALTER TABLE items ADD CONSTRAINT ck_items_name CHECK (length(name) > 0)",
    ),
    Case(  # no rewrite, but the index on the column is built again for the new collation
        "alter_column varchar(50) -> varchar(100) COLLATE C of an indexed column",
        'op.alter_column("items", "name", type_=sa.String(100, collation="C"), existing_type=sa.String(50))',
        setup=INDEX,
    ),
    Case(  # no index on it: nothing is read
        "alter_column varchar(50) -> varchar(100) COLLATE C",
        'op.alter_column("items", "name", type_=sa.String(100, collation="C"), existing_type=sa.String(50))',
    ),
    Case("UPDATE (op.execute)", 'op.execute("UPDATE items SET qty = qty + 1")'),
    Case("DELETE (op.execute)", 'op.execute("DELETE FROM tags WHERE id = 1")', planned_reads=("tags",)),
    Case(
        "bulk_insert",
        'op.bulk_insert(sa.table("owners", sa.column("id", sa.Integer()), sa.column("name", sa.String())), '
        '[{"id": 10, "name": "new"}])',
    ),
)

REVISION = '''\
import json

import sqlalchemy as sa
from alembic import context, op

revision = REV
down_revision = DOWN
branch_labels = LABELS
depends_on = None

PROBE = PATH


SEEN = []  # the tables' oids at the first probe: a table dropped since is still counted


def probe(when):
    """The tables, their relfilenodes, the sequential scans of each in this backend (this transaction's, and
    its earlier ones' not yet sent to the statistics) and the rows those returned, and the locks this backend
    holds now, written to PROBE (online only)."""
    if context.is_offline_mode():
        return
    bind = op.get_bind()
    tables = bind.exec_driver_sql(
        "SELECT oid::bigint, relname, relfilenode::bigint FROM pg_class "
        "WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')"
    ).all()
    SEEN.extend(oid for oid, _, _ in tables if oid not in SEEN)
    scans = bind.exec_driver_sql(
        "SELECT o::bigint, pg_stat_get_xact_numscans(o), pg_stat_get_xact_tuples_returned(o) "
        "FROM unnest(ARRAY[%s]::oid[]) AS o" % ",".join(map(str, SEEN or [0]))
    ).all()
    locks = bind.exec_driver_sql(
        "SELECT relation::bigint, mode FROM pg_locks "
        "WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted"
    ).all()
    with open(PROBE, "a") as f:
        f.write(
            json.dumps(
                {
                    "when": when,
                    "tables": [list(t) for t in tables],
                    "locks": [list(l) for l in locks],
                    "scans": [list(s) for s in scans],
                }
            )
        )
        f.write("\\n")


def upgrade():
    probe("before")
BODY
    probe("after")


def downgrade():
    pass
'''


def write_project(root: Path, url: str, case: Case) -> tuple[Path, Path]:
    folder = root / "versions"
    folder.mkdir(parents=True)
    probe = root / "probe.jsonl"
    for rev, down, body in ((BASE, None, CREATE), (NEXT, BASE, case.body)):
        text = (
            REVISION.replace("REV", repr(rev))
            .replace("DOWN", repr(down))
            .replace("LABELS", repr(("main",) if down is None else None))
            .replace("PATH", repr(str(probe)))
            .replace("BODY", textwrap.indent(body, "    "))
        )
        (folder / f"{rev}_step.py").write_text(text)
    config = root / "config" / "multidb.yaml"
    config.parent.mkdir()
    config.write_text(
        f"databases:\n  main:\n    url: {url}\n    bases:\n      - label: main\n        path: ../versions\n"
    )
    return config, probe


def mode(pg_name: str) -> str:
    """``AccessExclusiveLock`` -> ``ACCESS EXCLUSIVE``."""
    words, word = [], ""
    for ch in pg_name.removesuffix("Lock"):
        if ch.isupper() and word:
            words.append(word)
            word = ""
        word += ch
    return " ".join([*words, word]).upper()


def strongest(found: dict[str, str], table: str, level: str) -> None:
    if table not in found or MODES.index(level) > MODES.index(found[table]):
        found[table] = level


def planned(statements: list[dict]) -> tuple[dict[str, str], dict[str, set[str]]]:
    """The strongest lock plan shows per table over the revision's statements, and its effects per table."""
    locks: dict[str, str] = {}
    effects: dict[str, set[str]] = {}
    for s in statements:
        if s["lock"]:
            strongest(locks, s["table"], s["lock"])
        for other in s.get("other_locks", []):
            strongest(locks, other["table"], other["lock"])
        effects.setdefault(s["table"], set()).add(s["effect"])
    return locks, effects


def user_tables(conn) -> dict[int, tuple[str, int]]:
    found = conn.exec_driver_sql(
        "SELECT oid::bigint, relname, relfilenode::bigint FROM pg_class "
        "WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')"
    )
    return {oid: (name, node) for oid, name, node in found if not name.startswith("alembic_version")}


def row_counts(conn) -> dict[str, int]:
    names = [name for name, _ in user_tables(conn).values()]
    return {name: conn.exec_driver_sql(f'SELECT count(*) FROM "{name}"').scalar() for name in names}


def scans_since(counted: dict[int, tuple[int, int]], now: dict[int, tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """Per table: the sequential scans and the rows they returned between two readings of the counters."""
    return {oid: (n - counted[oid][0], rows - counted[oid][1]) for oid, (n, rows) in now.items() if oid in counted}


def run_in_transaction(config: Path, probe: Path) -> tuple[dict[str, str], dict[int, tuple[str, int]], dict, dict]:
    """The revision run by ``multidb upgrade``: the strongest lock it held per table before it committed, the
    tables before and after its operations (by oid: a renamed table is the same table), and per table the
    sequential scans its operations made and the rows those returned (inside one transaction the backend sends
    nothing to the statistics: the difference is the operations')."""
    probe.unlink(missing_ok=True)  # (the previous revision wrote its own)
    result = run(config, "upgrade", "main")
    assert result.exit_code == 0, result.output
    before, after = (json.loads(line) for line in probe.read_text().splitlines())
    tables = {oid: (name, node) for oid, name, node in before["tables"] if not name.startswith("alembic_version")}
    locks: dict[str, str] = {}
    for oid, pg_mode in after["locks"]:
        if oid in tables:
            strongest(locks, tables[oid][0], mode(pg_mode))
    counted, now = ({oid: (scans, rows) for oid, scans, rows in probed["scans"]} for probed in (before, after))
    return locks, tables, {oid: (name, node) for oid, name, node in after["tables"]}, scans_since(counted, now)


def quiet(watcher, *kept: int) -> None:
    """Wait until no client connection but ``kept`` is left on the database: a backend sends what its
    statistics have not sent yet when it exits, before it leaves pg_stat_activity."""
    deadline = time.monotonic() + 120  # (a wait for the connections to close, not an assertion about time)
    while True:
        left = watcher.exec_driver_sql(
            "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> ALL(%(kept)s)",
            {"kept": list(kept)},
        ).all()
        if not left:
            return
        assert time.monotonic() < deadline, f"connections to the database never closed: {left}"
        time.sleep(0.05)


def table_scans(watcher) -> dict[int, tuple[int, int]]:
    """Per table, the sequential scans and the rows they returned, as the statistics hold them now."""
    watcher.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
    found = watcher.exec_driver_sql("SELECT relid::bigint, seq_scan, seq_tup_read FROM pg_stat_user_tables")
    return {oid: (scans, rows) for oid, scans, rows in found}


def run_concurrently(config: Path, engine: sa.Engine) -> tuple[dict[str, str], dict[int, tuple[int, int]]]:
    """A revision whose statement runs outside a transaction: a writer's open transaction on ``items`` makes
    it wait half-way (CONCURRENTLY waits for the table's writers), and this connection reads the locks the
    migrating backend holds while it waits. Then the writer commits and the revision finishes. Its scans are
    read from the statistics before and after, with no other connection left to send any (the writer only
    holds a writer's lock, the watcher reads catalogs)."""
    close_shared()  # the reading connection this test's in-process runs (plan, upgrade) left open
    with engine.connect() as watcher, engine.connect() as writer:
        watcher.execution_options(isolation_level="AUTOCOMMIT")
        tables = user_tables(watcher)
        writer_pid = writer.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        watcher_pid = watcher.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        quiet(watcher, watcher_pid, writer_pid)
        counted = table_scans(watcher)
        writer.exec_driver_sql("LOCK TABLE items IN ROW EXCLUSIVE MODE")  # the lock of a write on items, left open
        process = subprocess.Popen(
            [sys.executable, "-m", "multidb", "-c", str(config), "upgrade", "main"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120  # (a wait for the migration, not an assertion about time)
            while True:
                waiting = watcher.exec_driver_sql(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND %(writer)s = ANY(pg_blocking_pids(pid))",
                    {"writer": writer_pid},
                ).scalar()
                if waiting is not None:
                    break
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "the migration never waited for the writer"
                time.sleep(0.05)
            held = watcher.exec_driver_sql(
                "SELECT relation::bigint, mode FROM pg_locks WHERE pid = %(pid)s AND locktype = 'relation' AND granted",
                {"pid": waiting},
            ).all()
            writer.commit()
            output = process.communicate(timeout=120)[0]
            assert process.returncode == 0, output
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        quiet(watcher, watcher_pid, writer_pid)
        now = table_scans(watcher)
    locks: dict[str, str] = {}
    for oid, pg_mode in held:
        if oid in tables:
            strongest(locks, tables[oid][0], mode(pg_mode))
    return locks, scans_since(counted, now)


@pytest.mark.postgresql
@pytest.mark.parametrize("case", CATALOGUE, ids=[c.name for c in CATALOGUE])
def test_plan_tells_the_locks_and_rewrites_postgresql_takes(case, tmp_path, pg_database):
    url = pg_database()
    config, probe = write_project(tmp_path, url, case)
    assert run(config, "upgrade", "main", "--to", BASE).exit_code == 0
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            for sql in filter(None, (*ROWS, *case.setup.split(";\n"))):
                conn.execute(sa.text(sql))
            rows = row_counts(conn)

        result = run(config, "plan", "--json")
        assert result.exit_code == 0, result.output
        [db] = json.loads(result.stdout)
        [rev] = db["revisions"]
        statements = rev["statements"]
        assert statements, rev
        plan_locks, plan_effects = planned(statements)
        assert versions(url) == {BASE}  # plan changed nothing

        if "autocommit_block" in case.body:
            with engine.connect() as conn:
                before = user_tables(conn)
            real, reads = run_concurrently(config, engine)
            with engine.connect() as conn:
                after = user_tables(conn)
        else:
            real, before, after, reads = run_in_transaction(config, probe)
        assert versions(url) == {NEXT}
    finally:
        engine.dispose()

    shown = json.dumps(statements, indent=1)
    existing = {name for name, _ in before.values()}
    rewritten = {name for oid, (name, node) in before.items() if oid in after and after[oid][1] != node}
    for table, level in plan_locks.items():  # what plan says about a table is what PostgreSQL did to it
        if table in existing:
            assert real.get(table) == level, f"{table}: plan says {level}, PostgreSQL took {real.get(table)}\n{shown}"
    tables = existing | {name for name, _ in after.values()}
    for s in statements:  # the table a statement names: plan's lock is PostgreSQL's (none when it takes none)
        assert s["table"] in tables or (s["table"] is None and s["lock"] is None), shown
        if s["table"] in existing:
            assert s["lock"] is None or s["table"] in real, shown
            assert real.get(s["table"]) is None or s["table"] in plan_locks, (
                f"{s['table']}: PostgreSQL took {real[s['table']]}, plan shows no lock\n{shown}"
            )
    for table, level in real.items():  # every table whose writes wait is in the plan
        if MODES.index(level) >= BLOCKS_WRITES:
            assert table in plan_locks, f"{table}: PostgreSQL took {level}, plan does not say\n{shown}"

    rewritten = {name for oid, (name, node) in before.items() if oid in after and after[oid][1] != node}
    for table in existing:
        said = plan_effects.get(table, set())
        if "rewrites" in said:
            assert table in rewritten, f"{table}: plan says rewrites, PostgreSQL did not rewrite it\n{shown}"
        if table in rewritten:
            assert said & {"rewrites", "may rewrite"}, f"{table}: PostgreSQL rewrote it, plan does not say\n{shown}"
        if "may rewrite" in said:
            assert case.uncertain, f"{table}: plan says 'may rewrite' where it can know\n{shown}"

    # the rows read: plan says a table is scanned or rewritten only where PostgreSQL read all its rows, and
    # every table PostgreSQL scanned is one plan says it reads ("may rewrite": it may read it or not)
    scanned = {before[oid][0]: found for oid, found in reads.items() if oid in before and found[0] > 0}
    for table in existing:
        said = plan_effects.get(table, set())
        if said & READS - {"may rewrite"}:
            assert table in scanned, f"{table}: plan says {said}, PostgreSQL did not scan it\n{shown}"
            assert scanned[table][1] >= rows[table], (
                f"{table}: plan says {said}, PostgreSQL read {scanned[table][1]} of its {rows[table]} rows\n{shown}"
            )
        if table in scanned and table not in case.planned_reads + case.unsaid_reads:
            assert said & READS, (
                f"{table}: PostgreSQL scanned it ({scanned[table][1]} rows), plan does not say\n{shown}"
            )


@pytest.mark.postgresql
def test_plan_text_names_every_table_a_statement_locks(tmp_path, pg_database):
    url = pg_database()
    case = Case("fk", 'op.create_foreign_key("fk_items_owner", "items", "owners", ["owner_id"], ["id"])')
    config, _ = write_project(tmp_path, url, case)
    assert run(config, "upgrade", "main", "--to", BASE).exit_code == 0
    result = run(config, "plan")
    assert result.exit_code == 0, result.output
    assert "lock SHARE ROW EXCLUSIVE on items and SHARE ROW EXCLUSIVE on owners, scans; " in result.stdout, (
        result.stdout
    )
    [db] = json.loads(run(config, "plan", "--json").stdout)
    [statement] = db["revisions"][0]["statements"]
    assert statement["other_locks"] == [{"table": "owners", "lock": "SHARE ROW EXCLUSIVE"}]
    assert versions(url) == {BASE}

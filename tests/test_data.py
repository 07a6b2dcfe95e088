"""Data migrations: ``multidb.data`` and ``multidb revision DB --data --tables``, on real databases.

Most tests run on SQLite, PostgreSQL and MariaDB (the ``database`` fixture; a few dialect-agnostic
ones on SQLite and PostgreSQL, or SQLite alone). PostgreSQL and MariaDB tests skip on a machine
without the servers on 127.0.0.1, but fail when CI (or MULTIDB_REQUIRE_SERVERS) is set. Revisions
run through the CLI on a copy of the example project (``project``), with the production profile
pointed at the database under test; the helpers' own behaviour (counts, where=, upsert, copy,
require_columns) is also checked directly with ``bind=connection``.

What is checked, besides the results in the tables:

* a ``--data`` revision carries frozen ``sa.Table`` copies, imports nothing from the models, lints
  clean (``ruff --isolated --select E,F``), and keeps running after the models change;
* ``update_in_batches`` runs inside the revision's transaction (a later failure undoes every batch)
  and issues keyset ranges (``WHERE id > low AND id <= high``; no ``OFFSET`` beyond batch_size - 1);
* ``online=True`` survives a SIGKILL: the rerun continues after the last committed batch (every row
  migrated exactly once), and the revision is recorded only when the step has finished; the same
  with two online steps in one revision and with UUID keys;
* ``upgrade --sql`` over a batched step writes SQL or says why it cannot, in one line.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from multidb import data

from example_project import CATALOG_HEAD

PREVIOUS_HEAD = CATALOG_HEAD  # the example catalog's head before the tests add revisions
SQLITE = pytest.param("sqlite", id="sqlite")
POSTGRESQL = pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql)
MARIADB_PARAM = pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb)
DIALECTS = [SQLITE, POSTGRESQL, MARIADB_PARAM]
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


# --- databases ---------------------------------------------------------------------------------


@pytest.fixture(params=DIALECTS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each dialect, as a SQLAlchemy URL with an explicit driver."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database")()
        return make_url(url).set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    return request.getfixturevalue("mariadb_database")()


def engine(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=NullPool)


def fetch(url: str, sql: str, **params: Any) -> list[tuple]:
    eng = engine(url)
    try:
        with eng.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    finally:
        eng.dispose()


def execute(url: str, sql: str, rows: list[dict] | dict | None = None) -> None:
    eng = engine(url)
    try:
        with eng.begin() as conn:
            conn.execute(sa.text(sql), rows or {})
    finally:
        eng.dispose()


def version(url: str) -> set[str]:
    return {r[0] for r in fetch(url, "SELECT version_num FROM alembic_version")}


# --- the example project, pointed at the database under test ------------------------------------


def production(project: Path, url: str) -> dict[str, str]:
    """Environment for ``-p production``: catalog on ``url``, monitor on a SQLite file."""
    return {"CATALOG_DATABASE_URL": url, "MONITOR_DATABASE_URL": f"sqlite:///{project / 'var' / 'monitor.db'}"}


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def write_revision(project: Path, rev: str, down: str, body: str, message: str = "test step") -> Path:
    """A hand-written catalog revision ``rev`` on top of ``down``; ``body`` is module-level code."""
    path = project / "catalog_versions" / f"{rev}_{message.replace(' ', '_')}.py"
    header = f'''\
        """{message}

        Revision ID: {rev}
        Revises: {down}
        """
        import json
        import os
        import time

        import sqlalchemy as sa
        from alembic import op

        from multidb import data

        revision = "{rev}"
        down_revision = "{down}"
        branch_labels = None
        depends_on = None
        '''
    path.write_text(textwrap.dedent(header) + textwrap.dedent(body))
    return path


def replace_function(source: str, name: str, body: str) -> str:
    """Swap the body of top-level function ``name`` in a module's source."""
    start = source.index(f"def {name}() -> None:")
    end = source.find("\ndef ", start + 1)
    new = f"def {name}() -> None:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n\n"
    return source[:start] + new + (source[end + 1 :] if end != -1 else "")


# --- 1. revision --data --tables ---------------------------------------------------------------

DATA_REV = "da7a00000001"


def data_revision(project: Path, cli) -> Path:
    ok(cli("revision", "catalog", "--data", "-m", "uppercase holding names", "--tables", "holdings,files",
           "--rev-id", DATA_REV))  # fmt: skip
    (path,) = (project / "catalog_versions").glob(f"{DATA_REV}_*.py")
    return path


def test_data_revision_has_frozen_tables_and_no_model_import(project: Path, cli) -> None:
    path = data_revision(project, cli)
    source = path.read_text()
    tree = ast.parse(source)

    assigned = {
        node.targets[0].id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    for table in ("holdings", "files"):
        call = assigned.get(table)
        assert isinstance(call, ast.Call) and ast.unparse(call.func) == "sa.Table", f"no frozen copy of {table}"
        assert ast.literal_eval(call.args[0]) == table
    # the columns as the models have them now, types included
    assert "sa.Column('name', sa.String(length=200), nullable=False)" in source
    assert "sa.Column('checksum_algorithm', sa.String(length=20), nullable=True)" in source

    imported = {
        alias.name if isinstance(node, ast.Import) else node.module or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not any(name.startswith("example_app") for name in imported), imported
    assert "example_app" not in source
    assert "multidb" in imported  # from multidb import data
    assert "data migration (optional)" not in source  # the plain template's hint is for schema revisions


def test_data_revision_refuses_unknown_tables_and_autogenerate(project: Path, cli) -> None:
    result = cli("revision", "catalog", "--data", "-m", "x", "--tables", "holdings,nope")
    assert result.exit_code == 2
    assert "catalog: --tables: no table 'nope' in the models" in result.output, result.output
    result = cli("revision", "catalog", "--data", "--autogenerate", "-m", "x", "--tables", "holdings")
    assert result.exit_code == 2
    assert "--data and --autogenerate do not go together" in result.output, result.output
    assert sorted(p.name[:12] for p in (project / "catalog_versions").glob("*.py"))[-1] == PREVIOUS_HEAD


def test_data_revision_passes_ruff_e_f(project: Path, cli) -> None:
    path = data_revision(project, cli)
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F", "--output-format", "concise",
         str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, f"ruff check --isolated --select E,F on a new --data revision:\n{done.stdout}"


UPPER_BODY = """
    data.require_columns(holdings, files, bind=op.get_bind())
    data.update_in_batches(holdings, {"name": sa.func.upper(holdings.c.name)}, batch_size=2)
"""
LOWER_BODY = """
    data.update_in_batches(holdings, {"name": sa.func.lower(holdings.c.name)}, batch_size=2)
"""


def change_the_models(project: Path) -> None:
    """Rename holdings.name to title, drop holdings.location_id and files.checksum_algorithm."""
    models = project / "example_app" / "catalog.py"
    source = models.read_text()
    for old, new in [
        (
            "    name: Mapped[str] = mapped_column(String(200), nullable=False)\n",
            "    title: Mapped[str] = mapped_column(String(200), nullable=False)\n",
        ),
        ('    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), nullable=True)\n', ""),
        ("    checksum_algorithm: Mapped[str | None] = mapped_column(String(20), nullable=True)\n", ""),
    ]:
        assert old in source, old
        source = source.replace(old, new, 1)
    models.write_text(source)
    for name in [m for m in sys.modules if m == "example_app" or m.startswith("example_app.")]:
        del sys.modules[name]


def test_data_revision_upgrades_and_outlives_model_changes(project: Path, cli, database: str) -> None:
    path = data_revision(project, cli)
    source = replace_function(path.read_text(), "upgrade", UPPER_BODY)
    path.write_text(replace_function(source, "downgrade", LOWER_BODY))
    env = production(project, database)

    ok(cli("-p", "production", "upgrade", "catalog", "--to", PREVIOUS_HEAD, env=env))
    names = ["alpha", "beta", "gamma", "delta", "epsilon"]
    execute(database, "INSERT INTO holdings (name) VALUES (:name)", [{"name": n} for n in names])

    ok(cli("-p", "production", "upgrade", "catalog", env=env))
    assert version(database) == {DATA_REV}
    assert sorted(r[0] for r in fetch(database, "SELECT name FROM holdings")) == sorted(n.upper() for n in names)

    # The models move on; the data revision keeps its own copies and runs as before, both ways.
    change_the_models(project)
    ok(cli("-p", "production", "downgrade", "catalog", "--to", "-1", env=env))
    assert version(database) == {PREVIOUS_HEAD}
    assert sorted(r[0] for r in fetch(database, "SELECT name FROM holdings")) == sorted(names)
    ok(cli("-p", "production", "upgrade", "catalog", env=env))
    assert version(database) == {DATA_REV}
    assert sorted(r[0] for r in fetch(database, "SELECT name FROM holdings")) == sorted(n.upper() for n in names)
    # the revision itself never names the models (the run imports them, as Alembic's env.py does, for
    # naming conventions; a models path that does not import stops the run before it changes anything)
    assert "example_app" not in path.read_text(), "the data revision refers to the models"


# --- 2. update_in_batches inside the revision's transaction -------------------------------------

BATCH_REV = "da7a00000002"
BATCH_BODY = """
    metadata = sa.MetaData()
    holdings = sa.Table(
        "holdings",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
    )
    locations = sa.Table(
        "locations",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
    )


    def upgrade() -> None:
        changed = data.update_in_batches(
            holdings,
            {"name": sa.func.upper(holdings.c.name)},
            where=holdings.c.name.like("fix-%"),
            batch_size=2,
        )
        with open(os.environ["DATA_TEST_OUT"], "w") as out:
            json.dump({"changed": changed}, out)
        if os.environ.get("DATA_TEST_FAIL"):
            # a later statement of the same revision fails: a duplicate of a seeded location name
            op.execute(locations.insert().values(name="primary-disk", kind="disk"))


    def downgrade() -> None:
        pass
"""
# ids 1..7; the rows the where= clause picks are 1, 3, 4, 6, 7
SEED = ["fix-a", "keep-b", "fix-c", "fix-d", "keep-e", "fix-f", "fix-g"]


class Statements:
    """SQLAlchemy statements sent to any engine of this process (a before_cursor_execute listener)."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def __call__(self, _conn, _cursor, _sql, _params, context, _executemany) -> None:
        invoked = getattr(context, "invoked_statement", None)  # not compiled.statement: that one is cached
        if invoked is not None:
            self.seen.append(invoked)

    def __enter__(self) -> Statements:
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_exc: object) -> None:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", self)

    def on(self, table: str) -> tuple[list[sa.Select], list[sa.Update | sa.Delete]]:
        """The SELECTs reading ``table``, and the UPDATEs and DELETEs changing it."""
        selects = [
            s
            for s in self.seen
            if isinstance(s, sa.Select) and table in {getattr(f, "name", None) for f in s.get_final_froms()}
        ]
        changes = [s for s in self.seen if isinstance(s, (sa.Update, sa.Delete)) and s.table.name == table]
        return selects, changes


def literal(statement: Any) -> str:
    return str(statement.compile(compile_kwargs={"literal_binds": True})).replace("\n", " ")


def assert_keyset(statements: Statements, table: str, batch_size: int, batches: int) -> list[tuple[int | None, int]]:
    """Each UPDATE covers one key range (low, high], the ranges chain, and no OFFSET skips more
    than batch_size - 1 rows; every SELECT on the table reads one row or an aggregate."""
    selects, updates = statements.on(table)
    for select in selects:
        offset = select._offset  # an int, or None
        assert offset is None or offset <= batch_size - 1, literal(select)
        text = literal(select)
        assert select._limit == 1 or re.search(r"\b(max|count)\(", text), f"reads more than one row: {text}"
    ranges = []
    for update in updates:
        text = literal(update)
        high = re.search(rf"\b{table}\.id <= (\d+)", text)
        low = re.search(rf"\b{table}\.id > (\d+)", text)
        assert high, f"UPDATE/DELETE without an upper key bound: {text}"
        ranges.append((int(low.group(1)) if low else None, int(high.group(1))))
    assert len(ranges) == batches, [literal(u) for u in updates]
    assert ranges[0][0] is None
    for (_, previous_high), (low, _) in itertools.pairwise(ranges):
        assert low == previous_high, ranges
    return ranges


def test_update_in_batches_is_all_or_nothing_in_the_revision(project: Path, cli, database: str, tmp_path: Path) -> None:
    write_revision(project, BATCH_REV, PREVIOUS_HEAD, BATCH_BODY, "uppercase fix names")
    env = production(project, database)
    ok(cli("-p", "production", "upgrade", "catalog", "--to", PREVIOUS_HEAD, env=env))
    execute(database, "INSERT INTO holdings (id, name) VALUES (:id, :name)",
            [{"id": i, "name": n} for i, n in enumerate(SEED, 1)])  # fmt: skip
    out = tmp_path / "out.json"

    # 1. the batches ran (and counted their rows), then a later statement failed: nothing stays
    with Statements() as failed_run:
        result = cli(
            "-p", "production", "upgrade", "catalog", env={**env, "DATA_TEST_OUT": str(out), "DATA_TEST_FAIL": "1"}
        )
    assert result.exit_code == 1, result.output
    assert json.loads(out.read_text()) == {"changed": 5}
    assert_keyset(failed_run, "holdings", batch_size=2, batches=3)
    assert version(database) == {PREVIOUS_HEAD}
    assert [r[0] for r in fetch(database, "SELECT name FROM holdings ORDER BY id")] == SEED

    # 2. the same revision without the failure: the 5 rows the where= clause picks, in 3 key ranges
    out.unlink()
    with Statements() as good_run:
        ok(cli("-p", "production", "upgrade", "catalog", env={**env, "DATA_TEST_OUT": str(out)}))
    assert json.loads(out.read_text()) == {"changed": 5}
    assert assert_keyset(good_run, "holdings", batch_size=2, batches=3) == [(None, 3), (3, 6), (6, 7)]
    assert version(database) == {BATCH_REV}
    expected = [n.upper() if n.startswith("fix-") else n for n in SEED]
    assert [r[0] for r in fetch(database, "SELECT name FROM holdings ORDER BY id")] == expected


# --- 3. the helpers, directly with bind= -------------------------------------------------------

metadata = sa.MetaData()
items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("qty", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=True),
)
archive = sa.Table(
    "archive",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("title", sa.String(50), nullable=False),
    sa.Column("qty", sa.Integer, nullable=False),
    sa.Column("origin", sa.String(20), nullable=False),
)
archive_same = sa.Table(  # same-named columns as items, for the default column mapping
    "archive_same",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("qty", sa.Integer, nullable=False),
)
kinds = sa.Table(
    "kinds",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(20), nullable=False, unique=True),
    sa.Column("label", sa.String(50), nullable=False),
    sa.Column("rank", sa.Integer, nullable=True),
)


@pytest.fixture
def tables(database: str) -> Iterator[sa.Engine]:
    """The tables above in ``database``; items holds ids 10, 20, ... 250 (25 rows)."""
    eng = engine(database)
    metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(
            items.insert(),
            [
                {"id": 10 * i, "name": f"item-{i}", "qty": i % 4, "status": None if i % 3 else "done"}
                for i in range(1, 26)
            ],
        )
    yield eng
    eng.dispose()


def test_update_in_batches_counts_rows_and_respects_where(tables: sa.Engine) -> None:
    with tables.begin() as conn, Statements() as seen:
        changed = data.update_in_batches(
            items, {"status": "new", "qty": items.c.qty + 100}, where=items.c.status.is_(None), batch_size=4, bind=conn
        )
    assert changed == 17  # 25 rows, 8 of them (i divisible by 3) already 'done'
    _, updates = seen.on("items")
    assert len(updates) == 5  # ceil(17 / 4)
    assert_keyset(seen, "items", batch_size=4, batches=5)
    with tables.connect() as conn:
        rows = conn.execute(sa.select(items).order_by(items.c.id)).all()
    for row in rows:
        i = row.id // 10
        if i % 3:
            assert (row.status, row.qty) == ("new", i % 4 + 100), row
        else:
            assert (row.status, row.qty) == ("done", i % 4), row

    with tables.begin() as conn:  # nothing left to do: no rows, no UPDATE
        assert data.update_in_batches(items, {"status": "x"}, where=items.c.status.is_(None), bind=conn) == 0


def test_update_in_batches_all_rows_and_bad_arguments(tables: sa.Engine) -> None:
    with tables.begin() as conn:
        assert data.update_in_batches(items, {"qty": 0}, batch_size=7, bind=conn) == 25
        assert data.update_in_batches(items, {"qty": 1}, batch_size=1000, bind=conn) == 25
        with pytest.raises(ValueError, match="batch_size"):
            data.update_in_batches(items, {"qty": 0}, batch_size=0, bind=conn)
        pair = sa.Table("pair", sa.MetaData(), sa.Column("a", sa.Integer, primary_key=True),
                        sa.Column("b", sa.Integer, primary_key=True), sa.Column("v", sa.Integer))  # fmt: skip
        with pytest.raises(ValueError, match="single-column key"):
            data.update_in_batches(pair, {"v": 1}, bind=conn)
    with tables.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(items.c.qty == 1)).scalar() == 25


def test_copy_in_batches(tables: sa.Engine) -> None:
    with tables.begin() as conn, Statements() as seen:
        copied = data.copy_in_batches(
            items,
            archive,
            {"id": items.c.id, "title": sa.func.upper(items.c.name), "qty": items.c.qty, "origin": "legacy"},
            where=items.c.qty > 0,
            batch_size=6,
            bind=conn,
        )
        same = data.copy_in_batches(items, archive_same, batch_size=10, bind=conn)
    wanted = [i for i in range(1, 26) if i % 4]
    assert copied == len(wanted) == 19
    assert same == 25
    selects, _ = seen.on("items")
    assert all(s._offset is None or s._offset <= 9 for s in selects)
    with tables.connect() as conn:
        assert conn.execute(sa.select(archive).order_by(archive.c.id)).all() == [
            (10 * i, f"ITEM-{i}", i % 4, "legacy") for i in wanted
        ]
        assert conn.execute(sa.select(archive_same).order_by(archive_same.c.id)).all() == [
            (10 * i, f"item-{i}", i % 4) for i in range(1, 26)
        ]


def test_delete_in_batches_counts_rows_and_respects_where(tables: sa.Engine) -> None:
    with tables.begin() as conn, Statements() as seen:
        deleted = data.delete_in_batches(items, where=items.c.status.is_(None), batch_size=4, bind=conn)
    assert deleted == 17  # the 25 rows but the 8 'done' ones
    _, deletes = seen.on("items")
    assert all(isinstance(d, sa.Delete) for d in deletes)
    assert_keyset(seen, "items", batch_size=4, batches=5)  # ceil(17 / 4) DELETEs over chained key ranges
    with tables.connect() as conn:
        left = conn.execute(sa.select(items.c.id, items.c.status).order_by(items.c.id)).all()
    assert left == [(10 * i, "done") for i in range(3, 26, 3)]
    with tables.begin() as conn:
        assert data.delete_in_batches(items, where=items.c.status.is_(None), bind=conn) == 0
        assert data.delete_in_batches(items, batch_size=3, bind=conn) == 8  # no where: every row
        with pytest.raises(ValueError, match="batch_size"):
            data.delete_in_batches(items, batch_size=0, bind=conn)
    with tables.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(items)).scalar() == 0


def kinds_rows(eng: sa.Engine) -> list[tuple]:
    with eng.connect() as conn:
        return [
            tuple(r) for r in conn.execute(sa.select(kinds.c.code, kinds.c.label, kinds.c.rank).order_by(kinds.c.code))
        ]


def test_upsert_inserts_then_updates_without_duplicates(tables: sa.Engine) -> None:
    first = [{"code": "disk", "label": "Disk", "rank": 1}, {"code": "tape", "label": "Tape", "rank": 2}]
    with tables.begin() as conn:
        data.upsert(kinds, first, key=["code"], bind=conn)
    assert kinds_rows(tables) == [("disk", "Disk", 1), ("tape", "Tape", 2)]

    with tables.begin() as conn:  # the same again: nothing changes
        data.upsert(kinds, first, key=["code"], bind=conn)
    assert kinds_rows(tables) == [("disk", "Disk", 1), ("tape", "Tape", 2)]

    changed = [{"code": "tape", "label": "Tape library", "rank": 3}, {"code": "cloud", "label": "Cloud", "rank": 4}]
    with tables.begin() as conn:
        data.upsert(kinds, changed, key=["code"], bind=conn)
    assert kinds_rows(tables) == [("cloud", "Cloud", 4), ("disk", "Disk", 1), ("tape", "Tape library", 3)]

    # by primary key (the default key), with explicit ids
    with tables.begin() as conn:
        ids = dict(conn.execute(sa.select(kinds.c.code, kinds.c.id)).all())
        data.upsert(kinds, [{"id": ids["disk"], "code": "disk", "label": "Spinning disk", "rank": 1}], bind=conn)
    assert kinds_rows(tables) == [("cloud", "Cloud", 4), ("disk", "Spinning disk", 1), ("tape", "Tape library", 3)]

    with tables.begin() as conn:  # no rows: nothing to do
        data.upsert(kinds, [], key=["code"], bind=conn)
    assert len(kinds_rows(tables)) == 3


def test_upsert_takes_a_single_key_column_as_a_string(tables: sa.Engine) -> None:
    """``key="code"``, as update_in_batches and copy_in_batches take ``key``, means the column code."""
    with tables.begin() as conn:
        data.upsert(kinds, [{"code": "disk", "label": "Disk", "rank": 1}], key="code", bind=conn)
        data.upsert(kinds, [{"code": "disk", "label": "Disk 2", "rank": 1}], key="code", bind=conn)
    assert kinds_rows(tables) == [("disk", "Disk 2", 1)]


def test_require_columns_names_what_is_missing(tables: sa.Engine) -> None:
    frozen = sa.MetaData()
    good = sa.Table("items", frozen, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50)))
    stale = sa.Table(
        "archive", frozen, sa.Column("id", sa.Integer, primary_key=True), sa.Column("label", sa.String(50)),
        sa.Column("origin", sa.String(20)), sa.Column("moved_at", sa.DateTime),
    )  # fmt: skip
    gone = sa.Table("vanished", frozen, sa.Column("id", sa.Integer, primary_key=True))
    with tables.connect() as conn:
        data.require_columns(good, bind=conn)
        with pytest.raises(
            RuntimeError, match=r"^data step: table archive has no column\(s\) label, moved_at at this revision$"
        ):
            data.require_columns(good, stale, bind=conn)
        with pytest.raises(RuntimeError, match=r"^data step: table vanished does not exist at this revision$"):
            data.require_columns(gone, bind=conn)


def test_require_columns_fails_a_revision_with_one_clear_line(project: Path, cli) -> None:
    body = """
        holdings = sa.Table("holdings", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                            sa.Column("nickname", sa.String(50)))


        def upgrade() -> None:
            data.require_columns(holdings, bind=op.get_bind())
            data.update_in_batches(holdings, {"nickname": "x"})


        def downgrade() -> None:
            pass
        """
    write_revision(project, BATCH_REV, PREVIOUS_HEAD, body, "stale copy")
    result = cli("upgrade", "catalog")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("multidb: error:")]
    assert errors and "table holdings has no column(s) nickname at this revision" in errors[0], result.stderr
    assert "Traceback" not in result.output
    assert version(f"sqlite:///{project / 'var' / 'catalog.db'}") == {PREVIOUS_HEAD}


# --- 4. online=True: killed half-way, resumed -----------------------------------------------------

WIDGETS_REV, ONLINE_REV = "da7a00000010", "da7a00000011"
ROWS, ONLINE_BATCH = 5_000, 100
WIDGETS_BODY = """
    def upgrade() -> None:
        op.create_table(
            "widgets",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("counter", sa.Integer, nullable=False),
        )


    def downgrade() -> None:
        op.drop_table("widgets")
"""
ONLINE_BODY = f"""
    widgets = sa.Table(
        "widgets",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("counter", sa.Integer, nullable=False),
    )


    def upgrade() -> None:
        conn = op.get_bind()
        pause = float(os.environ.get("DATA_TEST_BATCH_PAUSE", "0"))

        def slow(_conn, statement, *_args):  # after each batch's UPDATE, before its commit
            if isinstance(statement, sa.Update):
                time.sleep(pause)

        if pause:
            sa.event.listen(conn, "after_execute", slow)
        try:
            data.update_in_batches(
                widgets, {{"counter": widgets.c.counter + 1}}, online=True, batch_size={ONLINE_BATCH}
            )
        finally:
            if pause:
                sa.event.remove(conn, "after_execute", slow)


    def downgrade() -> None:
        pass
"""


def checkpoint(url: str) -> list[tuple]:
    try:
        return fetch(url, "SELECT step, last_key, rows_done FROM multidb_data_progress")
    except sa.exc.DBAPIError:  # not created yet, or SQLite busy at that moment
        return []


def test_online_step_resumes_after_sigkill(project: Path, cli, database: str, tmp_path: Path) -> None:
    env = production(project, database)
    write_revision(project, WIDGETS_REV, PREVIOUS_HEAD, WIDGETS_BODY, "create widgets")
    ok(cli("-p", "production", "upgrade", "catalog", env=env))
    ids = [3 * i + 1 for i in range(ROWS)]  # keys with gaps
    execute(database, "INSERT INTO widgets (id, counter) VALUES (:id, 0)", [{"id": i} for i in ids])
    write_revision(project, ONLINE_REV, WIDGETS_REV, ONLINE_BODY, "count widgets online")

    process_env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIDB_")}
    process_env.update(env, MULTIDB_QUIET="1", DATA_TEST_BATCH_PAUSE="0.05")
    log = (tmp_path / "upgrade.log").open("w+")
    command = [sys.executable, "-m", "multidb", "-p", "production", "upgrade", "catalog"]
    process = subprocess.Popen(command, cwd=project, env=process_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not any(row[2] >= 3 * ONLINE_BATCH for row in checkpoint(database)):
            assert process.poll() is None, f"the upgrade ended before it was killed: {log.seek(0) or log.read()}"
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()

    # killed: the revision is not recorded; the committed batches and their checkpoint are there
    assert version(database) == {WIDGETS_REV}
    ((step, last_key, done),) = checkpoint(database)
    assert step == f"{ONLINE_REV}:widgets"
    assert done % ONLINE_BATCH == 0 and 3 * ONLINE_BATCH <= done < ROWS, done
    assert json.loads(last_key) == ids[done - 1]
    counters = dict(fetch(database, "SELECT counter, COUNT(*) FROM widgets GROUP BY counter"))
    assert counters == {1: done, 0: ROWS - done}, counters  # the batch in flight was rolled back

    # the rerun continues after the checkpoint: every row is counted exactly once
    with Statements() as rerun:
        ok(cli("-p", "production", "upgrade", "catalog", env=env))
    assert version(database) == {ONLINE_REV}
    assert dict(fetch(database, "SELECT counter, COUNT(*) FROM widgets GROUP BY counter")) == {1: ROWS}
    assert checkpoint(database) == []
    ranges = assert_keyset_from(rerun, ids[done - 1])
    assert len(ranges) == -(-(ROWS - done) // ONLINE_BATCH)


def assert_keyset_from(statements: Statements, after: int) -> list[tuple[int | None, int]]:
    """The rerun's UPDATE ranges start right after the checkpoint's key and chain."""
    _, updates = statements.on("widgets")
    ranges = []
    for update in updates:
        text = literal(update)
        low, high = re.search(r"widgets\.id > (\d+)", text), re.search(r"widgets\.id <= (\d+)", text)
        assert low and high, text
        ranges.append((int(low.group(1)), int(high.group(1))))
    assert ranges and ranges[0][0] == after, ranges[:3]
    for (_, previous_high), (low, _) in itertools.pairwise(ranges):
        assert low == previous_high
    return ranges


# --- 5. online steps: more than one per revision, keys that are not integers ----------------------

TWO_STEPS_REV = "da7a00000012"
TWO_STEPS_BODY = """
    metadata = sa.MetaData()
    widgets = sa.Table(
        "widgets", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("counter", sa.Integer)
    )
    gadgets = sa.Table(
        "gadgets", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("counter", sa.Integer)
    )


    def upgrade() -> None:
        conn = op.get_bind()
        fail_at = int(os.environ.get("DATA_TEST_INTERRUPT", "0"))
        seen = []

        def interrupt(_conn, statement, *_args):  # the connection drops during the 2nd step
            if isinstance(statement, sa.Update) and statement.table.name == "gadgets":
                seen.append(statement)
                if len(seen) == fail_at:
                    raise RuntimeError("connection lost")

        sa.event.listen(conn, "after_execute", interrupt)
        try:
            data.update_in_batches(widgets, {"counter": widgets.c.counter + 1}, online=True, batch_size=10)
            data.update_in_batches(gadgets, {"counter": gadgets.c.counter + 1}, online=True, batch_size=10)
        finally:
            sa.event.remove(conn, "after_execute", interrupt)


    def downgrade() -> None:
        pass
"""


@pytest.mark.parametrize("database", [SQLITE, POSTGRESQL], indirect=True)
def test_two_online_steps_in_one_revision_each_row_once(project: Path, cli, database: str) -> None:
    """An interruption in the 2nd online step must not make the rerun redo the finished 1st step."""
    env = production(project, database)
    ok(cli("-p", "production", "upgrade", "catalog", env=env))
    for table in ("widgets", "gadgets"):
        execute(database, f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, counter INTEGER NOT NULL)")
        execute(database, f"INSERT INTO {table} (id, counter) VALUES (:id, 0)", [{"id": i} for i in range(1, 51)])
    write_revision(project, TWO_STEPS_REV, PREVIOUS_HEAD, TWO_STEPS_BODY, "two online steps")

    result = cli("-p", "production", "upgrade", "catalog", env={**env, "DATA_TEST_INTERRUPT": "3"})
    assert result.exit_code == 1 and "connection lost" in result.output, result.output
    assert version(database) == {PREVIOUS_HEAD}
    assert dict(fetch(database, "SELECT counter, COUNT(*) FROM gadgets GROUP BY counter")) == {1: 20, 0: 30}

    ok(cli("-p", "production", "upgrade", "catalog", env=env))
    assert version(database) == {TWO_STEPS_REV}
    for table in ("widgets", "gadgets"):
        counters = dict(fetch(database, f"SELECT counter, COUNT(*) FROM {table} GROUP BY counter"))
        assert counters == {1: 50}, f"{table}: {counters} (rows migrated more than once)"
    assert checkpoint(database) == []


PURGE_REV = "da7a00000013"
PURGE_BODY = """
    widgets = sa.Table(
        "widgets", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("counter", sa.Integer)
    )


    def upgrade() -> None:
        conn = op.get_bind()
        fail_at = int(os.environ.get("DATA_TEST_INTERRUPT", "0"))
        seen = []

        def interrupt(_conn, statement, *_args):  # the connection drops after the 2nd batch's DELETE
            if isinstance(statement, sa.Delete):
                seen.append(statement)
                if len(seen) == fail_at:
                    raise RuntimeError("connection lost")

        sa.event.listen(conn, "after_execute", interrupt)
        try:
            data.delete_in_batches(widgets, where=widgets.c.counter == 1, online=True, batch_size=10)
        finally:
            sa.event.remove(conn, "after_execute", interrupt)


    def downgrade() -> None:
        pass
"""


def test_online_delete_in_batches_resumes_and_deletes_only_what_where_selects(
    project: Path, cli, database: str
) -> None:
    """An online purge interrupted in its 2nd batch keeps the 1st batch's deletions (committed with
    their checkpoint), and the rerun deletes the rest: every selected row once, no other row."""
    env = production(project, database)
    ok(cli("-p", "production", "upgrade", "catalog", env=env))
    execute(database, "CREATE TABLE widgets (id INTEGER PRIMARY KEY, counter INTEGER NOT NULL)")
    execute(
        database, "INSERT INTO widgets (id, counter) VALUES (:id, :c)", [{"id": i, "c": i % 2} for i in range(1, 61)]
    )
    write_revision(project, PURGE_REV, PREVIOUS_HEAD, PURGE_BODY, "purge odd widgets online")

    result = cli("-p", "production", "upgrade", "catalog", env={**env, "DATA_TEST_INTERRUPT": "2"})
    assert result.exit_code == 1 and "connection lost" in result.output, result.output
    assert version(database) == {PREVIOUS_HEAD}
    assert dict(fetch(database, "SELECT counter, COUNT(*) FROM widgets GROUP BY counter")) == {0: 30, 1: 20}

    ok(cli("-p", "production", "upgrade", "catalog", env=env))
    assert version(database) == {PURGE_REV}
    assert fetch(database, "SELECT id FROM widgets ORDER BY id") == [(i,) for i in range(2, 61, 2)]
    assert checkpoint(database) == []


@pytest.mark.parametrize("database", [SQLITE, POSTGRESQL], indirect=True)
def test_online_step_with_uuid_keys_resumes(database: str) -> None:
    """Online checkpoints store the last key; a UUID primary key must survive the round trip."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    tokens = sa.Table(
        "tokens",
        sa.MetaData(),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("counter", sa.Integer, nullable=False),
    )
    eng = engine(database)
    tokens.create(eng)
    with eng.begin() as conn:
        conn.execute(tokens.insert(), [{"id": uuid.uuid4(), "counter": 0} for _ in range(25)])

    def run(fail_at: int = 0) -> int:
        updates: list[Any] = []

        def interrupt(_conn, statement, *_args):
            if isinstance(statement, sa.Update) and statement.table.name == "tokens":
                updates.append(statement)
                if len(updates) == fail_at:
                    raise RuntimeError("connection lost")

        with eng.connect() as conn:
            sa.event.listen(conn, "after_execute", interrupt)
            context = MigrationContext.configure(conn)
            with Operations.context(context), context.begin_transaction():
                return data.update_in_batches(
                    tokens, {"counter": tokens.c.counter + 1}, online=True, batch_size=10, step="tokens"
                )

    try:
        with pytest.raises(RuntimeError, match="connection lost"):
            run(fail_at=2)
        assert dict(fetch(database, "SELECT counter, COUNT(*) FROM tokens GROUP BY counter")) == {1: 10, 0: 15}
        assert run() == 25
        assert dict(fetch(database, "SELECT counter, COUNT(*) FROM tokens GROUP BY counter")) == {1: 25}
    finally:
        eng.dispose()


# --- 6. --sql ---------------------------------------------------------------------------------


def test_batches_in_sql_mode_write_one_plain_update(project: Path, cli) -> None:
    """``upgrade --sql`` has no connection to find key ranges with: the file gets one set-based UPDATE
    (no key-range clauses), and ``require_columns`` has nothing to inspect, so it checks nothing."""
    path = data_revision(project, cli)
    path.write_text(replace_function(path.read_text(), "upgrade", UPPER_BODY))
    assert "data.require_columns" in path.read_text()
    result = cli("upgrade", "catalog", "--sql", "--to", f"{PREVIOUS_HEAD}:{DATA_REV}", "--output-dir", "sql")
    assert result.exit_code == 0, result.output
    sql = (project / "sql" / "catalog.sql").read_text()
    assert "UPDATE holdings SET name=upper(holdings.name);" in sql


def test_delete_in_batches_in_sql_mode_writes_one_plain_delete(project: Path, cli) -> None:
    write_revision(
        project,
        PURGE_REV,
        PREVIOUS_HEAD,
        """
    def upgrade() -> None:
        holdings = sa.table("holdings", sa.column("id"), sa.column("name"))
        data.delete_in_batches(holdings, where=holdings.c.name.is_(None), key="id", online=True, batch_size=10)


    def downgrade() -> None:
        pass
""",
    )
    result = cli("upgrade", "catalog", "--sql", "--to", f"{PREVIOUS_HEAD}:{PURGE_REV}", "--output-dir", "sql")
    assert result.exit_code == 0, result.output
    sql = (project / "sql" / "catalog.sql").read_text()
    assert "DELETE FROM holdings WHERE holdings.name IS NULL;" in sql
    assert "holdings.id >" not in sql and "holdings.id <=" not in sql

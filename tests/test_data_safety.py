"""Data-migration helpers that must not do the wrong thing quietly, on SQLite, PostgreSQL and MariaDB.

* two online steps on one table in one revision each run (and resume) under a checkpoint of their own;
* a batch key that is nullable or not unique is refused before anything changes (NULL keys would be
  skipped);
* ``enums.change_values`` on SQLite with plain strings leaves the column as the models declare it
  (``VARCHAR`` as long as the longest new label), so ``multidb check`` finds no drift;
* used as a library (no CLI), the helpers print nothing, even on a terminal; the CLI's reporter draws.
"""

from __future__ import annotations

import inspect
import os
import pty
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import make_url
from test_data import (
    DIALECTS,
    PREVIOUS_HEAD,
    SQLITE,
    checkpoint,
    engine,
    execute,
    fetch,
    ok,
    production,
    version,
    write_revision,
)

from multidb import data, enums, hooks


@pytest.fixture(params=DIALECTS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each dialect, as a SQLAlchemy URL with an explicit driver."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'safety.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database")()
        return make_url(url).set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    return request.getfixturevalue("mariadb_database")()


# --- 1. two online steps on one table --------------------------------------------------------------

SAME_TABLE_REV = "da7a00000020"
SAME_TABLE_BODY = """
    widgets = sa.Table(
        "widgets",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("counter", sa.Integer, nullable=False),
        sa.Column("doubled", sa.Integer, nullable=True),
    )


    def upgrade() -> None:
        conn = op.get_bind()
        fail_at = int(os.environ.get("DATA_TEST_INTERRUPT", "0"))
        seen = []

        def interrupt(_conn, statement, *_args):  # the connection drops during the 2nd step
            if isinstance(statement, sa.Update) and "doubled" in str(statement):
                seen.append(statement)
                if len(seen) == fail_at:
                    raise RuntimeError("connection lost")

        sa.event.listen(conn, "after_execute", interrupt)
        try:
            data.update_in_batches(widgets, {"counter": widgets.c.counter + 1}, online=True, batch_size=10)
            data.update_in_batches(widgets, {"doubled": widgets.c.counter * 2}, online=True, batch_size=10)
        finally:
            sa.event.remove(conn, "after_execute", interrupt)


    def downgrade() -> None:
        pass
"""


def widgets_table(url: str, rows: int = 50) -> None:
    execute(url, "CREATE TABLE widgets (id INTEGER PRIMARY KEY, counter INTEGER NOT NULL, doubled INTEGER)")
    execute(url, "INSERT INTO widgets (id, counter) VALUES (:id, 0)", [{"id": i} for i in range(1, rows + 1)])


def test_two_online_steps_on_one_table_both_run(project: Path, cli, database: str) -> None:
    env = production(project, database)
    ok(cli("-p", "production", "upgrade", "catalog", env=env))
    widgets_table(database)
    write_revision(project, SAME_TABLE_REV, PREVIOUS_HEAD, SAME_TABLE_BODY, "two steps on widgets")

    ok(cli("-p", "production", "upgrade", "catalog", env=env))
    assert version(database) == {SAME_TABLE_REV}
    assert fetch(database, "SELECT counter, doubled, COUNT(*) FROM widgets GROUP BY counter, doubled") == [(1, 2, 50)]
    assert checkpoint(database) == []


def test_two_online_steps_on_one_table_resume_each_on_its_own(project: Path, cli, database: str) -> None:
    """Interrupted in the 2nd step: the rerun skips the finished 1st step and continues the 2nd."""
    env = production(project, database)
    ok(cli("-p", "production", "upgrade", "catalog", env=env))
    widgets_table(database)
    write_revision(project, SAME_TABLE_REV, PREVIOUS_HEAD, SAME_TABLE_BODY, "two steps on widgets")

    result = cli("-p", "production", "upgrade", "catalog", env={**env, "DATA_TEST_INTERRUPT": "3"})
    assert result.exit_code == 1 and "connection lost" in result.output, result.output
    assert version(database) == {PREVIOUS_HEAD}
    marks = {step: done for step, _, done in checkpoint(database)}
    assert marks == {f"{SAME_TABLE_REV}:widgets": 50, f"{SAME_TABLE_REV}:widgets#2": 20}, marks

    ok(cli("-p", "production", "upgrade", "catalog", env=env))
    assert version(database) == {SAME_TABLE_REV}
    assert fetch(database, "SELECT counter, doubled, COUNT(*) FROM widgets GROUP BY counter, doubled") == [(1, 2, 50)]
    assert checkpoint(database) == []


@pytest.mark.parametrize("database", [SQLITE], indirect=True)
def test_one_explicit_step_name_twice_is_refused(project: Path, cli, database: str) -> None:
    env = production(project, database)
    ok(cli("-p", "production", "upgrade", "catalog", env=env))
    widgets_table(database)
    body = SAME_TABLE_BODY.replace("batch_size=10)", 'batch_size=10, step="widgets")')
    write_revision(project, SAME_TABLE_REV, PREVIOUS_HEAD, body, "two steps on widgets")

    result = cli("-p", "production", "upgrade", "catalog", env=env)
    assert result.exit_code == 1, result.output
    assert f"revision {SAME_TABLE_REV}: a second online step named 'widgets' (table widgets)" in result.stderr
    assert "pass a distinct step=" in result.stderr
    assert version(database) == {PREVIOUS_HEAD}


def test_online_outside_a_multidb_run_needs_a_step_name(tmp_path: Path) -> None:
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    eng = engine(f"sqlite:///{tmp_path / 'plain.db'}")
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.Integer))
    table.create(eng)
    with eng.connect() as conn:
        context = MigrationContext.configure(conn)
        refused = pytest.raises(ValueError, match=r"table t: online=True outside a multidb run needs step=")
        with Operations.context(context), context.begin_transaction(), refused:
            data.update_in_batches(table, {"v": 1}, online=True)
    eng.dispose()


# --- 2. batch keys that would skip rows -------------------------------------------------------------

things = sa.Table(
    "things",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("code", sa.String(20), nullable=True),  # NULL for some rows
    sa.Column("team", sa.Integer, nullable=False),  # not unique
    sa.Column("slug", sa.String(20), nullable=False, unique=True),
    sa.Column("v", sa.Integer, nullable=True),
)
pairs = sa.Table(
    "pairs",
    sa.MetaData(),
    sa.Column("a", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("b", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("c", sa.Integer, nullable=False),
    sa.Column("v", sa.Integer, nullable=True),
    sa.UniqueConstraint("c", "a"),
)


@pytest.fixture
def keyed(database: str) -> Iterator[sa.Engine]:
    eng = engine(database)
    for table in (things, pairs):
        table.create(eng)
    with eng.begin() as conn:
        conn.execute(
            things.insert(),
            [
                {"id": i, "code": None if i % 3 == 0 else f"c{i:02}", "team": i % 2, "slug": f"s{i:02}"}
                for i in range(1, 13)
            ],
        )
        conn.execute(pairs.insert(), [{"a": i // 3, "b": i % 3, "c": i} for i in range(12)])
    yield eng
    eng.dispose()


def untouched(eng: sa.Engine, table: sa.Table) -> bool:
    with eng.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.v.is_not(None))).scalar() == 0


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        (things, "code", "things.code can be NULL, and rows with a NULL key would be skipped"),
        (things, "team", "things.team is not unique"),
        (pairs, "a", "pairs.a is not unique"),
        (pairs, "c", "pairs.c is not unique"),
        (pairs, None, "needs a single-column key"),
    ],
)
def test_a_nullable_or_non_unique_key_is_refused_before_any_change(keyed: sa.Engine, table, key, message) -> None:
    for online, batch_size in ((False, 4), (False, None)):
        with keyed.begin() as conn, pytest.raises(ValueError, match=re.escape(message)) as refused:
            data.update_in_batches(table, {"v": 1}, key=key, batch_size=batch_size, online=online, bind=conn)
        assert "pass key=" in str(refused.value)
        assert untouched(keyed, table)
    target = sa.Table("things_copy", sa.MetaData(), *[sa.Column(c.name, c.type) for c in table.c])
    with keyed.begin() as conn, pytest.raises(ValueError, match=re.escape(message)):
        data.copy_in_batches(table, target, key=key, batch_size=4, bind=conn)


def test_a_reflected_nullable_key_is_refused_too(keyed: sa.Engine) -> None:
    reflected = sa.Table("things", sa.MetaData(), autoload_with=keyed)
    with keyed.begin() as conn, pytest.raises(ValueError, match=r"things\.code can be NULL"):
        data.update_in_batches(reflected, {"v": 1}, key="code", batch_size=4, bind=conn)
    assert untouched(keyed, things)
    with keyed.begin() as conn:  # the reflected unique, NOT NULL column is a good key
        assert data.update_in_batches(reflected, {"v": 1}, key="slug", batch_size=5, bind=conn) == 12


def test_a_lightweight_table_is_checked_against_the_database(keyed: sa.Engine) -> None:
    """``sa.table()`` declares no nullability or keys: the database's own definition decides."""
    light = sa.table("things", sa.column("id"), sa.column("code"), sa.column("slug"), sa.column("v"))
    with keyed.begin() as conn, pytest.raises(ValueError, match=r"things\.code can be NULL"):
        data.update_in_batches(light, {"v": 1}, key="code", batch_size=4, bind=conn)
    assert untouched(keyed, things)
    with keyed.begin() as conn:
        assert data.update_in_batches(light, {"v": 1}, key="slug", batch_size=5, bind=conn) == 12


def test_a_unique_not_null_key_batches_every_row(keyed: sa.Engine) -> None:
    with keyed.begin() as conn:
        assert data.update_in_batches(things, {"v": 1}, key="slug", batch_size=5, bind=conn) == 12
    with keyed.begin() as conn:
        assert data.update_in_batches(things, {"v": 2}, key="slug", batch_size=5, bind=conn) == 12
    with keyed.connect() as conn:
        assert conn.execute(sa.select(things.c.v, sa.func.count()).group_by(things.c.v)).all() == [(2, 12)]


# --- 3. SQLite enums: the column as the models declare it --------------------------------------------

ENUM_REV1 = '''"""create tickets"""
import sqlalchemy as sa
from alembic import op

revision = "b1"
down_revision = None
branch_labels = ("app",)
depends_on = None


def upgrade() -> None:
    tickets = op.create_table(
        "tickets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("status", sa.Enum("open", "closed", name="ticket_status"), nullable=False),
    )
    op.bulk_insert(tickets, [{"id": 1, "status": "open"}, {"id": 2, "status": "closed"}])


def downgrade() -> None:
    op.drop_table("tickets")
'''
ENUM_REV2 = '''"""longer labels"""
from multidb import enums

revision = "b2"
down_revision = "b1"
branch_labels = None
depends_on = None

OLD, NEW, MAPPING = ["open", "closed"], ["open", "closed", "waiting_for_customer"], {}


def upgrade() -> None:
    enums.change_values("tickets", "status", old=OLD, new=NEW, mapping=MAPPING, name="ticket_status", nullable=False)


def downgrade() -> None:
    enums.change_values("tickets", "status", old=NEW, new=OLD, name="ticket_status", nullable=False)
'''
ENUM_MODELS = """
import sqlalchemy as sa

metadata = sa.MetaData()
tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("status", sa.Enum({labels}, name="ticket_status"), nullable=False),
)
"""


def enum_project(root: Path, url: str) -> tuple[Path, str]:
    """Config, two revisions and a models module (a fresh name: nothing cached); returns the config, module."""
    (root / "versions").mkdir(parents=True)
    (root / "versions" / "b1_create_tickets.py").write_text(ENUM_REV1)
    (root / "versions" / "b2_longer_labels.py").write_text(ENUM_REV2)
    module = f"ticket_models_{uuid.uuid4().hex[:8]}"
    raw = {
        "python_path": ["."],
        "databases": {
            "app": {"url": url, "metadata": f"{module}:metadata", "bases": [{"label": "app", "path": "versions"}]}
        },
    }
    (root / "multidb.yaml").write_text(yaml.safe_dump(raw))
    return root / "multidb.yaml", module


def status_type(url: str) -> str:
    with engine(url).connect() as conn:
        column = next(c for c in sa.inspect(conn).get_columns("tickets") if c["name"] == "status")
        return str(column["type"])


def test_enum_change_leaves_no_drift(database: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from multidb.cli import main

    config, module = enum_project(tmp_path / "enums", database)

    def cli(*args: str):
        return CliRunner().invoke(main, ["-c", str(config), *args], catch_exceptions=False)

    def models(*labels: str) -> None:
        (config.parent / f"{module}.py").write_text(ENUM_MODELS.format(labels=", ".join(map(repr, labels))))
        sys.modules.pop(module, None)

    models("open", "closed", "waiting_for_customer")
    ok(cli("upgrade", "app"))
    checked = cli("check", "app")
    assert checked.exit_code == 0, checked.output
    if database.startswith("sqlite"):
        assert status_type(database) == "VARCHAR(20)"  # len("waiting_for_customer")
    with engine(database).connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM tickets ORDER BY id")).scalars().all() == ["open", "closed"]

    ok(cli("downgrade", "app", "--to", "b1"))
    models("open", "closed")  # the models as they stood at b1, and b1 the head again: check compares
    (config.parent / "versions" / "b2_longer_labels.py").unlink()
    checked = cli("check", "app")
    assert checked.exit_code == 0, checked.output
    if database.startswith("sqlite"):
        assert status_type(database) == "VARCHAR(6)"


def test_sqlite_enum_keeps_a_length_the_models_chose(tmp_path: Path) -> None:
    """A column not sized by its labels (a plain String(50) holding the values) keeps its length."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    eng = engine(f"sqlite:///{tmp_path / 'app.db'}")
    tickets = sa.Table("tickets", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                       sa.Column("status", sa.String(50), nullable=False))  # fmt: skip
    tickets.create(eng)
    with eng.connect() as conn:
        context = MigrationContext.configure(conn)
        with Operations.context(context), context.begin_transaction():
            enums.change_values("tickets", "status", old=["a"], new=["a", "bbbbbbbb"], nullable=False)
    assert status_type(f"sqlite:///{tmp_path / 'app.db'}") == "VARCHAR(50)"
    eng.dispose()


# --- 4. only the CLI prints ----------------------------------------------------------------------------

LIBRARY_SCRIPT = """
import sqlalchemy as sa
from multidb import data

metadata = sa.MetaData()
items = sa.Table("items", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.Integer))
copy = sa.Table("copy", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.Integer))
engine = sa.create_engine("sqlite://")
metadata.create_all(engine)
with engine.begin() as conn:
    conn.execute(items.insert(), [{"id": i} for i in range(1, 101)])
    assert data.update_in_batches(items, {"v": 1}, batch_size=10, bind=conn) == 100
    assert data.copy_in_batches(items, copy, batch_size=10, bind=conn) == 100
"""


def test_the_helpers_as_a_library_print_nothing_even_on_a_terminal(tmp_path: Path) -> None:
    script = tmp_path / "library_use.py"
    script.write_text(LIBRARY_SCRIPT)
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIDB_")}
    process = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.DEVNULL, stdout=terminal,
                               stderr=terminal, env=env)  # fmt: skip
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert process.wait(timeout=60) == 0, b"".join(chunks).decode(errors="replace")
    assert b"".join(chunks) == b""


def test_post_write_hooks_as_a_library_report_to_the_reporter(tmp_path: Path, capfd) -> None:
    from multidb import reporting
    from multidb.config import load_config

    config = tmp_path / "multidb.yaml"
    config.write_text(
        yaml.safe_dump({"databases": {"app": {"url": "sqlite:///x.db", "bases": [{"label": "app", "path": "v"}]}}})
    )
    project = load_config(config)
    written = tmp_path / "v" / "x.py"
    written.parent.mkdir()
    written.write_text("")
    failing = [("false", [sys.executable, "-c", "import sys; sys.exit(3)"])]

    hooks.run(project, failing, [str(written)])
    assert capfd.readouterr() == ("", "")

    class Collect:
        def __init__(self) -> None:
            self.warnings: list[str] = []

        def wants_progress(self) -> bool:
            return False

        def progress(self, step: str, done: int, total: int) -> None:
            pass

        def finished(self, step: str) -> None:
            pass

        def warning(self, text: str) -> None:
            self.warnings.append(text)

    collect = Collect()
    with reporting.using(collect):
        hooks.run(project, failing, [str(written)])
    assert capfd.readouterr() == ("", "")
    assert len(collect.warnings) == 1 and "post_write_hooks: 'false' exited 3" in collect.warnings[0]


def test_data_and_hooks_import_neither_click_nor_private_frames() -> None:
    for module in (data, hooks):
        source = inspect.getsource(module)
        assert "import click" not in source, module.__name__
        assert "_getframe" not in source, module.__name__

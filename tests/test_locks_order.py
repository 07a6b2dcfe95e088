"""Locks that protect and an order that holds (issue 11, items 8, 9 and 10).

* SQLite: while a runner migrates holding SQLite's EXCLUSIVE lock, other runners and ``status`` wait
  on the migration lock (up to ``--lock-timeout``) and name its holder, instead of failing with
  ``database is locked`` after ``connect_timeout``.
* ``--atomic`` with two entries on one database: one lock, one connection, one transaction.
* ``downgrade`` runs dependents first; ``--atomic`` takes its locks in one global order.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from assertions import one_error_line

from example_project import CATALOG_HEAD, CATALOG_NEXT


def run_multidb(project: Path, *args: str) -> subprocess.Popen:
    """``python -m multidb ARGS`` in the project folder, started, not awaited."""
    return subprocess.Popen(
        [sys.executable, "-m", "multidb", *args],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, process: subprocess.Popen, limit: float = 60) -> None:
    """Until ``path`` exists (the process got there), failing if the process ends first."""
    deadline = time.monotonic() + limit
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"the runner ended early: {process.communicate()}")
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


# --- item 8: SQLite readers and waiters ---------------------------------------------------------

HOLDING_REVISION = f'''"""write enough to hold SQLite's EXCLUSIVE lock, then wait for a marker file

Revision ID: {CATALOG_NEXT}
Revises: {CATALOG_HEAD}
"""
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "{CATALOG_NEXT}"
down_revision = "{CATALOG_HEAD}"
branch_labels = None
depends_on = None

HERE = Path(__file__).resolve().parents[1]


def upgrade() -> None:
    op.execute("PRAGMA cache_size = 10")  # a small page cache spills to the file: EXCLUSIVE lock
    op.create_table("bulk", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("data", sa.LargeBinary()))
    op.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
        "INSERT INTO bulk (data) SELECT randomblob(1000) FROM n"
    )
    (HERE / "holding").write_text("yes")
    deadline = time.monotonic() + 120
    while not (HERE / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def downgrade() -> None:
    op.drop_table("bulk")
'''


def test_sqlite_waiters_and_status_wait_for_the_migration_lock_and_name_its_holder(cli, project: Path):
    assert cli("upgrade", "--all").exit_code == 0
    (project / "catalog_versions" / f"{CATALOG_NEXT}_holding.py").write_text(HOLDING_REVISION)
    holder = run_multidb(project, "upgrade", "catalog")
    try:
        wait_for(project / "holding", holder)
        # the precondition: the database file itself cannot be read now
        reader = closing(sqlite3.connect(project / "var" / "catalog.db", timeout=0))
        with reader as conn, pytest.raises(sqlite3.OperationalError, match="locked"):
            conn.execute("SELECT * FROM locations").fetchall()

        waiter = run_multidb(project, "upgrade", "--all", "--lock-timeout", "1")
        out, err = waiter.communicate(timeout=60)
        assert waiter.returncode == 1, (out, err)
        line = one_error_line(err)
        assert "catalog: could not get the migration lock within 1 s" in line, line
        assert f"pid {holder.pid}" in line and "database is locked" not in line, line

        reader = run_multidb(project, "status", "--all", "--lock-timeout", "1", "--json")
        out, err = reader.communicate(timeout=60)
        assert reader.returncode == 1, (out, err)
        rows = {row["name"]: row for row in json.loads(out)}
        assert rows["catalog"]["state"] == "error"
        assert "could not get the migration lock within 1 s" in rows["catalog"]["error"]
        assert f"pid {holder.pid}" in rows["catalog"]["error"]
        assert rows["monitor"]["state"] == "at head"  # another file: not held up

        patient = run_multidb(project, "upgrade", "--all", "--lock-timeout", "120", "--json")
        (project / "go").write_text("go")
        out, err = holder.communicate(timeout=120)
        assert holder.returncode == 0, (out, err)
        out, err = patient.communicate(timeout=120)
        assert patient.returncode == 0, (out, err)
        assert {r["name"]: r["result"] for r in json.loads(out)} == {"catalog": "no change", "monitor": "no change"}
    finally:
        (project / "go").write_text("go")
        holder.communicate(timeout=120)
    status = cli("status", "catalog", "--json")
    assert json.loads(status.stdout)[0]["current"] == [CATALOG_NEXT]


# --- a two-entry project: child depends_on parent -------------------------------------------------

REVISION = '''"""{name}

Revision ID: {rev}
Revises:
"""
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = None
branch_labels = ("{name}",)
depends_on = None

LOG = Path(__file__).resolve().parents[1] / "order.log"


def log(what: str) -> None:
    with LOG.open("a") as f:
        f.write(what + "\\n")


def upgrade() -> None:
    op.create_table({columns})
    log("{name} up")


def downgrade() -> None:
    op.drop_table("{name}_t")
    log("{name} down")
'''

PARENT_COLUMNS = '"parent_t", sa.Column("id", sa.Integer(), primary_key=True)'
CHILD_COLUMNS = (
    '"child_t", sa.Column("id", sa.Integer(), primary_key=True), '
    'sa.Column("parent_id", sa.Integer(), sa.ForeignKey("parent_t.id"))'
)


def two_entries(root: Path, parent_url: str, child_url: str) -> Path:
    """A project whose ``child`` depends_on ``parent`` (its table references parent's); each logs its steps."""
    for name, rev, columns in (("parent", "a1000000000a", PARENT_COLUMNS), ("child", "b2000000000b", CHILD_COLUMNS)):
        folder = root / f"{name}_versions"
        folder.mkdir(parents=True)
        (folder / f"{rev}_{name}.py").write_text(REVISION.format(name=name, rev=rev, columns=columns))
    (root / "config").mkdir()
    (root / "config" / "multidb.yaml").write_text(
        "databases:\n"
        "  parent:\n"
        f"    url: {parent_url}\n"
        "    version_table: parent_version\n"
        "    bases: [{label: parent, path: ../parent_versions}]\n"
        "  child:\n"
        f"    url: {child_url}\n"
        "    version_table: child_version\n"
        "    bases: [{label: child, path: ../child_versions}]\n"
        "    depends_on: [parent]\n"
    )
    return root


def order(root: Path) -> list[str]:
    log = root / "order.log"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


@pytest.fixture
def in_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run the CLI in-process from ``tmp_path``."""
    from click.testing import CliRunner

    from multidb.cli import main

    monkeypatch.chdir(tmp_path)
    return lambda *args: CliRunner().invoke(main, list(args), catch_exceptions=False)


# --- item 9: --atomic with two entries on one database ----------------------------------------------


def test_atomic_two_entries_in_one_sqlite_file_share_the_lock_and_the_transaction(tmp_path: Path, in_folder):
    root = two_entries(tmp_path, "sqlite:///../var/app.db", "sqlite:///../var/app.db")
    result = in_folder("upgrade", "--all", "--atomic", "--lock-timeout", "2", "--json")
    assert result.exit_code == 0, result.output
    assert [r["result"] for r in json.loads(result.stdout)] == ["upgraded", "upgraded"]
    assert order(root) == ["parent up", "child up"]
    result = in_folder("downgrade", "parent", "child", "--to", "base", "--atomic", "--lock-timeout", "2")
    assert result.exit_code == 0, result.output
    assert order(root) == ["child down", "parent down"]
    with closing(sqlite3.connect(root / "var" / "app.db")) as conn, conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not tables & {"parent_t", "child_t"}


@pytest.mark.postgresql
def test_atomic_two_entries_in_one_postgresql_database_share_one_transaction(tmp_path: Path, in_folder, pg_database):
    url = pg_database()
    root = two_entries(tmp_path, url, url)
    result = in_folder("upgrade", "--all", "--atomic", "--json")
    assert result.exit_code == 0, result.output
    assert [r["result"] for r in json.loads(result.stdout)] == ["upgraded", "upgraded"]
    assert order(root) == ["parent up", "child up"]
    # the foreign key makes the order matter: parent's table cannot go while child's references it
    result = in_folder("downgrade", "parent", "child", "--to", "base", "--atomic")
    assert result.exit_code == 0, result.output
    assert order(root) == ["child down", "parent down"]


# --- item 10: order -----------------------------------------------------------------------------------


@pytest.mark.postgresql
def test_downgrade_runs_dependents_first_postgresql(tmp_path: Path, in_folder, pg_database):
    url = pg_database()
    root = two_entries(tmp_path, url, url)
    assert in_folder("upgrade", "--all").exit_code == 0
    order(root)
    result = in_folder("downgrade", "parent", "child", "--to", "base", "--json")
    assert result.exit_code == 0, result.output
    assert order(root) == ["child down", "parent down"]
    assert [r["name"] for r in json.loads(result.stdout)] == ["child", "parent"]


def test_downgrade_runs_dependents_first_sqlite(tmp_path: Path, in_folder):
    root = two_entries(tmp_path, "sqlite:///../var/parent.db", "sqlite:///../var/child.db")
    assert in_folder("upgrade", "--all").exit_code == 0
    assert order(root) == ["parent up", "child up"]
    for listed in (("parent", "child"), ("child", "parent")):
        result = in_folder("downgrade", *listed, "--to", "base")
        assert result.exit_code == 0, result.output
        assert order(root) == ["child down", "parent down"]
        assert in_folder("upgrade", "--all").exit_code == 0
        assert order(root) == ["parent up", "child up"]


def test_atomic_takes_the_locks_in_one_order_whatever_the_action(cli, monkeypatch: pytest.MonkeyPatch):
    """The no-crosswise-wait argument: every runner takes its locks in the same global order."""
    from multidb import locking

    taken: list[str] = []
    real = locking.migration_lock

    def recording(db, timeout, connection=None):
        taken.append(db.name)
        return real(db, timeout, connection)

    monkeypatch.setattr(locking, "migration_lock", recording)
    assert cli("upgrade", "--all", "--atomic").exit_code == 0
    upgrade_order, taken[:] = list(taken), []
    assert cli("downgrade", "catalog", "monitor", "--to", "base", "--atomic").exit_code == 0
    assert sorted(upgrade_order) == ["catalog", "monitor"]
    assert taken == upgrade_order

"""MariaDB/MySQL: a revision left half-applied by a killed runner is named by the next run, never re-run blindly.

DDL commits at once there, so a runner killed with SIGKILL inside a revision leaves some of its
statements applied and the version row where it was. multidb records the revision in progress in
``<version_table>_progress``; these tests kill real ``python -m multidb`` processes on a real
MariaDB server and check what the next ``status``, ``upgrade`` and ``downgrade`` say and do.
"""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from assertions import one_error_line
from test_interrupts import App, finish, make_app, rev, wait_for

pytestmark = pytest.mark.mariadb

PROGRESS = "alembic_version_progress"

# revision 2 (after its own CREATE TABLE t2): two more DDL statements, then it waits, killed, for a file
# that never comes; a password-like literal shows that a statement's values are never recorded
HALF = """
op.add_column("t1", sa.Column("note", sa.String(20), server_default="s3cr3t-literal"))
op.create_index("ix_t1_note", "t1", ["note"])
Path({marker!r}).write_text(str(os.getpid()))
while not Path({go!r}).exists():
    __import__("time").sleep(0.05)
op.create_table("t2b", sa.Column("id", sa.Integer(), primary_key=True))
"""


def killed_in_revision_2(app: App, *args: str) -> None:
    """Upgrade to revision 1 cleanly, then kill (SIGKILL) a runner inside revision 2, between its statements."""
    app.write(1)
    assert app.run("upgrade", "app").returncode == 0
    marker, go = app.folder / "in-r2", app.folder / "go"
    app.write(3, {2: HALF.format(marker=str(marker), go=str(go))})
    runner = app.spawn("upgrade", "app", *args)
    wait_for(lambda: marker.exists() or runner.poll() is not None, "the runner to reach the pause in revision 2")
    assert runner.poll() is None, runner.communicate()
    runner.send_signal(signal.SIGKILL)
    finish(runner)
    go.write_text("go")  # a later run of revision 2 would not wait
    wait_for(lambda: lock_free(app), "the server to end the killed runner's session (and its lock)")


def lock_free(app: App) -> bool:
    name = sa.engine.make_url(app.url).database
    return app.query(f"SELECT IS_USED_LOCK('multidb:{name}.alembic_version')") == [(None,)]


def progress_rows(app: App) -> list[tuple]:
    engine = app.engine()
    try:
        if not sa.inspect(engine).has_table(PROGRESS):
            return []
    finally:
        engine.dispose()
    return app.query(f"SELECT revision, action, statements, finished FROM {PROGRESS}")


STATEMENTS = "statement 1: CREATE TABLE t2 | statement 2: ALTER TABLE t1 | statement 3: CREATE INDEX ix_t1_note"


def test_a_revision_killed_halfway_is_named_and_never_run_again_blindly(tmp_path: Path, request):
    app = make_app("mariadb", tmp_path, request)
    killed_in_revision_2(app)
    assert app.versions() == {rev(1)}, "the version row did not move"
    assert {"t2"} <= app.tables(), "revision 2's first statements stayed (MariaDB cannot roll back DDL)"

    status = app.run("status", "app")
    assert status.returncode == 1, status.stdout + status.stderr
    row = next(line for line in status.stdout.splitlines() if line.startswith("app "))
    assert row.endswith("  interrupted"), row  # the table keeps the short state, the message is under it
    note = next(line for line in status.stdout.splitlines() if line.startswith("app: interrupted: "))
    assert "interrupted: revision " + rev(2) in note and STATEMENTS in note, note
    assert "s3cr3t" not in status.stdout + status.stderr, "a statement's literals are never recorded"
    assert f"multidb stamp app --to {rev(2)}" in note and "--forget-interrupted" in note, note

    before = app.schema()
    again = app.run("upgrade", "app")
    assert again.returncode == 1, again.stdout + again.stderr
    line = one_error_line(again.stderr)
    assert f"app: revision {rev(2)} (" in line and "was left half-applied by an earlier upgrade" in line, line
    assert STATEMENTS in line and "upgrade refused" in line, line
    assert "Duplicate" not in line and "already exists" not in line, "refused before anything ran"
    assert app.schema() == before and app.versions() == {rev(1)}, "nothing was changed"
    assert one_error_line(app.run("downgrade", "app", "--to", "base").stderr).count(rev(2)) >= 1

    # the operator undoes what the line named, then says so
    engine = app.engine()
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE t2")
        conn.exec_driver_sql("ALTER TABLE t1 DROP INDEX ix_t1_note, DROP COLUMN note")
    engine.dispose()
    done = app.run("upgrade", "app", "--forget-interrupted")
    assert done.returncode == 0, done.stdout + done.stderr
    assert app.versions() == {rev(3)}
    assert sorted(app.query("SELECT revision FROM applied")) == [(rev(n),) for n in (1, 2, 3)]
    assert progress_rows(app) == [], "a run that reached its target leaves no record"
    assert app.run("status", "app", "--check").returncode == 0


def test_finishing_the_revision_by_hand_then_stamping_clears_the_record(tmp_path: Path, request):
    app = make_app("mariadb", tmp_path, request)
    killed_in_revision_2(app)
    [(revision, action, _, finished)] = progress_rows(app)
    assert (revision, action, finished) == (rev(2), "upgrade", 3)  # all three statements had returned

    engine = app.engine()  # the operator runs the rest of revision 2 by hand
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t2b (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql(f"INSERT INTO applied (revision) VALUES ('{rev(2)}')")
    engine.dispose()
    stamped = app.run("stamp", "app", "--to", rev(2))
    assert stamped.returncode == 0, stamped.stdout + stamped.stderr
    assert progress_rows(app) == []
    done = app.run("upgrade", "app")
    assert done.returncode == 0, done.stdout + done.stderr
    assert app.versions() == {rev(3)}


def test_stamping_the_current_revision_clears_the_record_too(tmp_path: Path, request):
    app = make_app("mariadb", tmp_path, request)
    killed_in_revision_2(app)
    engine = app.engine()
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE t2")
        conn.exec_driver_sql("ALTER TABLE t1 DROP INDEX ix_t1_note, DROP COLUMN note")
    engine.dispose()
    stamped = app.run("stamp", "app", "--to", rev(1))  # no version change: only the record goes
    assert stamped.returncode == 0, stamped.stdout + stamped.stderr
    assert progress_rows(app) == []
    assert app.run("upgrade", "app").returncode == 0
    assert app.versions() == {rev(3)}


DOWN_HALF = """
def downgrade() -> None:
    op.drop_index("ix_t1_note", table_name="t1")
    Path({marker!r}).write_text(str(os.getpid()))
    while not Path({go!r}).exists():
        __import__("time").sleep(0.05)
    op.drop_table("t2")
"""


def test_a_killed_downgrade_is_named_by_the_next_downgrade(tmp_path: Path, request):
    app = make_app("mariadb", tmp_path, request)
    app.write(2, {2: 'op.create_index("ix_t1_note", "t1", ["id"])'})
    marker, go = app.folder / "in-down", app.folder / "go"
    path = app.folder / "versions" / f"{rev(2)}_r2.py"
    text = path.read_text().split("\ndef downgrade() -> None:")[0]
    path.write_text(text + textwrap.dedent(DOWN_HALF.format(marker=str(marker), go=str(go))))
    assert app.run("upgrade", "app").returncode == 0
    runner = app.spawn("downgrade", "app", "--to", "-1")
    wait_for(lambda: marker.exists() or runner.poll() is not None, "the runner to reach the pause")
    assert runner.poll() is None, runner.communicate()
    runner.send_signal(signal.SIGKILL)
    finish(runner)
    go.write_text("go")
    wait_for(lambda: lock_free(app), "the killed runner's session to end")

    again = app.run("downgrade", "app", "--to", "-1")
    assert again.returncode == 1, again.stdout + again.stderr
    line = one_error_line(again.stderr)
    assert f"revision {rev(2)}" in line and "earlier downgrade" in line and "DROP INDEX ix_t1_note" in line, line
    assert f"multidb stamp app --to {rev(1)}" in line, line  # finished by hand: the revision below it
    status = app.run("status", "app")
    assert status.returncode == 1 and "app: interrupted: revision" in status.stdout, status.stdout

    engine = app.engine()  # the operator finishes the downgrade by hand, then stamps where it ends
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE t2")
    engine.dispose()
    assert app.run("stamp", "app", "--to", rev(1)).returncode == 0
    assert app.run("status", "app").returncode == 0
    assert app.versions() == {rev(1)}


def test_a_normal_run_leaves_no_record_and_the_models_never_see_the_table(tmp_path: Path, request):
    """The progress table exists after a run that recorded a revision, but no row, and neither
    ``check``, ``revision --autogenerate`` nor ``adopt``'s unversioned-tables check report it."""
    app = make_app("mariadb", tmp_path, request)
    models = app.folder / "models.py"
    models.write_text(
        "import sqlalchemy as sa\n"
        "metadata = sa.MetaData()\n"
        'sa.Table("applied", metadata, sa.Column("revision", sa.String(20)))\n'
        'sa.Table("t1", metadata, sa.Column("id", sa.Integer(), primary_key=True))\n'
    )
    config = app.folder / "config" / "multidb.yaml"
    config.write_text(config.read_text() + "    metadata: models:metadata\npython_path: [..]\n")
    app.write(1)
    result = app.run("upgrade", "app")
    assert result.returncode == 0, result.stdout + result.stderr
    assert PROGRESS in set(sa.inspect(app.engine()).get_table_names())
    assert progress_rows(app) == []

    check = app.run("check", "app")
    assert check.returncode == 0, check.stdout + check.stderr
    written = app.run("revision", "app", "-m", "nothing", "--autogenerate")
    assert written.returncode == 0, written.stdout + written.stderr
    assert len(list((app.folder / "versions").glob("*.py"))) == 1, "no difference, no revision file"

    sql = app.run("upgrade", "app", "--sql", "--to", f"base:{rev(1)}")
    assert sql.returncode == 0, sql.stdout + sql.stderr
    assert PROGRESS not in (app.folder / "sql" / "app.sql").read_text(), "offline SQL never writes the record"

    engine = app.engine()  # only the progress table is left beside the models' tables: still "unversioned"
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")
    engine.dispose()
    refused = app.run("upgrade", "app")
    assert refused.returncode == 2 and "applied, t1" in one_error_line(refused.stderr), refused.stderr
    assert PROGRESS not in refused.stderr


def test_a_failure_keeps_the_record_only_when_something_had_committed(tmp_path: Path, request):
    app = make_app("mariadb", tmp_path, request)
    app.write(2, {2: 'raise RuntimeError("failing on purpose")'})  # after revision 2's CREATE TABLE t2
    failed = app.run("upgrade", "app")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    line = one_error_line(failed.stderr)
    assert "failing on purpose" in line and f"the next run refuses revision {rev(2)}" in line, line
    status = app.run("status", "app")
    assert status.returncode == 1 and "statement 1: CREATE TABLE t2;" in status.stdout, status.stdout
    assert "may or may not" not in status.stdout  # the runner saw which statements had returned

    # a revision whose first DDL fails has committed nothing: no record, and the next run may run it again
    path = app.folder / "versions" / f"{rev(2)}_r2.py"
    body = path.read_text().split("def upgrade() -> None:")
    path.write_text(
        body[0]
        + 'def upgrade() -> None:\n    op.execute("ALTER TABLE nosuch ADD COLUMN x INT")\n\n\n'
        + "def downgrade"
        + body[1].split("def downgrade", 1)[1]
    )
    engine = app.engine()
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE t2")
    engine.dispose()
    assert app.run("upgrade", "app", "--forget-interrupted").returncode == 1
    assert progress_rows(app) == []
    assert app.run("status", "app").returncode == 0, "behind, not interrupted"


def test_the_listing_counts_repeated_kinds_once_and_says_when_the_last_may_not_have_finished():
    from multidb.unfinished import Unfinished, _decode, _encode, _runs

    kinds = ["CREATE TABLE t2", "UPDATE items", "UPDATE items", "UPDATE items", "ALTER TABLE t1"]
    record = Unfinished("r", "upgrade", "multidb u@h pid 1", "now", _decode(_encode(_runs(kinds))), 4)
    assert record.sent == 5
    assert record.listing() == (
        "statement 1: CREATE TABLE t2 | statements 2-4: UPDATE items | statement 5: ALTER TABLE t1 "
        "(statement 5 was running when the run stopped: it may or may not have finished)"
    )
    many = [f"CREATE TABLE t{n}" for n in range(500)]
    kept = Unfinished("r", "upgrade", "x", "now", _decode(_encode(_runs(many))), 500)
    assert kept.sent == 500 and kept.listing().endswith("statement 500: CREATE TABLE t499")

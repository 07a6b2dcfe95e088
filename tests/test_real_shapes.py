"""Shapes of revisions seen in real third-party Alembic histories, reduced to small synthetic ones.

Each test here comes from running multidb on published histories (optuna, mlflow): what those revisions
do, written again by hand in a few lines, and what multidb did wrong with it.

* A revision that fails with a database error on SQLite, after another revision of the same run
  succeeded, is reported as that revision's failure (its file and line), not as a failed commit of the
  run, and the revisions before it stay applied (mlflow's downgrades to base on SQLite).
* A revision that opens an ORM ``Session`` on ``op.get_bind()`` and never closes it (optuna's data
  steps) runs on SQLite without SQLAlchemy warning about the savepoint multidb keeps per revision.
* A revision that reads the database (``inspect(op.get_bind())``, a ``SELECT`` through the bind, an ORM
  query: both histories' data steps) cannot be rendered offline. ``upgrade --sql`` says that, and what
  to do, instead of Alembic's stand-in connection's ``AttributeError``; ``plan`` shows the other pending
  revisions and marks that one ``not-rendered``, instead of failing as a whole.
"""

from __future__ import annotations

import json
import warnings

import pytest
import sqlalchemy as sa
from assertions import assert_one_clean_error, one_error_line, user_tables
from test_ledger import run
from test_transactions import CREATE, rev, sqlite_tables, sqlite_versions, upgrade, write_project

pytest_plugins = ["pytester"]

DB_ERROR = 'op.execute("INSERT INTO no_such_table (id) VALUES (1)")'
OPEN_SESSION = """from sqlalchemy import orm

    session = orm.Session(bind=op.get_bind())  # never committed nor closed
    session.execute(sa.text("INSERT INTO t0 (id) VALUES ({i})"))
    op.create_table("t{i}", sa.Column("id", sa.Integer(), primary_key=True))"""
READS = {
    "inspect": 'assert sa.inspect(op.get_bind()).has_table("t0")',
    "select": 'op.get_bind().execute(sa.text("SELECT id FROM t0")).fetchall()',
    "orm": 'from sqlalchemy import orm\n\n    orm.Session(bind=op.get_bind()).execute(sa.text("SELECT 1")).all()',
}
OPEN_SESSION_THEN_FAIL = OPEN_SESSION + '\n    raise RuntimeError("boom")'


def test_sqlite_database_error_after_an_applied_revision_names_the_failing_revision(tmp_path):
    db = tmp_path / "main.db"
    config = write_project(tmp_path, f"sqlite:///{db}", [CREATE, CREATE, DB_ERROR])
    result = upgrade(config)
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert "no such table: no_such_table" in line, line
    assert f"{rev(2)}_step.py, line" in line, line  # the revision that failed, with its line
    assert "commit" not in line, line  # no commit failed: the run kept the revisions before it
    assert sqlite_versions(db) == {rev(1)}
    assert sqlite_tables(db) == {"t0", "t1"}


@pytest.mark.parametrize(
    ("bodies", "exit_code", "applied", "rows"),
    [
        ([CREATE, OPEN_SESSION, CREATE], 0, 3, [1]),  # a revision follows the one that left its session open
        ([CREATE, OPEN_SESSION], 0, 2, [1]),  # it is the run's last revision
        ([CREATE, OPEN_SESSION, OPEN_SESSION_THEN_FAIL], 1, 2, [1]),  # one fails with its session open
    ],
    ids=["middle", "last", "failing"],
)
def test_sqlite_revision_leaving_a_session_open_runs_without_warnings(tmp_path, bodies, exit_code, applied, rows):
    db = tmp_path / "main.db"
    config = write_project(tmp_path, f"sqlite:///{db}", bodies)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = upgrade(config)
    assert result.exit_code == exit_code, result.output
    assert [str(w.message) for w in seen if issubclass(w.category, sa.exc.SAWarning)] == []
    assert sqlite_versions(db) == {rev(applied - 1)}
    assert sqlite_tables(db) == {f"t{i}" for i in range(applied)}
    with sa.create_engine(f"sqlite:///{db}").connect() as conn:  # the session's rows were kept with their revision
        assert conn.execute(sa.text("SELECT id FROM t0 ORDER BY id")).scalars().all() == rows


@pytest.mark.parametrize("read", sorted(READS))
def test_offline_sql_of_a_revision_that_reads_the_database_says_so(tmp_path, monkeypatch, read):
    monkeypatch.chdir(tmp_path)  # (where sql/ would be written)
    config = write_project(tmp_path, "postgresql://nohost/never", [CREATE, READS[read] + "\n    " + CREATE])
    result = upgrade(config, "--sql")
    assert result.exit_code == 1, result.output
    line = assert_one_clean_error(result, f"{rev(1)}_step.py, line", "reads the database", "--sql cannot")
    assert "is_offline_mode()" in line, line  # what to do about it
    assert not (tmp_path / "sql").exists()  # nothing written


def test_plan_shows_every_pending_revision_when_one_reads_the_database(tmp_path):
    db = tmp_path / "main.db"
    config = write_project(tmp_path, f"sqlite:///{db}", [CREATE, READS["inspect"] + "\n    " + CREATE, CREATE])
    assert upgrade(config, "--to", rev(0)).exit_code == 0
    result = run(config, "plan", "--all", "--json")
    assert result.exit_code == 0, result.output
    [plan] = json.loads(result.stdout)
    assert [r["revision"] for r in plan["revisions"]] == [rev(1), rev(2)]
    reads, after = plan["revisions"]
    assert reads["statements"] == []  # not known offline ...
    [finding] = [f for f in reads["findings"] if f["rule"] == "not-rendered"]  # ... and said so
    assert "reads the database" in finding["message"], finding
    assert [s["sql"].split("(")[0].strip() for s in after["statements"]] == ["CREATE TABLE t2"]
    text = run(config, "plan", "--all")
    assert text.exit_code == 0, text.output
    assert "lint: warning not-rendered (line 12): main: AssertionError" not in text.stdout  # (the read did not run)
    assert "lint: warning not-rendered (line 12): main: NoInspectionAvailable" in text.stdout, text.stdout
    assert sqlite_versions(db) == {rev(0)}  # nothing ran


def test_import_carries_over_target_metadata_named_through_a_dotted_import(tmp_path):
    from multidb.importing.envscan import target_metadata

    env = tmp_path / "env.py"
    for text, expected in {  # (optuna's env.py names its models' metadata the first way)
        "import app.storage.models\ntarget_metadata = app.storage.models.BaseModel.metadata\n": {
            None: "app.storage.models:BaseModel.metadata"
        },
        "import app\nimport app.models\ntarget_metadata = app.models.Base.metadata\n": {
            None: "app.models:Base.metadata"
        },
        "import app.models\ntarget_metadata = app.models\n": {},  # a module is no metadata attribute
        "import app.models\ntarget_metadata = other.models.Base.metadata\n": {},
    }.items():
        env.write_text(text)
        assert target_metadata(env) == expected, text


def test_import_of_an_ini_inside_migrations_writes_the_config_where_commands_find_it(tmp_path, monkeypatch):
    # buildbot's shape: the ini, env.py and versions/ all in migrations/, script_location = %(here)s/
    from test_import import run as run_cli

    project = tmp_path / "shop"
    versions = project / "migrations" / "versions"
    versions.mkdir(parents=True)
    (project / "migrations" / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/\nversion_locations = %(here)s/versions\n"
        "sqlalchemy.url = driver://user:pass@localhost/dbname\n"
    )
    (project / "migrations" / "env.py").write_text("from alembic import context\n")
    (versions / "0001_first.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n\nrevision = '0001'\ndown_revision = None\n"
        "branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n"
        "    op.create_table('items', sa.Column('id', sa.Integer(), primary_key=True))\n\n\n"
        "def downgrade():\n    op.drop_table('items')\n"
    )
    monkeypatch.chdir(project)
    result = run_cli("import")
    assert result.exit_code == 0, result.output
    assert (project / "config" / "multidb.yaml").is_file(), result.output  # found from the project's folder
    assert not (project / "migrations" / "config").exists()
    upgraded = run_cli("upgrade", "--all", env={"DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}"})
    assert upgraded.exit_code == 0, upgraded.output
    assert "shop " in upgraded.output and "upgraded (1 revision)" in upgraded.output, upgraded.output


def test_metadata_and_hooks_may_name_a_submodule_the_package_does_not_import(tmp_path):
    # buildbot's env.py: from buildbot.db import model; target_metadata = model.Model.metadata, which
    # import writes as buildbot.db:model.Model.metadata (its package does not import the submodule)
    db = tmp_path / "main.db"
    config = write_project(tmp_path, f"sqlite:///{db}", [CREATE])
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(
        "import sqlalchemy as sa\n\nmetadata = sa.MetaData()\n"
        "sa.Table('t0', metadata, sa.Column('id', sa.Integer(), primary_key=True))\n"
        "sa.Table('hooked', metadata, sa.Column('id', sa.Integer(), primary_key=True))\n"
    )
    (package / "hooks.py").write_text(
        "def mark(connection, context):\n    context.execute('CREATE TABLE hooked (id INTEGER NOT NULL PRIMARY KEY)')\n"
    )
    text = config.read_text()
    config.write_text(
        "python_path: ['..']\n"
        + text
        + "    metadata: shop:models.metadata\n    hooks:\n      after_migrate: shop:hooks.mark\n"
    )
    result = upgrade(config)
    assert result.exit_code == 0, result.output
    assert sqlite_tables(db) == {"t0", "hooked"}
    checked = run(config, "check", "--all")
    assert checked.exit_code == 0, checked.output  # the models were found, and match


def test_models_that_cannot_be_imported_stop_an_upgrade_before_its_first_revision(tmp_path):
    # buildbot's first revision does nothing, so the models were first needed by its second one: the
    # config error came after the first revision had committed
    db = tmp_path / "main.db"
    config = write_project(tmp_path, f"sqlite:///{db}", ['op.execute("SELECT 1")', CREATE])
    config.write_text(config.read_text() + "    metadata: no_such_models:metadata\n")
    result = upgrade(config)
    assert result.exit_code == 2, result.output
    assert "databases.main.metadata: cannot import 'no_such_models'" in one_error_line(result.stderr)
    with sa.create_engine(f"sqlite:///{db}").connect() as conn:  # nothing changed: no revision recorded
        names = sa.inspect(conn).get_table_names()
        stamped = (
            conn.execute(sa.text("SELECT version_num FROM alembic_version")).all() if "alembic_version" in names else []
        )
    assert stamped == [] and user_tables(names) == set()


@pytest.mark.mariadb
def test_mariadb_failure_names_the_failed_statement_apart_from_those_that_ran(tmp_path, mariadb_database):
    # optuna's v2.4.0.a on MariaDB: 6 statements ran, the 7th failed; the message said "sent before the
    # failure (7)" while 'status' said 6 had run: one undoing them by hand would look for a 7th change
    body = CREATE + '\n    op.execute("ALTER TABLE no_such_table ADD COLUMN x INT")'
    config = write_project(tmp_path, mariadb_database(), [CREATE, body])
    result = upgrade(config)
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert "doesn't exist" in line, line
    assert (
        "ran before the failure (1): statement 1: CREATE TABLE t1; statement 2 failed: ALTER TABLE no_such_table"
        in line
    )
    assert "(2)" not in line, line


@pytest.mark.postgresql
def test_a_literal_percent_in_a_raw_statement_on_postgresql_says_what_to_do(tmp_path, pg_database):
    # prefect's c8d5f2a71b3e, written for asyncpg: exec_driver_sql("SELECT format('%I.%I', ...) ..."); multidb
    # migrates an asyncpg URL through psycopg2, which reads the % as a parameter marker
    body = "op.get_bind().exec_driver_sql(\"SELECT format('%I', 'x')\")\n    " + CREATE
    url = pg_database().replace("postgresql://", "postgresql+asyncpg://")
    config = write_project(tmp_path, url, [CREATE, body])
    result = upgrade(config)
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert f"{rev(1)}_step.py, line" in line, line
    assert "psycopg2 reads a % in a raw statement" in line and "%%" in line, line

    own = 'print("%q" % 1)\n    ' + CREATE  # the revision's own % formatting: not the driver's business
    line = one_error_line(upgrade(write_project(tmp_path / "own", pg_database(), [CREATE, own])).stderr)
    assert "unsupported format character" in line and "psycopg2" not in line, line


def test_plugin_runs_on_an_imported_config_whose_url_variables_are_not_set(pytester, monkeypatch):
    # 'multidb import' writes url: "${DATABASE_URL}"; moving-to-multidb.md then says to run the plugin's
    # checks as they are, and the plugin replaces every URL with a throwaway database anyway
    from test_plugin import QUIET, expect, revision, write

    monkeypatch.delenv("DATABASE_URL", raising=False)
    write(
        pytester,
        "config/multidb.yaml",
        'databases:\n  app:\n    url: "${DATABASE_URL}"\n    bases: [{label: app, path: ../versions}]\n',
    )
    write(pytester, "versions/a1_first.py", revision("a1", None, CREATE.format(i=0), 'op.drop_table("t0")'))
    result = pytester.runpytest("--multidb-config", "config/multidb.yaml", *QUIET, "-v", "-k", "upgrade or stairway")
    expect(result, ["*test_upgrade[app-sqlite] PASSED*", "*test_stairway[app-sqlite] PASSED*"])
    assert result.ret == 0


def test_lint_points_a_revision_that_does_not_render_at_the_line_that_failed(tmp_path):
    config = write_project(tmp_path, "postgresql://nohost/never", [CREATE, READS["inspect"] + "\n    " + CREATE])
    result = run(config, "lint", "--all", "--all-revisions", "--json")
    [item] = json.loads(result.stdout)
    [finding] = [f for f in item["findings"] if f["rule"] == "not-rendered"]
    assert finding["revision"] == rev(1) and finding["line"] == 12, finding  # the inspect() call, not line 1


def test_validate_says_when_applied_revisions_have_no_checksum_and_accept_records_them(tmp_path):
    # a database optuna made (create_all and a stamp, or plain Alembic) and left at head: no upgrade ever
    # moves it, so no ledger is made, and validate said "ok: every applied revision matches its file"
    db = tmp_path / "main.db"
    config = write_project(tmp_path, f"sqlite:///{db}", [CREATE, CREATE])
    assert upgrade(config).exit_code == 0
    with sa.create_engine(f"sqlite:///{db}").begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version_ledger"))  # as if plain Alembic had migrated it

    result = run(config, "validate", "--all")
    assert result.exit_code == 0, result.output
    assert "every applied revision matches" not in result.stdout, result.stdout
    assert "2 applied revision(s) have no checksum" in result.stdout and "--accept" in result.stdout, result.stdout

    assert run(config, "validate", "--all", "--accept").exit_code == 0
    assert "main: ok: every applied revision matches its file" in run(config, "validate", "--all").stdout
    path = tmp_path / "versions" / f"{rev(0)}_step.py"
    path.write_text(path.read_text() + "\n# edited\n")
    edited = run(config, "validate", "--all")
    assert f"revision {rev(0)}" in edited.stdout and "edited" in edited.stdout, edited.stdout  # now it can tell

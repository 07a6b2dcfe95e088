"""Baselines: a history whose first revision alters tables that ``create_all`` made (Flyway's baseline).

The project: frozen initial models create ``users (id, name)``; the history's first revision adds
``users.email`` and creates ``orders``; the second adds an index. Run on SQLite and PostgreSQL (a
baseline of models' MetaData, and one of a SQL file per dialect): upgrade from empty, ``downgrade
base`` (which leaves the baseline), ``--sql`` from empty, the pytest plugin, and ``adopt``.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from assertions import assert_one_clean_error, user_tables
from click.testing import CliRunner
from sqlalchemy.pool import NullPool

from multidb.config import load_config
from multidb.errors import ConfigError

pytest_plugins = ["pytester"]

INITIAL = """
import sqlalchemy as sa

metadata = sa.MetaData()
sa.Table("users", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50)))
"""

MODELS = """
import sqlalchemy as sa

metadata = sa.MetaData()
id_ = sa.Column("id", sa.Integer, primary_key=True)
sa.Table("users", metadata, id_, sa.Column("name", sa.String(50)), sa.Column("email", sa.String(80)))
sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id")),
    sa.Index("ix_orders_user_id", "user_id"),
)
"""

R1 = '''
"""add users.email, create orders"""
import sqlalchemy as sa
from alembic import op

revision = "r1"
down_revision = None
branch_labels = ("app",)
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("email", sa.String(80)))
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id")),
    )
    FAIL


def downgrade():
    op.drop_table("orders")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("email")
'''

R2 = '''
"""index orders.user_id"""
from alembic import op

revision = "r2"
down_revision = "r1"
branch_labels = None
depends_on = None


def upgrade():
    # multidb: allow=pg-index-not-concurrent orders is new and empty in this test
    op.create_index("ix_orders_user_id", "orders", ["user_id"])


def downgrade():
    op.drop_index("ix_orders_user_id", table_name="orders")
'''

SQL = {
    "sqlite": "-- a ';' here\nCREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50));\n",
    "postgresql": "CREATE TABLE users (id SERIAL PRIMARY KEY, name VARCHAR(50) DEFAULT 'a;b');\n",
}


def baseline_yaml(kind: str) -> str:
    if kind == "metadata":
        return '{metadata: "initial:metadata"}'
    return "{sql: {sqlite: ../baseline/sqlite.sql, postgresql: ../baseline/postgresql.sql}}"


class App:
    """The project in a folder, with its database URL, the CLI, and a look inside the database."""

    def __init__(self, root: Path, url: str, monkeypatch: pytest.MonkeyPatch):
        self.root, self.url, self.monkeypatch = root, url, monkeypatch

    def cli(self, *args: str):
        from multidb.cli import main

        self.monkeypatch.chdir(self.root)
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    def ok(self, *args: str) -> str:
        result = self.cli(*args)
        assert result.exit_code == 0, result.output
        return result.output

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.url, poolclass=NullPool)

    def _on(self, use):
        engine = self.engine()
        try:
            return use(engine)
        finally:
            engine.dispose()

    def columns(self) -> dict[str, list[str]]:
        def read(engine):
            inspector = sa.inspect(engine)
            names = sorted(user_tables(inspector.get_table_names(), with_version_table=True))
            return {t: [c["name"] for c in inspector.get_columns(t)] for t in names}

        return self._on(read)

    def versions(self) -> list[str]:
        def read(engine):
            with engine.connect() as conn:
                return [r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]

        return self._on(read)

    def execute(self, *statements: str) -> None:
        def run(engine):
            with engine.begin() as conn:
                for statement in statements:
                    conn.exec_driver_sql(statement)

        self._on(run)


def write_project(root: Path, url: str, kind: str = "metadata", fail: bool = False) -> None:
    for folder in ("config", "versions", "baseline"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    config = f"""
        python_path: [".."]
        databases:
          app:
            url: "{url}"
            bases:
              - label: app
                path: ../versions
                baseline: {baseline_yaml(kind)}
            metadata: models:metadata
    """
    (root / "config" / "multidb.yaml").write_text(textwrap.dedent(config))
    (root / "initial.py").write_text(INITIAL)
    (root / "models.py").write_text(MODELS)
    for dialect, text in SQL.items():
        (root / "baseline" / f"{dialect}.sql").write_text(text)
    (root / "versions" / "r1_email_orders.py").write_text(
        R1.replace("FAIL", 'op.execute("SELECT * FROM no_such_table")' if fail else "")
    )
    (root / "versions" / "r2_index.py").write_text(R2)
    for module in ("initial", "models"):
        sys.modules.pop(module, None)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app' / 'app.db'}"
    return request.getfixturevalue("pg_database")()


@pytest.fixture(params=["metadata", "sql"])
def app(request, tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> App:
    write_project(tmp_path / "app", url, request.param)
    return App(tmp_path / "app", url, monkeypatch)


HEAD = {"alembic_version": ["version_num"], "orders": ["id", "user_id"], "users": ["id", "name", "email"]}
BASE = {"alembic_version": ["version_num"], "users": ["id", "name"]}


def test_upgrade_from_empty_creates_the_baseline_then_runs_the_history(app: App):
    assert "upgraded (2 revisions)" in app.ok("upgrade", "app")
    assert app.columns() == HEAD and app.versions() == ["r2"]


def test_downgrade_base_leaves_the_baseline_and_the_next_upgrade_runs_on_it(app: App):
    app.ok("upgrade", "app")
    app.execute("INSERT INTO users (id, name) VALUES (7, 'kept')")
    app.ok("downgrade", "app", "--to", "base", "--yes")
    assert app.columns() == BASE and app.versions() == []
    app.ok("upgrade", "app")  # the baseline is there: not created again
    assert app.columns() == HEAD and app.versions() == ["r2"]
    engine = app.engine()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT name FROM users").scalars().all() == ["kept"]
    engine.dispose()


def test_a_first_revision_that_fails_takes_the_baseline_with_it(tmp_path, url, monkeypatch):
    write_project(tmp_path / "app", url, fail=True)
    app = App(tmp_path / "app", url, monkeypatch)
    result = app.cli("upgrade", "app")
    assert result.exit_code == 1
    assert "r1_email_orders.py" in result.stderr
    assert "users" not in app.columns()  # rolled back with the revision (one transaction)
    write_project(tmp_path / "app", url)  # fixed: the next upgrade starts from empty again
    app.ok("upgrade", "app")
    assert app.columns() == HEAD


def test_a_baseline_partly_there_is_refused_naming_what_it_lacks(tmp_path, url, monkeypatch):
    root = tmp_path / "app"
    write_project(root, url)
    (root / "initial.py").write_text(
        INITIAL + 'sa.Table("teams", metadata, sa.Column("id", sa.Integer, primary_key=True))\n'
    )
    app = App(root, url, monkeypatch)
    app.ok("upgrade", "app")
    app.ok("downgrade", "app", "--to", "base", "--yes")
    app.execute("DROP TABLE teams")
    result = app.cli("upgrade", "app")
    assert result.exit_code == 1
    assert "the baseline of base 'app' is only partly there (it has users; it lacks teams)" in result.stderr
    assert app.versions() == [] and "email" not in app.columns()["users"]


@pytest.mark.parametrize("kind", ["metadata", "sql"])
def test_sql_from_empty_writes_the_baseline_first_in_a_transaction_of_its_own(tmp_path, kind, monkeypatch):
    root = tmp_path / "app"
    write_project(root, "postgresql://nobody@db.invalid/app", kind)  # --sql never connects
    App(root, "", monkeypatch).ok("upgrade", "app", "--sql")
    sql = (root / "sql" / "app.sql").read_text()
    source = "initial:metadata" if kind == "metadata" else str(root / "baseline" / "postgresql.sql")
    baseline, history = sql.split("-- Running upgrade  -> r1")
    assert f"-- Baseline of base app: {source}" in baseline
    assert baseline.index("BEGIN;") < baseline.index("CREATE TABLE users") < baseline.index("COMMIT;")
    assert baseline.index("COMMIT;") < baseline.index("CREATE TABLE alembic_version")  # the first revision's
    assert "ALTER TABLE users ADD COLUMN email" in history
    if kind == "sql":
        assert "DEFAULT 'a;b');" in baseline  # the file's own statement, split at the right ';'
    # from a revision on, the baseline is not written again
    App(root, "", monkeypatch).ok("upgrade", "app", "--sql", "--to", "r1:r2", "--output-dir", "later")
    assert "CREATE TABLE users" not in (root / "later" / "app.sql").read_text()


def test_adopt_takes_a_database_that_holds_just_the_baseline(app: App):
    if app.url.startswith("sqlite"):
        app.root.joinpath("app.db").touch()
    app.execute("CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50))")
    result = app.cli("adopt", "app")
    assert result.exit_code == 0, result.output
    assert "adopted at base (the baseline)" in result.output
    assert app.columns() == BASE and app.versions() == []
    assert "upgraded (2 revisions)" in app.ok("upgrade", "app")
    assert app.columns() == HEAD


def test_adopt_replays_from_the_baseline_and_stamps_the_matching_revision(tmp_path, url, monkeypatch):
    write_project(tmp_path / "app", url)
    app = App(tmp_path / "app", url, monkeypatch)
    app.ok("upgrade", "app", "--to", "r1")
    app.execute("DROP TABLE alembic_version")  # tables made without migrations, at r1's schema
    result = app.cli("adopt", "app")
    assert result.exit_code == 0, result.output  # before baselines: 'no such table: users' in the replay
    assert "adopted at r1" in result.output
    assert app.versions() == ["r1"]


def test_the_plugin_passes_a_history_that_starts_from_a_baseline(tmp_path, pytester, monkeypatch):
    write_project(pytester.path, "sqlite:///../var/app.db")
    monkeypatch.chdir(pytester.path)
    dialects = "sqlite,postgresql"
    result = pytester.runpytest(
        "--multidb-config", "config/multidb.yaml", "--multidb-dialects", dialects, "-p", "no:cacheprovider", "-v"
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, result.stdout.str()
    for test in ("test_upgrade", "test_stairway", "test_clean_downgrade", "test_drift"):
        result.stdout.fnmatch_lines([f"*{test}?app-sqlite? PASSED*"])
    result.stdout.fnmatch_lines(["*test_offline_sql?app-sqlite? PASSED*"])
    if "test_stairway[app-postgresql] PASSED" not in result.stdout.str():
        pytest.skip("no PostgreSQL server: only SQLite was tested")
    result.stdout.fnmatch_lines(["*test_schema_parity?app-sqlite-postgresql? PASSED*"])


def test_the_plugin_without_the_baseline_fails_as_before(tmp_path, pytester, monkeypatch):
    write_project(pytester.path, "sqlite:///../var/app.db")
    config = pytester.path / "config" / "multidb.yaml"
    config.write_text(config.read_text().replace('        baseline: {metadata: "initial:metadata"}\n', ""))
    monkeypatch.chdir(pytester.path)
    result = pytester.runpytest("--multidb-config", "config/multidb.yaml", "-p", "no:cacheprovider", "-k", "upgrade")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*upgrade from empty to heads fails on sqlite at revision r1*no such table: users*"])


BAD = {
    "not a mapping": ("baseline: initial", "baseline: expected a mapping, got a string"),
    "both": (
        'baseline: {metadata: "initial:metadata", sql: {sqlite: ../baseline/sqlite.sql}}',
        "baseline: give exactly one of 'metadata' (module:attr) or 'sql' (a file per dialect)",
    ),
    "no attribute": ('baseline: {metadata: "initial"}', "baseline.metadata: expected an import path"),
    "unknown key": (
        'baseline: {metdata: "initial:metadata"}',
        "baseline.metdata: unknown key 'metdata' (did you mean 'metadata'?)",
    ),
    "unknown dialect": (
        "baseline: {sql: {postgres: ../baseline/postgresql.sql}}",
        "baseline.sql.postgres: unknown dialect",
    ),
    "missing file": ("baseline: {sql: {sqlite: ../baseline/nope.sql}}", "baseline.sql.sqlite: no such file"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_baseline_is_a_config_error_naming_its_key(tmp_path, case, monkeypatch):
    root = tmp_path / "app"
    write_project(root, f"sqlite:///{root / 'app.db'}")
    config = root / "config" / "multidb.yaml"
    given, fragment = BAD[case]
    config.write_text(config.read_text().replace('baseline: {metadata: "initial:metadata"}', given))
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert any(f"databases.app.bases[0].{fragment}" in line for line in caught.value.lines()), caught.value.lines()
    result = App(root, "", monkeypatch).cli("upgrade", "app")
    assert result.exit_code == 2
    assert_one_clean_error(result, "multidb.yaml", "databases.app.bases[0].baseline")
    assert not (root / "app.db").exists()


def test_a_sql_baseline_without_a_file_for_the_dialect_is_refused_before_anything_runs(tmp_path, monkeypatch):
    root = tmp_path / "app"
    write_project(root, f"sqlite:///{root / 'app.db'}")
    config = root / "config" / "multidb.yaml"
    config.write_text(
        config.read_text().replace('{metadata: "initial:metadata"}', "{sql: {postgresql: ../baseline/postgresql.sql}}")
    )
    app = App(root, f"sqlite:///{root / 'app.db'}", monkeypatch)
    result = app.cli("upgrade", "app")
    assert result.exit_code == 2
    assert_one_clean_error(result, "databases.app.bases[0].baseline.sql: no SQL file for sqlite (it has: postgresql)")
    assert "users" not in app.columns()

"""multidb's pytest plugin, run with ``pytester`` on small projects written into a temporary folder.

The *shop* project (tests/plugin_projects/shop) is correct: two databases, one with two bases and a
merge point. Each failure test breaks one thing in a copy of it and checks that the plugin fails
with a message naming the database, the revision and what differs. Most runs use SQLite; a few use
PostgreSQL and MariaDB (they skip on a laptop without servers, and fail in CI).
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
import sqlalchemy as sa

from multidb.testing import dialects, history, parity, plan
from multidb.testing.data import MigrationData

pytest_plugins = ["pytester"]

SHOP = Path(__file__).parent / "plugin_projects" / "shop"
# read before tests/conftest.py's _isolate fixture clears MULTIDB_* variables for each test
SERVER_ENV = {
    name: os.environ[name]
    for name in ("MULTIDB_TEST_POSTGRESQL_URL", "MULTIDB_TEST_MARIADB_URL", "MULTIDB_REQUIRE_SERVERS")
    if name in os.environ
}


@pytest.fixture
def shop(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A copy of the shop project in pytester's folder, with the server settings of the outer run."""
    return copy_project(SHOP, pytester, monkeypatch)


def copy_project(source: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A copy of a plugin project in pytester's folder, with the server settings of the outer run."""
    shutil.copytree(source, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    for name, value in SERVER_ENV.items():
        monkeypatch.setenv(name, value)
    return pytester


QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")  # the inner runs need neither


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--multidb-config", "config/multidb.yaml", *QUIET, "-v", *args)


def write(pytester: pytest.Pytester, path: str, text: str) -> None:
    target = pytester.path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def revision(rev: str, down: str | None, upgrade: str, downgrade: str = "pass") -> str:
    """A revision file's text; ``upgrade``/``downgrade`` are function bodies (one statement per line)."""
    up = textwrap.indent(textwrap.dedent(upgrade).strip(), "    ")
    down_body = textwrap.indent(textwrap.dedent(downgrade).strip(), "    ")
    return (
        f'"""{rev}"""\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade():\n{up}\n\n\ndef downgrade():\n{down_body}\n"
    )


def expect(result: pytest.RunResult, patterns: list[str]) -> None:
    """``fnmatch_lines`` where ``*`` is the only wildcard (brackets in test ids are literal)."""
    escaped = [re.sub(r"[\[\]]", lambda m: f"[{m.group(0)}]", p) for p in patterns]
    result.stdout.fnmatch_lines(escaped)


DATA_CONFTEST = """
    import pytest

    from multidb.testing import MigrationData


    @pytest.fixture
    def multidb_data():
        data = MigrationData()
        data.before(
            "events",
            "e1000002",
            {
                "events": [
                    {"id": 1, "kind": "login", "payload": "alice"},
                    {"id": 2, "kind": "crash", "payload": None},
                    {"id": 3, "kind": "logout", "payload": "bob"},
                ]
            },
        )
        data.after(
            "events",
            "e1000002",
            {
                "events": [
                    {"id": 1, "level": "info"},
                    {"id": 2, "kind": "crash", "level": "error"},
                    {"id": 3, "level": "info"},
                ]
            },
        )
        return data
"""


# --- correct projects pass ---------------------------------------------------------------------


def test_a_correct_project_passes_and_each_test_is_named_after_its_database_base_and_dialect(shop):
    result = run(shop, "-rs")
    result.assert_outcomes(passed=19, skipped=2)  # no data registered: test_data_survival skips
    expect(
        result,
        [
            "multidb: */config/multidb.yaml on sqlite",
            "config/multidb.yaml::test_single_head[app-app] PASSED*",
            "config/multidb.yaml::test_single_head[app-audit] PASSED*",
            "config/multidb.yaml::test_single_head[events-events] PASSED*",
            # the production profile's URL is PostgreSQL: its SQL must render too
            "config/multidb.yaml::test_offline_sql[app-postgresql] PASSED*",
            "config/multidb.yaml::test_lint[app-postgresql] PASSED*",
            "config/multidb.yaml::test_upgrade[app-sqlite] PASSED*",
            "config/multidb.yaml::test_stairway[app-sqlite] PASSED*",
            "config/multidb.yaml::test_clean_downgrade[events-sqlite] PASSED*",
            "config/multidb.yaml::test_drift[app-sqlite] PASSED*",
            "config/multidb.yaml::test_data_survival[events-sqlite] SKIPPED*",
            "SKIPPED*no data registered for database 'events' (see the multidb_data fixture)",
        ],
    )


@pytest.mark.postgresql
@pytest.mark.mariadb
def test_a_correct_project_passes_on_postgresql_and_mariadb(shop):
    # the merge point and the two bases of 'app', and the data migration of 'events', on the servers
    write(shop, "tests/conftest.py", DATA_CONFTEST)
    selected = "(app and stairway) or (events and (drift or parity or data_survival))"
    result = run(shop, "--multidb-dialects", "sqlite,postgresql,mariadb", "-k", selected)
    result.assert_outcomes(passed=11)
    expect(
        result,
        [
            "*test_stairway[app-postgresql] PASSED*",
            "*test_stairway[app-mariadb] PASSED*",
            "*test_drift[events-mariadb] PASSED*",
            "*test_data_survival[events-postgresql] PASSED*",
            "*test_schema_parity[events-sqlite-mariadb] PASSED*",
        ],
    )


def test_a_project_made_by_init_gets_every_test_from_the_config_option_alone(pytester, monkeypatch):
    from multidb.commands import init

    init(pytester.path)
    result = pytester.runpytest("--multidb-config", "config/multidb.yaml", *QUIET)
    result.assert_outcomes(passed=14, skipped=2)


def test_the_ini_option_switches_the_plugin_on_and_tests_collect_with_the_tests_folder(shop):
    shop.makeini("[pytest]\nmultidb_config = config/multidb.yaml\nmultidb_dialects = sqlite\n")
    write(shop, "tests/test_app.py", "def test_app():\n    pass\n")
    result = shop.runpytest(*QUIET, "--collect-only", "-q")
    assert "tests/test_app.py::test_app" in result.outlines
    assert "config/multidb.yaml::test_stairway[app-sqlite]" in result.outlines
    only_app = shop.runpytest(*QUIET, "--collect-only", "-q", "tests/test_app.py")
    assert not [line for line in only_app.outlines if "multidb.yaml::" in line]
    only_migrations = shop.runpytest(*QUIET, "--collect-only", "-q", "config/multidb.yaml")
    assert "tests/test_app.py::test_app" not in only_migrations.outlines
    assert "config/multidb.yaml::test_drift[events-sqlite]" in only_migrations.outlines


def test_the_plugin_is_idle_without_a_config(pytester):
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest(*QUIET)
    result.assert_outcomes(passed=1)
    assert "multidb:" not in result.stdout.str()


def test_an_invalid_config_is_a_collection_error_naming_the_problem(shop):
    config = shop.path / "config" / "multidb.yaml"
    config.write_text(config.read_text().replace("depends_on: [app]", "depends_on: [ap]"))
    result = run(shop)
    expect(result, ["*cannot load the config*", "*depends_on: unknown database 'ap'*"])
    assert result.ret != 0


def test_an_unknown_dialect_is_a_usage_error(shop):
    result = run(shop, "--multidb-dialects", "sqlite,oracle")
    result.stderr.fnmatch_lines(["*unknown dialect 'oracle'*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


# --- each kind of broken project fails, saying where and what -----------------------------------


def test_a_downgrade_that_forgets_a_column_fails_the_stairway(shop):
    write(
        shop,
        "app_versions/a1000002_add_users_email.py",
        revision(
            "a1000002",
            "a1000001",
            """
            with op.batch_alter_table("users") as batch_op:
                batch_op.add_column(sa.Column("email", sa.String(length=100), nullable=True))
                batch_op.create_index(batch_op.f("ix_users_email"), ["email"], unique=False)
            """,
            'op.drop_index("ix_users_email", table_name="users")',
        ),
    )
    result = run(shop, "-k", "stairway")
    result.assert_outcomes(passed=1, failed=1)
    expect(
        result,
        [
            "*_ test_stairway[app-sqlite] _*",
            "app: the downgrade of revision a1000002 (*a1000002_add_users_email.py) "
            "does not undo its upgrade on sqlite:",
            "  - column users.email exists after the downgrade but not before the upgrade",
            "FAILED config/multidb.yaml::test_stairway[app-sqlite] - app: the downgrade of*",
        ],
    )


def test_a_new_revision_with_an_error_level_lint_finding_fails_test_lint_naming_rule_revision_and_line(shop):
    write(
        shop,
        "app_versions/a1000006_users_code.py",
        revision(
            "a1000006",
            "a1000005",
            'op.add_column("users", sa.Column("code", sa.String(10), nullable=False))',
            'op.drop_column("users", "code")',
        ),
    )
    line = next(
        i
        for i, text in enumerate((shop.path / "app_versions/a1000006_users_code.py").read_text().splitlines(), start=1)
        if "add_column" in text
    )
    result = run(shop, "-k", "test_lint")
    result.assert_outcomes(passed=2, failed=2)  # app on sqlite and postgresql; events passes
    expect(
        result,
        [
            "*_ test_lint[app-sqlite] _*",
            "app: lint found 1 error(s) on sqlite:",
            f"  - not-null-without-default in revision a1000006 (*a1000006_users_code.py, line {line}): "
            "column users.code NOT NULL, no default; fix: add it nullable*",
        ],
    )


def test_a_model_change_without_a_revision_fails_drift(shop):
    models = shop.path / "shop_models.py"
    models.write_text(
        models.read_text().replace(
            'sa.Column("name", sa.String(30), nullable=False, unique=True),',
            'sa.Column("name", sa.String(30), nullable=False, unique=True),\n    sa.Column("color", sa.String(7)),',
        )
    )
    result = run(shop, "-k", "drift")
    result.assert_outcomes(passed=1, failed=1)
    expect(
        result,
        [
            "app: the models (shop_models:app_metadata) differ from the migrations at heads (a1000005, b1000001) "
            "on sqlite; write the missing revision (multidb revision app -m '...' --autogenerate):",
            "  - column tags.color (VARCHAR(7) NULL) is in the models but not in the database",
        ],
    )


def test_two_heads_in_one_base_fail_while_two_bases_in_one_database_pass(shop):
    write(
        shop,
        "app_versions/a1000006_add_users_age.py",
        revision("a1000006", "a1000002", 'op.add_column("users", sa.Column("age", sa.Integer()))'),
    )
    result = run(shop, "-k", "single_head")
    result.assert_outcomes(passed=2, failed=1)
    expect(
        result,
        [
            "*test_single_head[app-audit] PASSED*",
            "app: base 'app' has unmerged heads:",
            "  - base 'app' has 2 heads; merge them: multidb merge app a1000005 a1000006 -m 'merge'",
            "  - head a1000005 (*a1000005_merge_orders_and_tags.py)",
            "  - head a1000006 (*a1000006_add_users_age.py)",
        ],
    )


def test_a_root_without_the_base_label_counts_as_a_second_head_of_its_folder(shop):
    write(shop, "audit_versions/b2000001_stray.py", revision("b2000001", None, "pass"))
    result = run(shop, "-k", "single_head")
    expect(
        result,
        [
            "  - head b2000001 (*b2000001_stray.py) (its history starts at b2000001, "
            "which lacks the branch label 'audit')"
        ],
    )
    result.assert_outcomes(passed=2, failed=1)


def test_a_downgrade_that_leaves_a_table_fails_the_clean_downgrade_naming_the_revision(shop):
    audit = shop.path / "audit_versions" / "b1000001_create_audit_log.py"
    audit.write_text(audit.read_text().replace('op.drop_table("audit_log")', "pass"))
    result = run(shop, "-k", "clean_downgrade")
    result.assert_outcomes(passed=1, failed=1)
    expect(
        result,
        [
            "app: after downgrading from heads to base on sqlite, these remain:",
            "  - table audit_log (created by revision b1000001)",
        ],
    )


def test_registered_rows_meet_the_data_migration_through_a_conftest_override(shop):
    write(shop, "tests/conftest.py", DATA_CONFTEST)
    result = run(shop, "-k", "data_survival")
    result.assert_outcomes(passed=1, skipped=1)  # 'app' has no data registered
    expect(result, ["*test_data_survival[events-sqlite] PASSED*"])


def test_a_data_migration_that_loses_rows_fails(shop):
    write(shop, "tests/conftest.py", DATA_CONFTEST)
    write(
        shop,
        "events_versions/e1000002_add_events_level.py",
        revision(
            "e1000002",
            "e1000001",
            """
            # rebuild the table with the new column; the copy forgets rows without a payload
            op.create_table(
                "events_new",
                sa.Column("id", sa.Integer(), nullable=False),
                sa.Column("kind", sa.String(length=20), nullable=False),
                sa.Column("payload", sa.Text(), nullable=True),
                sa.Column("level", sa.String(length=10), nullable=True),
                sa.PrimaryKeyConstraint("id", name="pk_events_new"),
            )
            op.execute(
                "INSERT INTO events_new (id, kind, payload, level) "
                "SELECT id, kind, payload, CASE WHEN kind = 'crash' THEN 'error' ELSE 'info' END "
                "FROM events WHERE payload IS NOT NULL"
            )
            op.drop_table("events")
            op.rename_table("events_new", "events")
            """,
        ),
    )
    result = run(shop, "-k", "data_survival")
    result.assert_outcomes(failed=1, skipped=1)
    expect(
        result,
        [
            "events: after revision e1000002 (*e1000002_add_events_level.py) on sqlite, check 'rows of events' fails:",
            "table events lacks 1 of 3 expected row(s) (it has 2 row(s)):",
            "    {'id': 2, 'kind': 'crash', 'level': 'error'}",
        ],
    )


SQLITE_ONLY = revision(
    "e1000003",
    "e1000002",
    "op.execute(\"INSERT OR IGNORE INTO events (id, kind, level) VALUES (1, 'boot', 'info')\")",
    'op.execute("DELETE FROM events WHERE id = 1")',
)


@pytest.mark.postgresql
def test_a_migration_that_only_works_on_sqlite_fails_on_postgresql(shop):
    write(shop, "events_versions/e1000003_seed_boot_event.py", SQLITE_ONLY)
    result = run(shop, "--multidb-dialects", "sqlite,postgresql", "-k", "events and (upgrade or parity)")
    result.assert_outcomes(passed=1, failed=2)
    expect(
        result,
        [
            "*test_upgrade[events-sqlite] PASSED*",
            "events: upgrade from empty to heads fails on postgresql at revision e1000003 "
            '(*e1000003_seed_boot_event.py): SyntaxError: syntax error at or near "OR"*',
            "events: upgrade to heads fails on postgresql at revision e1000003 (*) (it runs on sqlite): SyntaxError*",
        ],
    )


@pytest.mark.postgresql
def test_a_migration_that_does_the_right_thing_only_on_sqlite_fails_schema_parity(shop):
    write(
        shop,
        "events_versions/e1000003_index_events_kind.py",
        revision(
            "e1000003",
            "e1000002",
            """
            if op.get_context().dialect.name == "sqlite":
                op.create_index("ix_events_kind", "events", ["kind"])
            """,
            """
            if op.get_context().dialect.name == "sqlite":
                op.drop_index("ix_events_kind", table_name="events")
            """,
        ),
    )
    result = run(shop, "--multidb-dialects", "sqlite,postgresql", "-k", "events and parity")
    result.assert_outcomes(failed=1)
    expect(
        result,
        [
            "events: the schema at heads differs between sqlite and postgresql:",
            "  - index ix_events_kind (kind) on events exists on sqlite but not on postgresql "
            "(since revision e1000003)",
        ],
    )


def test_a_missing_server_skips_on_a_laptop_and_fails_in_ci(shop, monkeypatch):
    monkeypatch.setenv("MULTIDB_TEST_POSTGRESQL_URL", "postgresql://postgres@127.0.0.1:1/postgres")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("MULTIDB_REQUIRE_SERVERS", raising=False)
    args = ("--multidb-dialects", "sqlite,postgresql", "-k", "events and upgrade", "-rs")
    laptop = run(shop, *args)
    laptop.assert_outcomes(passed=1, skipped=1)
    expect(laptop, ["SKIPPED*the postgresql server at postgresql://postgres@127.0.0.1:1/postgres*"])
    monkeypatch.setenv("CI", "true")
    ci = run(shop, *args)
    ci.assert_outcomes(passed=1, errors=1)  # the throwaway database is a fixture: its failure is an error
    expect(ci, ["*servers are required because CI or MULTIDB_REQUIRE_SERVERS is set*"])


def test_the_checks_are_plain_functions_a_test_can_call(shop):
    shop.path.joinpath("events_versions/e1000002_add_events_level.py").write_text(
        SHOP.joinpath("events_versions/e1000002_add_events_level.py")
        .read_text()
        .replace('batch_op.drop_column("level")', "pass")
    )
    write(
        shop,
        "tests/test_own.py",
        """
        import pytest

        from multidb.testing import MigrationCheckFailed, check_stairway, check_upgrade


        def test_stairway_of_app(multidb_throwaway):
            project = multidb_throwaway("app", "sqlite")
            assert check_stairway(project, "app") == 6


        def test_a_failed_check_raises(multidb_throwaway):
            project = multidb_throwaway("events", "sqlite")
            with pytest.raises(MigrationCheckFailed, match="column events.level exists after the downgrade") as info:
                check_stairway(project, "events")
            assert info.value.database == "events" and info.value.revision == "e1000002"


        def test_a_check_needs_an_empty_database(multidb_throwaway):
            project = multidb_throwaway("app", "sqlite")
            check_upgrade(project, "app")
            with pytest.raises(MigrationCheckFailed, match="app: the check needs an empty database"):
                check_upgrade(project, "app")
        """,
    )
    result = run(shop, "tests/test_own.py")
    result.assert_outcomes(passed=3)


# stdlib modules that import quietly and that multidb and its tests never use: one not yet loaded is
# certainly imported first by the in-process run below, whatever ran before it in this process
SPARE_MODULES = ("colorsys", "sched", "tabnanny", "filecmp", "zipapp", "pyclbr", "netrc", "poplib", "imaplib")
SPARE_MODULES += ("ftplib", "pickletools", "modulefinder", "xml.dom.pulldom", "graphlib", "plistlib", "fractions")


def stale_submodules() -> list[str]:
    """Submodules a loaded package holds that an import would not return: the first of two copies."""
    return [
        value.__name__
        for name, module in list(sys.modules.items())
        if name != "sys"  # sys.monitoring (Python 3.12+) is an attribute of sys that sys.modules never holds
        for attr, value in list(getattr(module, "__dict__", {}).items())
        if isinstance(value, types.ModuleType)
        and value.__name__ == f"{name}.{attr}"
        and sys.modules.get(value.__name__) is not value
    ]


def test_an_in_process_run_keeps_multidb_and_installed_modules_and_forgets_the_projects_own(shop):
    """pytester deletes the modules an in-process run imported first (tests/conftest.py narrows that).

    multidb's, PyYAML's and the interpreter's must stay, or the process holds two copies: a later
    ``--jobs`` run could not pickle ``_apply_job``, a broken YAML file exited 1 instead of 2.
    """
    spare = next((name for name in SPARE_MODULES if name not in sys.modules), None)
    assert spare is not None, "every spare module is loaded already: name a few more"
    write(shop, "conftest.py", f"import {spare}\n")
    run(shop, "-k", "app and sqlite and (upgrade or drift)").assert_outcomes(passed=2)
    assert "shop_models" not in sys.modules  # the project's models: the next project may have its own
    assert spare in sys.modules
    assert stale_submodules() == []
    from multidb.commands import upgrade  # the copy the CLI calls, as a --jobs run pickles its worker

    assert pickle.loads(pickle.dumps(upgrade.__globals__["_apply_job"])) is upgrade.__globals__["_apply_job"]


# --- the pieces, without pytester --------------------------------------------------------------


def test_types_are_compared_by_affinity():
    from sqlalchemy.dialects import mysql, postgresql

    assert parity.affinity(sa.BigInteger()) == parity.affinity(sa.SmallInteger()) == "integer"
    assert parity.affinity(mysql.TINYINT(display_width=1)) == parity.affinity(sa.Boolean()) == "boolean"
    assert parity.affinity(mysql.TINYINT()) == "integer"
    assert parity.affinity(postgresql.DOUBLE_PRECISION()) == parity.affinity(sa.Numeric(10, 2)) == "numeric"
    assert parity.affinity(postgresql.TIMESTAMP()) == parity.affinity(mysql.DATETIME()) == "datetime"
    assert parity.affinity(mysql.LONGTEXT()) == parity.affinity(sa.Text()) == "text"
    assert parity.affinity(sa.Enum("a", "b")) == parity.affinity(sa.String(5)) == "string"
    assert parity.affinity(postgresql.BYTEA()) == parity.affinity(mysql.VARBINARY(5)) == "binary"
    assert parity.affinity(postgresql.INTERVAL()) == parity.affinity(sa.Interval()) == "interval"
    assert parity.affinity(postgresql.INET()) == "other:INET"
    assert parity.compatible("uuid", "string") and parity.compatible("json", "text")
    assert not parity.compatible("text", "string")


def _snapshot(dialect: str, *tables: parity.Table) -> parity.Snapshot:
    return parity.Snapshot(dialect, {t.name: t for t in tables})


def _table(name: str, columns: list[parity.Column], **kw) -> parity.Table:
    base = {"primary_key": ("id",), "indexes": frozenset(), "uniques": frozenset(), "foreign_keys": frozenset()}
    return parity.Table(name, {c.name: c for c in columns}, **{**base, **kw})


def test_parity_lists_each_difference_and_ignores_what_a_dialect_adds_by_itself():
    id_ = parity.Column("id", "INTEGER", "integer", False, False)
    fk = parity.ForeignKey("fk_t_u", ("u_id",), "u", ("id",), None)
    left = _snapshot(
        "sqlite",
        _table("t", [id_, parity.Column("n", "VARCHAR(5)", "string", True, False)], foreign_keys=frozenset({fk})),
        _table("only_left", [id_]),
    )
    right = _snapshot(
        "mysql",
        _table(
            "t",
            [id_, parity.Column("n", "TEXT", "text", False, True)],
            foreign_keys=frozenset({fk}),
            indexes=frozenset({parity.Index("fk_t_u", ("u_id",)), parity.Index("ix_t_n", ("n",))}),
        ),
    )
    lines = parity.compare(left, right, parity.Sides("on sqlite", "on mariadb"), exact=False)
    assert lines == [
        "table only_left exists on sqlite but not on mariadb",
        "column t.n: type is string (VARCHAR(5)) on sqlite but text (TEXT) on mariadb",
        "column t.n: nullable on sqlite but NOT NULL on mariadb",
        "column t.n: has a server default on mariadb but not on sqlite",
        "index ix_t_n (n) on t exists on mariadb but not on sqlite",  # InnoDB's fk_t_u index is not listed
    ]
    exact = parity.compare(right, right, parity.Sides("before", "after"), exact=True)
    assert exact == []


def test_offline_dialects_come_from_the_tested_ones_and_every_profile_url_that_shows_its_dialect(tmp_path):
    config = tmp_path / "multidb.yaml"
    config.write_text(
        "defaults: {url: 'sqlite:///x.db'}\n"
        "databases:\n  a: {bases: [{label: a, path: a}]}\n  b: {url: 'mysql://h/b', bases: [{label: b, path: b}]}\n"
        "profiles:\n  prod:\n    databases:\n      a: {url: '${A_URL}'}\n"
        "  stage:\n    defaults: {url: 'postgresql+psycopg2://h/${DB}'}\n"
    )
    assert plan.offline_dialects(config, ("sqlite",)) == ("sqlite", "postgresql", "mysql")
    assert plan.offline_dialects(config, ("mariadb", "sqlite")) == ("mariadb", "sqlite", "postgresql")


def test_offline_urls_name_only_a_dialect_and_driver():
    assert dialects.offline_url("sqlite") == "sqlite://"
    assert dialects.offline_url("postgresql") == "postgresql+psycopg2://"
    assert dialects.offline_url("mariadb") == "mysql+pymysql://"
    assert dialects.parse_dialects(" SQLite, postgresql,sqlite ") == ("sqlite", "postgresql")
    with pytest.raises(ValueError, match="unknown dialect 'oracle'"):
        dialects.parse_dialects("oracle")


def test_a_merge_point_steps_down_to_one_parent_and_other_revisions_relatively(shop):
    from multidb import load_config
    from multidb.runner import load_history

    project = load_config(shop.path / "config" / "multidb.yaml")
    script = load_history(project, project.databases["app"])
    order = [r.revision for r in history.upgrade_order(script)]
    assert order.index("a1000005") > max(order.index("a1000003"), order.index("a1000004"))
    assert history.step_down_target(script.get_revision("a1000005")) in ("a1000003", "a1000004")
    assert history.step_down_target(script.get_revision("a1000001")) == "a1000001@-1"


def test_expected_rows_match_on_the_columns_given_and_none_means_null():
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT)")
        data = MigrationData()
        data.before("db", "r1", {"t": [{"id": 1, "a": "x", "b": None}, {"id": 2, "a": "y", "b": "z"}]})
        data.after("db", "r1", {"t": [{"a": "x", "b": None}, {"id": 2}]})
        data.after("db", "r1", {"t": [{"id": 3, "a": "q"}]})
        before, good, bad = data.for_database("db")
        before.action(conn)
        good.action(conn)
        with pytest.raises(AssertionError, match=r"table t lacks 1 of 1 expected row\(s\) \(it has 2 row\(s\)\)"):
            bad.action(conn)
    engine.dispose()


def test_forgetting_a_test_projects_namespace_package_leaves_no_child_behind(tmp_path: Path) -> None:
    """``forget_test_modules`` judges every module before deleting any: a namespace package's path is read
    through its parent's, so a parent deleted first made the judging of its child fail half-way, leaving the
    child without its parent (CI: ``KeyError: 'tests'`` importing ``tests.plugin_projects.example_data``).
    The order of a set of names depends on the hash seed, so several seeds are tried."""
    (tmp_path / "nsproj" / "inner").mkdir(parents=True)
    (tmp_path / "nsproj" / "inner" / "data.py").write_text("VALUE = 1\n")
    code = (
        "import sys\n"
        f"sys.path[:0] = [{str(tmp_path)!r}, {str(Path(__file__).parent)!r}]\n"
        "from assertions import forget_test_modules\n"
        "before = set(sys.modules)\n"
        "import nsproj.inner.data\n"
        "forget_test_modules(before)\n"
        "assert not [name for name in sys.modules if name.startswith('nsproj')], sorted(sys.modules)\n"
        "import nsproj.inner.data\n"
    )
    for seed in range(8):
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        assert done.returncode == 0, (seed, done.stderr)

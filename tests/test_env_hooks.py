"""What an env.py did, done from the config: comparison settings, run hooks and ``-x`` values.

Every test starts from a project made by ``multidb init`` (the ``app`` and ``events`` databases) and
runs real SQLite, and PostgreSQL for ``SET ROLE``.
"""

from __future__ import annotations

import sqlite3
import textwrap
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from multidb.commands import init

pytest_plugins = ["pytester"]

HOOKS = """
import sqlalchemy as sa

import multidb


def skip_external(obj, name, type_, reflected, compare_to):
    return not (type_ == "table" and name.startswith("external_"))


def create_log(connection, context):
    context.execute("CREATE TABLE IF NOT EXISTS hook_log (event VARCHAR(200))")


def _record(what):
    def hook(connection, context):
        x = ",".join(f"{k}={v}" for k, v in sorted(context.x.items()))
        line = f"{what} {context.database} {context.action} {context.revision} {context.profile} {x}"
        context.execute(sa.text("INSERT INTO hook_log (event) VALUES (:e)").bindparams(e=line))
    return hook


before = _record("before")
after = _record("after")
each = _record("each")


def direct(connection, context):
    connection.exec_driver_sql("SELECT 1")


def fail(connection, context):
    raise RuntimeError("refused by the hook")


def set_role(connection, context):
    context.execute(f"SET ROLE {context.x['role']}")


def no_type_changes(context, inspected_column, metadata_column, inspected_type, metadata_type):
    return False


def render_text_as_unicode(type_, obj, autogen_context):
    if type_ == "type" and type(obj) is sa.Text:
        return "sa.UnicodeText()"
    return False


def retitle(context, revision, directives):
    directives[0].message = "retitled by the project"
"""

X_REVISION = '''"""read -x

Revision ID: {rev}
Revises: {down}
"""
import sqlalchemy as sa
from alembic import context, op

import multidb

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table("tenant_seen", sa.Column("source", sa.String(20)), sa.Column("tenant", sa.String(50)))
    alembic_x = context.get_x_argument(as_dictionary=True)
    op.bulk_insert(table, [
        {{"source": "alembic", "tenant": alembic_x.get("tenant", "none")}},
        {{"source": "multidb", "tenant": multidb.x_arguments().get("tenant", "none")}},
    ])


def downgrade():
    op.drop_table("tenant_seen")
'''


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new project from ``multidb init``, with a hooks module beside its models; cwd is its folder."""
    root = tmp_path / "svc"
    init(root)
    (root / "env_hooks.py").write_text(textwrap.dedent(HOOKS).lstrip(), encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def multidb(*args: str) -> Result:
    from multidb.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def configure(root: Path, entry: str, database: str = "app") -> None:
    """Add YAML lines (indented as database keys) to one database's entry of the config."""
    config = root / "config" / "multidb.yaml"
    text = config.read_text()
    anchor = f"    metadata: db_models:{database}_metadata\n"
    block = textwrap.indent(textwrap.dedent(entry).strip("\n"), "    ") + "\n"
    config.write_text(text.replace(anchor, anchor + block, 1))


def add_external_table(root: Path) -> None:
    with closing(sqlite3.connect(root / "var" / "app.db")) as conn, conn:
        conn.execute("CREATE TABLE external_cache (k TEXT PRIMARY KEY, v TEXT)")


def app_head(root: Path) -> str:
    return next((root / "app_versions").glob("*.py")).name.split("_", 1)[0]


def rows(path: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute(sql).fetchall()


# --- a table the application does not own -------------------------------------------------------


def test_without_settings_a_foreign_table_is_drift_and_migrate_would_drop_it(app: Path) -> None:
    assert multidb("upgrade", "--all").exit_code == 0
    add_external_table(app)
    result = multidb("check", "app")
    assert result.exit_code == 1
    assert "table external_cache is in the database but not in the models" in result.output
    assert multidb("migrate", "app", "-m", "x").exit_code == 0
    written = [p for p in (app / "app_versions").glob("*.py") if "_x" in p.name]
    assert "op.drop_table('external_cache')" in written[0].read_text()


@pytest.mark.parametrize(
    "setting",
    [
        "autogenerate:\n  exclude_tables: [hook_log, 'external_*']",
        "autogenerate:\n  include_object: env_hooks:skip_external",
    ],
    ids=["exclude_tables", "include_object"],
)
def test_a_foreign_table_left_out_is_no_drift_and_migrate_writes_no_drop(app: Path, setting: str) -> None:
    configure(app, setting)
    assert multidb("upgrade", "--all").exit_code == 0
    add_external_table(app)
    result = multidb("check", "app")
    assert result.exit_code == 0, result.output
    assert "app: the models match the migrations" in result.output
    result = multidb("migrate", "app", "-m", "nothing")
    assert result.exit_code == 0, result.output
    assert "no revision written" in result.output
    assert len(list((app / "app_versions").glob("*.py"))) == 1


def test_exclude_tables_in_defaults_also_lets_an_unversioned_database_upgrade_and_adopt(app: Path) -> None:
    config = app / "config" / "multidb.yaml"
    config.write_text(
        config.read_text().replace(
            "\ndatabases:\n", "\ndefaults:\n  autogenerate: {exclude_tables: ['external_*']}\n\ndatabases:\n"
        )
    )
    (app / "var").mkdir()
    add_external_table(app)  # only a foreign table: nothing of the app's to adopt
    result = multidb("upgrade", "app")
    assert result.exit_code == 0, result.output
    # a database made with create_all, beside the foreign table: adopt still finds its revision
    (app / "var" / "app.db").unlink()
    add_external_table(app)
    with closing(sqlite3.connect(app / "var" / "app.db")) as conn, conn:
        # as create_all() writes it, a clause per line (SQLAlchemy 2.0.0's SQLite reflection misreads the
        # names of constraints written on one line)
        conn.execute(
            "CREATE TABLE items (\n\tid INTEGER NOT NULL, \n\tname VARCHAR(100) NOT NULL, \n"
            "\tCONSTRAINT pk_items PRIMARY KEY (id), \n\tCONSTRAINT uq_items_name UNIQUE (name)\n)"
        )
    result = multidb("adopt", "app")
    assert result.exit_code == 0, result.output
    assert rows(app / "var" / "app.db", "SELECT version_num FROM alembic_version") == [(app_head(app),)]


def test_a_profile_changes_one_autogenerate_key_and_keeps_the_others(app: Path) -> None:
    from multidb.config import load_config

    configure(app, "autogenerate:\n  exclude_tables: ['external_*']\n  compare_server_default: true")
    config = app / "config" / "multidb.yaml"
    config.write_text(
        config.read_text().replace(
            "    description: SQLite files under var/, for development\n",
            "    description: SQLite files under var/, for development\n"
            "    databases:\n      app:\n        autogenerate: {include_object: 'env_hooks:skip_external'}\n",
        )
    )
    settings = load_config(config).databases["app"].autogenerate
    assert settings.exclude_tables == ("external_*",)
    assert settings.compare_server_default is True
    assert settings.include_object == "env_hooks:skip_external"
    assert settings.key_path("include_object") == "profiles.local.databases.app.autogenerate.include_object"


def test_the_plugin_leaves_out_the_same_tables(app: Path, pytester: pytest.Pytester) -> None:
    """A revision that makes a table the models do not own (an extension's, say): drift fails until it is excluded."""
    head = app_head(app)
    (app / "app_versions" / "ab12_extension.py").write_text(
        f'revision = "ab12"\ndown_revision = "{head}"\nbranch_labels = None\ndepends_on = None\n'
        "from alembic import op\n\n\ndef upgrade():\n"
        '    op.execute("CREATE TABLE external_cache (k VARCHAR(10))")\n\n\n'
        'def downgrade():\n    op.execute("DROP TABLE external_cache")\n'
    )
    config = str(app / "config" / "multidb.yaml")
    args = (config, "--multidb-config", config, "-p", "no:cacheprovider", "-k", "test_drift")
    result = pytester.runpytest_inprocess(*args, "-p", "no:hypothesispytest")
    result.assert_outcomes(passed=1, failed=1)
    assert "table external_cache is in the database but not in the models" in result.stdout.str()
    configure(app, "autogenerate: {exclude_tables: ['external_*']}")
    pytester.runpytest_inprocess(*args, "-p", "no:hypothesispytest").assert_outcomes(passed=2)


def test_the_plugins_parity_test_leaves_out_the_same_tables(
    app: Path, pytester: pytest.Pytester, pg_database: Callable[[], str]
) -> None:
    """A table one dialect gets (a PostgreSQL-only extension's): parity fails until it is excluded."""
    pg_database()  # skips (or fails in CI) without a server, like the plugin's own server runs
    head = app_head(app)
    (app / "app_versions" / "ab12_extension.py").write_text(
        f'revision = "ab12"\ndown_revision = "{head}"\nbranch_labels = None\ndepends_on = None\n'
        "from alembic import op\n\n\ndef upgrade():\n"
        '    if op.get_bind().dialect.name == "postgresql":\n'
        '        op.execute("CREATE TABLE pg_only_cache (k VARCHAR(10))")\n\n\n'
        'def downgrade():\n    op.execute("DROP TABLE IF EXISTS pg_only_cache")\n'
    )
    config = str(app / "config" / "multidb.yaml")
    args = (config, "--multidb-config", config, "--multidb-dialects", "sqlite,postgresql", "-p", "no:cacheprovider")
    args += ("-p", "no:hypothesispytest", "-k", "test_schema_parity and app")
    result = pytester.runpytest_inprocess(*args)
    result.assert_outcomes(failed=1)
    assert "pg_only_cache" in result.stdout.str()
    configure(app, "autogenerate: {exclude_tables: ['*_cache']}")
    pytester.runpytest_inprocess(*args).assert_outcomes(passed=1)


def test_compare_type_render_item_user_module_prefix_and_process_revision_directives(app: Path) -> None:
    configure(
        app,
        "autogenerate:\n  compare_type: env_hooks:no_type_changes\n  user_module_prefix: 'myapp.types.'\n"
        "  process_revision_directives: env_hooks:retitle\n  render_item: env_hooks:render_text_as_unicode",
    )
    models = app / "db_models.py"  # changed before anything imports it (it stays imported in this process)
    columns = '\n    sa.Column("note", sa.Text),\n    sa.Column("tag", Tag),'
    models.write_text(
        models.read_text()
        .replace(
            'sa.Column("name", sa.String(100), nullable=False, unique=True),',
            'sa.Column("name", sa.String(200), nullable=False, unique=True),' + columns,
        )
        .replace(
            "app_metadata = ",
            "class Tag(sa.types.TypeDecorator):\n    impl = sa.String(20)\n    cache_ok = True\n\n\napp_metadata = ",
        )
    )
    assert multidb("upgrade", "app").exit_code == 0
    result = multidb("check", "app")  # the type change is not compared, the new column is
    assert result.exit_code == 1
    assert "column items.note" in result.output and "type" not in result.output
    result = multidb("migrate", "app", "-m", "add note")
    assert result.exit_code == 0, result.output
    [written] = (app / "app_versions").glob("*_retitled_by_the_project.py")
    text = written.read_text()
    assert "alter_column" not in text  # compare_type
    assert "sa.Column('note', sa.UnicodeText(), nullable=True)" in text  # render_item
    assert "sa.Column('tag', myapp.types.Tag(length=20), nullable=True)" in text  # user_module_prefix


@pytest.mark.parametrize(
    ("entry", "key_path", "problem"),
    [
        (
            "autogenerate: {include_object: 'no_such_module:f'}",
            "databases.app.autogenerate.include_object",
            "cannot import 'no_such_module'",
        ),
        (
            "hooks: {on_connect: 'env_hooks:missing'}",
            "databases.app.hooks.on_connect",
            "'env_hooks' has no attribute 'missing'",
        ),
    ],
)
def test_a_bad_hook_reference_is_one_config_line_and_changes_nothing(
    app: Path, entry: str, key_path: str, problem: str
) -> None:
    configure(app, entry)
    command = ("check", "app") if "autogenerate" in entry else ("upgrade", "--all")
    result = multidb(*command)
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("multidb: error: ") and key_path in line and problem in line
    assert not (app / "var" / "app.db").exists() or command[0] == "check"


def test_a_malformed_hook_value_is_refused_when_the_config_loads(app: Path) -> None:
    configure(app, "hooks: {on_connect: 'not a reference'}\nautogenerate: {compare_type: maybe, colour: 1}")
    result = multidb("list")
    assert result.exit_code == 2
    err = result.stderr
    assert "databases.app.hooks.on_connect: expected a 'module:function' reference" in err
    assert "databases.app.autogenerate.compare_type: expected true, false or a 'module:function'" in err
    assert "databases.app.autogenerate.colour: unknown key 'colour'" in err


# --- run hooks --------------------------------------------------------------------------------------

RUN_HOOKS = """
hooks:
  on_connect: env_hooks:create_log
  before_migrate: env_hooks:before
  after_each_revision: env_hooks:each
  after_migrate: env_hooks:after
autogenerate: {exclude_tables: [hook_log, tenant_seen]}
"""


def test_run_hooks_are_called_in_order_with_the_context(app: Path) -> None:
    configure(app, RUN_HOOKS)
    first = app_head(app)
    (app / "app_versions" / "cd34_x.py").write_text(X_REVISION.format(rev="cd34", down=first))
    result = multidb("upgrade", "app", "-x", "tenant=acme", "-x", "region=eu")
    assert result.exit_code == 0, result.output
    events = [r[0] for r in rows(app / "var" / "app.db", "SELECT event FROM hook_log")]
    assert events == [
        "before app upgrade None local region=eu,tenant=acme",
        f"each app upgrade {first} local region=eu,tenant=acme",
        "each app upgrade cd34 local region=eu,tenant=acme",
        "after app upgrade None local region=eu,tenant=acme",
    ]
    assert multidb("check", "app").exit_code == 0  # hook_log is excluded
    assert multidb("downgrade", "app", "--to", "-1").exit_code == 0
    events = [r[0] for r in rows(app / "var" / "app.db", "SELECT event FROM hook_log")][4:]
    assert events == [
        "before app downgrade None local ",
        "each app downgrade cd34 local ",
        "after app downgrade None local ",
    ]


def test_under_atomic_the_hooks_run_in_the_held_transaction(app: Path) -> None:
    configure(app, RUN_HOOKS)
    configure(app, "hooks: {after_migrate: 'env_hooks:fail'}", database="events")
    result = multidb("upgrade", "--all", "--atomic")
    assert result.exit_code == 1
    assert "events: hooks.after_migrate (env_hooks:fail) failed: RuntimeError: refused by the hook" in result.stderr
    # app's revisions and its hooks' table and rows were rolled back with everything else
    assert rows(app / "var" / "app.db", "SELECT name FROM sqlite_master WHERE type = 'table'") == []


def test_x_reaches_a_revision_through_alembic_and_multidb(app: Path) -> None:
    (app / "app_versions" / "cd34_x.py").write_text(X_REVISION.format(rev="cd34", down=app_head(app)))
    result = multidb("upgrade", "app", "-x", "tenant=acme")
    assert result.exit_code == 0, result.output
    assert rows(app / "var" / "app.db", "SELECT source, tenant FROM tenant_seen ORDER BY source") == [
        ("alembic", "acme"),
        ("multidb", "acme"),
    ]
    result = multidb("upgrade", "app", "--sql", "--to", "base:heads", "-x", "tenant=globex")
    assert result.exit_code == 0, result.output
    sql = (app / "sql" / "app.sql").read_text()
    assert sql.count("'globex'") == 2


def test_an_x_value_without_an_equals_sign_is_a_usage_error(app: Path) -> None:
    result = multidb("upgrade", "app", "-x", "tenant")
    assert result.exit_code == 2
    assert "multidb: error: -x 'tenant': expected KEY=VALUE, e.g. -x tenant=acme" in result.stderr
    assert not (app / "var" / "app.db").exists()


def test_under_sql_what_hooks_execute_is_written_into_the_file(app: Path) -> None:
    configure(app, RUN_HOOKS)
    result = multidb("upgrade", "app", "--sql", "-x", "tenant=acme")
    assert result.exit_code == 0, result.output
    sql = (app / "sql" / "app.sql").read_text()
    first = app_head(app)
    order = [
        "CREATE TABLE IF NOT EXISTS hook_log (event VARCHAR(200));",
        "INSERT INTO hook_log (event) VALUES ('before app upgrade None local tenant=acme');",
        "CREATE TABLE items",
        f"INSERT INTO hook_log (event) VALUES ('each app upgrade {first} local tenant=acme');",
        "INSERT INTO hook_log (event) VALUES ('after app upgrade None local tenant=acme');",
    ]
    positions = [sql.index(part) for part in order]
    assert positions == sorted(positions)
    assert not (app / "var" / "app.db").exists()  # --sql never connects


def test_under_sql_a_hook_that_needs_the_connection_fails_in_one_line(app: Path) -> None:
    configure(app, "hooks: {before_migrate: 'env_hooks:direct'}")
    result = multidb("upgrade", "app", "--sql")
    assert result.exit_code == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("multidb: error: app: hooks.before_migrate (env_hooks:direct) failed: AttributeError")
    assert "under --sql there is no connection: run statements with context.execute(...)" in line
    assert not (app / "sql").exists()


def test_a_failing_hook_names_itself_and_its_revision(app: Path) -> None:
    configure(app, "hooks: {after_each_revision: 'env_hooks:each'}")  # hook_log does not exist
    result = multidb("upgrade", "app")
    assert result.exit_code == 1
    line = result.stderr.strip().splitlines()[-1]
    assert f"app: hooks.after_each_revision (env_hooks:each) after revision {app_head(app)} failed:" in line
    assert "hook_log" in line
    assert rows(app / "var" / "app.db", "SELECT name FROM sqlite_master WHERE name = 'items'") == []


# --- PostgreSQL: SET ROLE on connect ------------------------------------------------------------------


def test_on_connect_set_role_makes_the_role_own_the_new_tables(app: Path, pg_database: Callable[[], str]) -> None:
    import psycopg2

    url = pg_database()
    role = f"multidb_migrator_{uuid.uuid4().hex[:8]}"
    config = app / "config" / "multidb.yaml"
    config.write_text(config.read_text().replace("url: sqlite:///../var/app.db", f"url: {url}"))
    configure(app, "hooks: {on_connect: 'env_hooks:set_role'}")
    admin = psycopg2.connect(url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE ROLE {role} NOLOGIN")
            cur.execute(f"GRANT CREATE, USAGE ON SCHEMA public TO {role}")
        result = multidb("upgrade", "app", "-x", f"role={role}")
        assert result.exit_code == 0, result.output
        with admin.cursor() as cur:
            cur.execute("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            assert cur.fetchall() == [("alembic_version", role), ("alembic_version_ledger", role), ("items", role)]
        assert multidb("check", "app", "-x", f"role={role}").exit_code == 0
        # under --sql the hook's statement opens the file, before the first revision's transaction
        assert multidb("upgrade", "app", "--sql", "--to", "base:heads", "-x", f"role={role}").exit_code == 0
        sql = (app / "sql" / "app.sql").read_text()
        assert sql.index(f"SET ROLE {role};") < sql.index("BEGIN;") < sql.index("CREATE TABLE items")
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP OWNED BY {role}")
            cur.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()


# --- docs/env-py.md's example, as written ---------------------------------------------------------------


def test_the_env_py_guides_example_runs_as_written(app: Path) -> None:
    import re

    page = (Path(__file__).resolve().parents[1] / "docs" / "env-py.md").read_text()
    example = page[page.index("## A runnable example") :]
    yaml_block = re.search(r"```yaml\n(.*?)```", example, re.S).group(1)
    python_block = re.search(r"```python\n(.*?)```", example, re.S).group(1)
    (app / "migrations_hooks.py").write_text(python_block)
    config = app / "config" / "multidb.yaml"
    anchor = "    metadata: db_models:app_metadata\n"
    config.write_text(config.read_text().replace(anchor, anchor + yaml_block, 1))

    assert multidb("upgrade", "--all", "-x", "tenant=acme").exit_code == 0
    head = app_head(app)
    assert rows(app / "var" / "app.db", "SELECT * FROM external_audit") == [(head, "upgrade", "acme")]
    add_external_table(app)
    assert multidb("check", "--all").exit_code == 0
    assert "no revision written" in multidb("migrate", "app", "-m", "nothing to do").output
    assert multidb("upgrade", "app", "--sql", "-x", "tenant=acme").exit_code == 0
    assert f"INSERT INTO external_audit VALUES ('{head}', 'upgrade', 'acme');" in (app / "sql" / "app.sql").read_text()

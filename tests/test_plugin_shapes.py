"""The plugin on the shapes real projects have: irreversible revisions, fleet entries, a prefix of its own.

Each test writes a project (a copy of tests/plugin_projects/shop, or one under tests/plugin_projects/)
into pytester's folder and runs pytest on it, as tests/test_plugin.py does.
"""

from __future__ import annotations

import pytest
from test_plugin import QUIET, SHOP, copy_project, expect, revision, run, write

pytest_plugins = ["pytester"]


FLEET = SHOP.parent / "fleet"
SHARED = SHOP.parent / "shared"


@pytest.fixture
def shop(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    return copy_project(SHOP, pytester, monkeypatch)


@pytest.fixture
def fleet(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """tests/plugin_projects/fleet: 'tenants' is a fleet by schema (PostgreSQL), 'shops' by database (SQLite)."""
    return copy_project(FLEET, pytester, monkeypatch)


def make_a1000002_irreversible(project: pytest.Pytester) -> None:
    """The shop's a1000002 (adds users.email) with a downgrade() that raises multidb.Irreversible."""
    path = project.path / "app_versions" / "a1000002_add_users_email.py"
    head, _, _ = path.read_text().partition("def downgrade() -> None:\n")
    head = head.replace("from alembic import op\n", "from alembic import op\n\nfrom multidb import Irreversible\n")
    path.write_text(
        head + 'def downgrade() -> None:\n    raise Irreversible("the e-mail addresses cannot be restored")\n'
    )


# --- fleet entries ------------------------------------------------------------------------------


def test_every_test_passes_on_a_fleet_entry_tested_as_one_representative_target(fleet):
    result = run(fleet)
    result.assert_outcomes(passed=18, skipped=2)  # no data registered: test_data_survival skips
    expect(
        result,
        [
            "config/multidb.yaml::test_single_head[tenants-notes] PASSED*",
            "config/multidb.yaml::test_offline_sql[tenants-postgresql] PASSED*",
            "config/multidb.yaml::test_upgrade[tenants-sqlite] PASSED*",
            "config/multidb.yaml::test_upgrade[shops-sqlite] PASSED*",
            "config/multidb.yaml::test_stairway[tenants-sqlite] PASSED*",
            "config/multidb.yaml::test_stairway[shops-sqlite] PASSED*",
            "config/multidb.yaml::test_clean_downgrade[tenants-sqlite] PASSED*",
            "config/multidb.yaml::test_drift[tenants-sqlite] PASSED*",
        ],
    )


SCHEMA_TARGET_TEST = """
    import sqlalchemy as sa

    from multidb.testing import check_upgrade


    def test_the_representative_target_is_the_first_tenants_schema(multidb_throwaway):
        project = multidb_throwaway("tenants", "postgresql")
        check_upgrade(project, "tenants")
        engine = sa.create_engine(str(project.databases["tenants"].url))
        try:
            inspector = sa.inspect(engine)
            found = set(inspector.get_table_names(schema="acme"))
            assert found == {"alembic_version", "alembic_version_ledger", "authors", "notes"}
            assert inspector.get_table_names(schema="public") == []
        finally:
            engine.dispose()
"""


FLEET_DATA = """
    import pytest

    from multidb.testing import MigrationData


    @pytest.fixture
    def multidb_data():
        data = MigrationData()
        rows = {"authors": [{"id": 1, "name": "ann"}], "notes": [{"id": 1, "author_id": 1}]}
        data.before("tenants", "n1000002", rows)
        data.after("tenants", "n1000002", {"notes": [{"id": 1, "pinned": None}]})
        return data
"""


@pytest.mark.postgresql
@pytest.mark.mariadb
def test_a_fleet_by_schema_is_tested_in_a_schema_on_postgresql(fleet):
    write(fleet, "tests/test_schema_target.py", SCHEMA_TARGET_TEST)
    write(fleet, "tests/conftest.py", FLEET_DATA)
    result = run(fleet, "--multidb-dialects", "sqlite,postgresql,mariadb", "-k", "tenants or schema_target")
    result.assert_outcomes(passed=25)
    expect(
        result,
        [
            "*test_the_representative_target_is_the_first_tenants_schema PASSED*",
            "*test_stairway[tenants-postgresql] PASSED*",
            "*test_stairway[tenants-mariadb] PASSED*",
            "*test_clean_downgrade[tenants-postgresql] PASSED*",
            "*test_drift[tenants-postgresql] PASSED*",  # failed before: the tenant's version table counted
            "*test_data_survival[tenants-postgresql] PASSED*",  # the rows go to the tenant's schema
            "*test_schema_parity[tenants-sqlite-postgresql] PASSED*",
            "*test_schema_parity[tenants-sqlite-mariadb] PASSED*",
        ],
    )


@pytest.mark.postgresql
def test_a_broken_downgrade_in_a_fleets_history_is_caught_on_sqlite_and_in_a_schema(fleet):
    pinned = fleet.path / "notes_versions" / "n1000002_add_notes_pinned.py"
    text = pinned.read_text()
    pinned.write_text(text[: text.index("def downgrade() -> None:")] + "def downgrade() -> None:\n    pass\n")
    result = run(fleet, "--multidb-dialects", "sqlite,postgresql", "-k", "tenants and stairway")
    result.assert_outcomes(failed=2)
    for dialect in ("sqlite", "postgresql"):
        expect(
            result,
            [
                f"tenants: the downgrade of revision n1000002 (*n1000002_add_notes_pinned.py) "
                f"does not undo its upgrade on {dialect}:",
                "  - column notes.pinned exists after the downgrade but not before the upgrade",
            ],
        )


# --- shared databases and depends_on --------------------------------------------------------------


@pytest.fixture
def shared(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """tests/plugin_projects/shared: accounts and billing in one database; billing depends_on accounts."""
    return copy_project(SHARED, pytester, monkeypatch)


@pytest.mark.postgresql
@pytest.mark.mariadb
def test_a_dependent_entry_sharing_a_database_is_tested_with_its_dependency_upgraded_first(shared):
    result = run(shared, "--multidb-dialects", "sqlite,postgresql,mariadb")
    result.assert_outcomes(passed=42, skipped=6)  # no data registered: test_data_survival skips
    expect(
        result,
        [
            "*test_upgrade[billing-postgresql] PASSED*",  # failed before: relation "customers" does not exist
            "*test_stairway[billing-postgresql] PASSED*",
            "*test_clean_downgrade[billing-postgresql] PASSED*",  # customers stays: it is accounts'
            "*test_drift[billing-sqlite] PASSED*",
            "*test_schema_parity[billing-sqlite-mariadb] PASSED*",
        ],
    )


def test_a_broken_downgrade_of_the_dependent_entry_is_caught_and_its_dependency_is_not_blamed(shared):
    invoices = shared.path / "billing_versions" / "i1000001_create_invoices.py"
    invoices.write_text(invoices.read_text().replace('op.drop_table("invoices")', "pass"))
    result = run(shared, "-k", "clean_downgrade or stairway")
    result.assert_outcomes(passed=2, failed=2)
    expect(
        result,
        [
            "billing: the downgrade of revision i1000001 (*) does not undo its upgrade on sqlite:",
            "  - table invoices exists after the downgrade but not before the upgrade",
            "billing: after downgrading from heads to base on sqlite, these remain:",
            "  - table invoices (created by revision i1000001)",
        ],
    )
    assert "table customers" not in result.stdout.str() and "accounts_version" not in result.stdout.str()


@pytest.mark.postgresql
def test_an_atomic_upgrade_of_both_entries_of_one_postgresql_database_works(tmp_path, monkeypatch, pg_database):
    import shutil

    import sqlalchemy as sa
    from click.testing import CliRunner

    from multidb.cli import main

    shutil.copytree(SHARED, tmp_path / "shared", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(tmp_path / "shared")
    url = pg_database()
    env = {"APP_DATABASE_URL": url}
    done = CliRunner().invoke(main, ["-p", "production", "upgrade", "--all", "--atomic"], env=env)
    assert done.exit_code == 0, done.output
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM accounts_version")).scalars().all() == ["c1000001"]
            assert conn.execute(sa.text("SELECT version_num FROM billing_version")).scalars().all() == ["i1000001"]
            (fk,) = sa.inspect(conn).get_foreign_keys("invoices")
            assert fk["referred_table"] == "customers"
    finally:
        engine.dispose()


# --- irreversible revisions --------------------------------------------------------------------


def test_an_irreversible_revision_is_a_wall_the_stairway_and_clean_downgrade_test_up_to_and_from(shop):
    make_a1000002_irreversible(shop)
    result = run(shop, "-k", "stairway or clean_downgrade")
    result.assert_outcomes(passed=4)
    expect(
        result,
        [
            "*test_stairway[app-sqlite] PASSED*",
            "*test_clean_downgrade[app-sqlite] PASSED*",
            "*- multidb notes -*",
            "test_stairway[app-sqlite]: app: revision a1000002 (*a1000002_add_users_email.py) is irreversible "
            "(the e-mail addresses cannot be restored): upgraded, not downgraded; the revisions after it were "
            "tested from it",
            "test_clean_downgrade[app-sqlite]: app: irreversible revision(s) a1000002 (*): the clean downgrade "
            "went from below them to base, and from heads down to them",
        ],
    )
    assert "events-sqlite]: " not in result.stdout.str()  # no note where there is no wall


def test_a_broken_downgrade_above_the_wall_still_fails_both(shop):
    make_a1000002_irreversible(shop)
    orders = shop.path / "app_versions" / "a1000003_create_orders.py"
    orders.write_text(orders.read_text().replace('op.drop_table("orders")', "pass"))
    result = run(shop, "-k", "app and (stairway or clean_downgrade)")
    result.assert_outcomes(failed=2)
    expect(
        result,
        [
            "app: the downgrade of revision a1000003 (*) does not undo its upgrade on sqlite:",
            "  - table orders exists after the downgrade but not before the upgrade",
            "app: downgrading from heads back to the irreversible revisions on sqlite leaves a different schema:",
            "  - table orders exists after downgrading back to them but not at the irreversible revisions",
        ],
    )


def test_a_broken_downgrade_below_the_wall_still_fails_the_clean_downgrade(shop):
    make_a1000002_irreversible(shop)
    users = shop.path / "app_versions" / "a1000001_create_users.py"
    users.write_text(users.read_text().replace('op.drop_table("users")', "pass"))
    result = run(shop, "-k", "app and clean_downgrade")
    result.assert_outcomes(failed=1)
    expect(
        result,
        [
            "app: after downgrading from below the irreversible revisions to base on sqlite, these remain:",
            "  - table users (created by revision a1000001)",
        ],
    )


# --- parity on MariaDB -------------------------------------------------------------------------

UNNAMED_FOREIGN_KEYS = revision(
    "e1000003",
    "e1000002",
    """
    op.execute("CREATE TABLE event_tags (id INTEGER PRIMARY KEY, event_id INTEGER, "
               "parent_id INTEGER, FOREIGN KEY (event_id) REFERENCES events (id), "
               "CONSTRAINT fk_event_tags_parent FOREIGN KEY (parent_id) REFERENCES events (id))")
    """,
    'op.drop_table("event_tags")',
)


@pytest.mark.mariadb
def test_mariadbs_own_index_behind_a_foreign_key_is_no_parity_difference_whatever_its_name(shop):
    # MariaDB names the index behind an unnamed foreign key after its column (event_id; the constraint is
    # event_tags_ibfk_1), and the one behind a named key after the constraint: both are recognized by columns
    write(shop, "events_versions/e1000003_create_event_tags.py", UNNAMED_FOREIGN_KEYS)
    result = run(shop, "--multidb-dialects", "sqlite,mariadb", "-k", "events and parity")
    result.assert_outcomes(passed=1)


@pytest.mark.mariadb
def test_an_index_on_foreign_key_columns_on_one_side_only_is_no_difference_but_other_indexes_are(shop):
    write(shop, "events_versions/e1000003_create_event_tags.py", UNNAMED_FOREIGN_KEYS)
    upgrade = """
        if op.get_context().dialect.name == "sqlite":
            op.create_index("ix_event_tags_parent", "event_tags", ["parent_id"])
            op.create_index("ix_events_kind", "events", ["kind"])
        """
    downgrade = """
        if op.get_context().dialect.name == "sqlite":
            op.drop_index("ix_event_tags_parent", table_name="event_tags")
            op.drop_index("ix_events_kind", table_name="events")
        """
    write(shop, "events_versions/e1000004_index_event_tags.py", revision("e1000004", "e1000003", upgrade, downgrade))
    result = run(shop, "--multidb-dialects", "sqlite,mariadb", "-k", "events and parity")
    result.assert_outcomes(failed=1)
    expect(
        result,
        [
            "events: the schema at heads differs between sqlite and mariadb:",
            "  - index ix_events_kind (kind) on events exists on sqlite but not on mariadb (since revision e1000004)",
        ],
    )
    assert "event_tags" not in result.stdout.str()


# --- a prefix of one's own for the throwaway databases -------------------------------------------

NAMES_TEST = """
    from pathlib import Path

    from sqlalchemy.engine import make_url


    def test_names(multidb_throwaway):
        for dialect in ("sqlite", "postgresql"):
            url = make_url(multidb_throwaway("app", dialect).databases["app"].url)
            assert Path(url.database).name.startswith("{prefix}"), url.database
"""


@pytest.mark.postgresql
def test_the_throwaway_databases_are_named_with_the_prefix_of_the_ini_file_or_the_command_line(shop):
    shop.makeini("[pytest]\nmultidb_config = config/multidb.yaml\nmultidb_prefix = team_a_\n")
    write(shop, "tests/test_names.py", NAMES_TEST.replace("{prefix}", "team_a_"))
    from_ini = shop.runpytest(*QUIET, "tests/test_names.py")
    from_ini.assert_outcomes(passed=1)
    write(shop, "tests/test_names.py", NAMES_TEST.replace("{prefix}", "team_b_"))
    from_option = shop.runpytest(*QUIET, "--multidb-prefix", "team_b_", "tests/test_names.py")
    from_option.assert_outcomes(passed=1)


@pytest.mark.parametrize("prefix", ["Team-A", "a" * 41])
def test_a_prefix_that_cannot_start_a_database_name_is_a_usage_error(shop, prefix):
    result = run(shop, "--multidb-prefix", prefix)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*multidb: --multidb-prefix / multidb_prefix: *" + prefix[:10] + "*"])

"""The plugin on a project with a history per dialect: each dialect is tested with its profile's bases.

tests/plugin_projects/profiles keeps a SQLite history (the top-level bases, profile 'local') and a
PostgreSQL one (profile 'production' overrides bases), whose SQL only runs on its own dialect. Each test
copies it into pytester's folder and runs pytest on it, as tests/test_plugin.py does.
"""

from __future__ import annotations

import pytest
from test_plugin import SHOP, copy_project, expect, run

pytest_plugins = ["pytester"]

PROFILES = SHOP.parent / "profiles"
CONFIG = "config/multidb.yaml"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    return copy_project(PROFILES, pytester, monkeypatch)


def replace_in(project: pytest.Pytester, path: str, old: str, new: str) -> None:
    target = project.path / path
    text = target.read_text()
    assert old in text, (path, old)
    target.write_text(text.replace(old, new))


@pytest.mark.postgresql
def test_each_dialect_is_tested_with_the_history_of_the_profile_whose_urls_show_it(project):
    result = run(project, "--multidb-dialects", "sqlite,postgresql")
    result.assert_outcomes(passed=13, skipped=2)  # test_data_survival skips: no data registered
    expect(
        result,
        [
            "multidb: * on sqlite, postgresql (postgresql: profile production)",
            "*::test_single_head[app-app] PASSED*",
            "*::test_single_head[app-app-production] PASSED*",  # the PostgreSQL history's base
            "*::test_offline_sql[app-postgresql] PASSED*",
            "*::test_upgrade[app-sqlite] PASSED*",
            "*::test_upgrade[app-postgresql] PASSED*",  # the SQLite history fails here: AUTOINCREMENT
            "*::test_stairway[app-postgresql] PASSED*",
            "*::test_clean_downgrade[app-postgresql] PASSED*",
            "*::test_schema_parity[app-sqlite-postgresql] PASSED*",
        ],
    )


@pytest.mark.postgresql
def test_a_broken_downgrade_in_the_postgresql_history_is_caught_on_postgresql_only(project):
    path = "postgresql_versions/p1000002_add_items_price.py"
    replace_in(project, path, 'op.execute("ALTER TABLE items DROP COLUMN IF EXISTS price")', "pass")
    result = run(project, "--multidb-dialects", "sqlite,postgresql", "-k", "stairway or clean_downgrade")
    result.assert_outcomes(passed=3, failed=1)  # the clean downgrade passes: dropping items drops price too
    expect(
        result,
        [
            "*::test_stairway[app-sqlite] PASSED*",
            "*::test_stairway[app-postgresql] FAILED*",
            "app: the downgrade of revision p1000002 (*p1000002_add_items_price.py) does not undo its upgrade "
            "on postgresql:",
            "  - column items.price exists after the downgrade but not before the upgrade",
        ],
    )


@pytest.mark.postgresql
def test_lint_reads_the_history_of_the_profile_that_serves_the_dialect(project):
    # the PostgreSQL history's index without CONCURRENTLY (SQL text), once nothing silences it, fails test_lint on
    # postgresql; the SQLite history's index (still silenced) is not what is linted for postgresql
    path = "postgresql_versions/p1000003_index_items_name.py"
    replace_in(
        project,
        path,
        "    # multidb: allow=pg-index-not-concurrent a fixture: items is created empty two revisions before\n",
        "",
    )
    result = run(project, "--multidb-dialects", "sqlite,postgresql", "-k", "test_lint")
    result.assert_outcomes(passed=1, failed=1)
    expect(
        result,
        [
            "*::test_lint[app-sqlite] PASSED*",
            "*::test_lint[app-postgresql] FAILED*",
            "*pg-index-not-concurrent in revision p1000003 (postgresql_versions/p1000003_*.py, line 16)*",
        ],
    )


@pytest.mark.postgresql
def test_the_ini_option_names_the_profile_when_its_url_does_not_show_the_dialect(project, monkeypatch):
    replace_in(project, CONFIG, "url: postgresql://app@db.internal/app", "url: ${APP_DATABASE_URL}")
    monkeypatch.setenv("APP_DATABASE_URL", "postgresql://app@db.internal/app")
    unnamed = run(project, "--multidb-dialects", "sqlite,postgresql", "-k", "test_upgrade")
    unnamed.assert_outcomes(passed=1, failed=1)  # the SQLite history on PostgreSQL
    expect(unnamed, ["app: upgrade from empty to heads fails on postgresql at revision q1000001 *AUTOINCREMENT*"])
    project.makeini("[pytest]\nmultidb_profiles = sqlite:local, postgresql:production\n")
    named = run(project, "--multidb-dialects", "sqlite,postgresql")
    named.assert_outcomes(passed=13, skipped=2)


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("postgresql:prodution", "unknown profile 'prodution' in 'postgresql:prodution' (did you mean 'production'?)*"),
        ("oracle:local", "unknown dialect 'oracle' in 'oracle:local'*"),
        ("production", "'production' is not DIALECT:PROFILE*"),
    ],
)
def test_an_unknown_profile_or_dialect_in_multidb_profiles_is_a_usage_error(project, given, problem):
    result = run(project, "--multidb-profiles", given)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: multidb: --multidb-profiles / multidb_profiles: {problem}"])
    assert "Traceback" not in result.stderr.str()


def test_two_profiles_with_their_own_bases_serving_one_tested_dialect_is_a_usage_error(project):
    config = project.path / CONFIG
    staging = (
        "  staging:\n    databases:\n      app:\n        url: postgresql://app@staging.internal/app\n"
        "        bases:\n          - {label: app, path: ../postgresql_versions}\n"
    )
    config.write_text(config.read_text() + staging)
    result = run(project, "--multidb-dialects", "sqlite,postgresql")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*: profiles production and staging both have bases of their own and serve postgresql: choose one, "
            "e.g. postgresql:production"
        ]
    )
    run(project).assert_outcomes(passed=8, skipped=1)  # only SQLite tested: no choice to make


def test_which_profile_serves_which_dialect(tmp_path):
    from multidb.testing.plan import profiles_by_dialect

    config = tmp_path / "multidb.yaml"
    config.write_text(
        "databases:\n  app: {url: 'sqlite:///app.db', bases: [{label: app, path: v}]}\n"
        "profiles:\n"
        "  local: {}\n"  # no bases of its own: serves nothing
        "  maria: {defaults: {url: 'mysql+pymysql://db/app', bases: [{label: app, path: m}]}}\n"
        "  env: {databases: {app: {url: '${DATABASE_URL}', bases: [{label: app, path: e}]}}}\n"  # shows nothing
        "  pg: {databases: {app: {url: 'postgresql+psycopg://db/app'}}}\n"  # no bases of its own
    )
    tested = ("sqlite", "mariadb")
    assert profiles_by_dialect(config, "", tested) == {"mysql": "maria", "mariadb": "maria"}
    assert profiles_by_dialect(config, "mariadb:env, postgresql:pg", tested) == {
        "mariadb": "env",
        "postgresql": "pg",
        "mysql": "maria",
    }

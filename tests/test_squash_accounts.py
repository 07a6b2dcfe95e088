"""``multidb squash`` and what a history changes on the whole server, not in its database.

PostgreSQL roles are the cluster's, MariaDB users and roles the server's: a replay that ran ``CREATE ROLE``
left the role behind for good (a second squash then failed: the role exists), and the squash went on, with a
baseline that makes no role. Now the roles and users the replay made are dropped again and the squash is
refused naming them; settings and global grants it gave accounts that existed before are refused too.

Other tests make roles with random names on the same servers at the same time: a squash only counts (and
drops) a new role that its revision files name, or that holds something in its throwaway database. Every
role or user a test here makes is dropped afterwards, whatever the squash did.
"""

from __future__ import annotations

import uuid
from contextlib import suppress

import pytest
import sqlalchemy as sa
from assertions import assert_one_clean_error
from conftest import MARIADB_ADMIN_URL, PG_ADMIN_URL
from sqlalchemy.engine import make_url
from test_squash import run_cli, write_project
from test_squash_objects import history, squash_refused

TAIL = "(squash up to a revision before them, or keep these revisions)"


def _query(url: str, query: str, **params) -> list[tuple]:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(query), params)]
    finally:
        engine.dispose()


def _run(url: str, *statements: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                with suppress(sa.exc.DBAPIError):
                    conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


@pytest.fixture
def names():
    """Random role and user names; each is dropped on both servers afterwards (if the servers are there)."""
    made: list[str] = []

    def name(kind: str = "role") -> str:
        made.append(f"mdb_{kind}_{uuid.uuid4().hex[:10]}")
        return made[-1]

    yield name
    for found in made:
        with suppress(sa.exc.OperationalError, ImportError):
            _run(PG_ADMIN_URL, f"DROP ROLE IF EXISTS {found}")
        with suppress(sa.exc.OperationalError, ImportError):
            _run(
                MARIADB_ADMIN_URL,
                f"DROP USER IF EXISTS '{found}'@'localhost'",
                f"DROP USER IF EXISTS '{found}'@'%%'",  # %%: the driver reads a lone % as a parameter
                f"DROP ROLE IF EXISTS {found}",
            )


def pg_roles(*wanted: str) -> list[str]:
    return [r for (r,) in _query(PG_ADMIN_URL, "SELECT rolname FROM pg_roles ORDER BY 1") if r in wanted]


def mariadb_accounts(*wanted: str) -> list[tuple[str, str]]:
    rows = _query(MARIADB_ADMIN_URL, "SELECT User, Host FROM mysql.user ORDER BY 1, 2")
    return [(u, h) for u, h in rows if u in wanted]


@pytest.mark.postgresql
def test_a_role_the_history_made_on_postgresql_is_dropped_and_refused(tmp_path, monkeypatch, names):
    """The role used to stay on the server, and the squash to go on (a second one then failed: it exists)."""
    reader, bare = names(), names()
    statements = (f"CREATE ROLE {reader}", f"GRANT SELECT ON files TO {reader}", f"CREATE ROLE {bare} NOLOGIN")
    for attempt in (1, 2):  # the second squash of the same history says the same: nothing was left behind
        result = squash_refused(tmp_path / str(attempt), monkeypatch, "postgresql", statements)
        assert_one_clean_error(
            result,
            "cannot squash app to o2: the replay on postgresql made objects a baseline cannot carry: "
            f"grant SELECT on table files to {reader}, {', '.join(f'role {n}' for n in sorted((reader, bare)))} "
            + TAIL,
            nothing_else=True,
        )
        assert pg_roles(reader, bare) == []


@pytest.mark.postgresql
def test_a_role_owning_objects_in_the_replay_is_dropped(tmp_path, monkeypatch, names):
    """A role that owns the replay's tables can only go once the throwaway database is gone."""
    owner = names()
    statements = (f"CREATE ROLE {owner}", f"ALTER TABLE files OWNER TO {owner}")
    result = squash_refused(tmp_path, monkeypatch, "postgresql", statements)
    assert_one_clean_error(result, f"role {owner} {TAIL}", nothing_else=True)
    assert pg_roles(owner) == []


@pytest.mark.postgresql
def test_settings_the_history_gave_a_role_or_the_database_on_postgresql_are_refused_and_reset(
    tmp_path, monkeypatch, names
):
    existing = names()
    _run(PG_ADMIN_URL, f"CREATE ROLE {existing}")
    statements = (
        f"ALTER ROLE {existing} SET statement_timeout = '5s'",
        "ALTER ROLE CURRENT_USER SET multidb_test.squash_marker = 'on'",  # nothing another session would feel
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET work_mem = ''8MB''', current_database()); END $$",
    )
    me = make_url(PG_ADMIN_URL).username
    try:
        result = squash_refused(tmp_path, monkeypatch, "postgresql", statements)
    finally:  # the admin role's own setting goes whatever the squash did (no test here sets it)
        if _query(PG_ADMIN_URL, "SELECT current_setting('multidb_test.squash_marker', true)") not in (
            [(None,)],
            [("",)],
        ):
            _run(PG_ADMIN_URL, "ALTER ROLE CURRENT_USER RESET multidb_test.squash_marker")
            pytest.fail("the replay's ALTER ROLE CURRENT_USER was left on the server")
    assert_one_clean_error(
        result,
        "cannot squash app to o2: the replay on postgresql made objects a baseline cannot carry: "
        f"setting work_mem of database, setting statement_timeout of role {existing}, "
        f"setting multidb_test.squash_marker of role {me} " + TAIL,
        nothing_else=True,
    )
    assert pg_roles(existing) == [existing]  # it was there before: not the squash's to drop
    left = _query(
        PG_ADMIN_URL,
        "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = :r",
        r=existing,
    )
    assert left == []  # a setting the role did not have before is reset


@pytest.mark.postgresql
def test_a_role_made_during_the_replay_by_someone_else_is_left_alone(tmp_path, monkeypatch, names):
    """Other tests make roles on the same server while a squash replays. A new role that the revision files
    do not name and that holds nothing in the throwaway database is not the squash's: neither dropped nor
    refused. (The revision takes the name from the environment, as another process would.)"""
    other = names()
    monkeypatch.setenv("MULTIDB_TEST_OTHER_ROLE", other)
    steps = history()
    create = '    op.execute("CREATE ROLE " + __import__("os").environ["MULTIDB_TEST_OTHER_ROLE"])'
    steps[1] = ("o2", "o1", "other", create)
    project = write_project(tmp_path, "sqlite:///../app.db", steps)
    result = run_cli(project, monkeypatch, "squash", "app", "--to", "o2", "--dialects", "postgresql")
    assert result.exit_code == 0, result.output
    assert "postgresql: equal" in result.output
    assert pg_roles(other) == [other]


@pytest.mark.mariadb
def test_users_and_roles_the_history_made_on_mariadb_are_dropped_and_refused(tmp_path, monkeypatch, names):
    user, anywhere, role = names("user"), names("user"), names()
    statements = (
        f"CREATE USER '{user}'@'localhost'",
        f"GRANT SELECT ON files TO '{user}'@'localhost'",
        f"CREATE USER '{anywhere}'@'%'",  # dropped with a statement of its own: the driver reads % there
        f"CREATE ROLE {role}",
    )
    users = sorted((f"user '{user}'@'localhost'", f"user '{anywhere}'@'%'"))
    for attempt in (1, 2):
        result = squash_refused(tmp_path / str(attempt), monkeypatch, "mariadb", statements)
        assert_one_clean_error(
            result,
            "cannot squash app to o2: the replay on mariadb made objects a baseline cannot carry: "
            f"grant SELECT on table files to '{user}'@'localhost', role {role}, {', '.join(users)} " + TAIL,
            nothing_else=True,
        )
        assert mariadb_accounts(user, anywhere, role) == []


@pytest.mark.mariadb
def test_a_global_grant_the_history_gave_an_existing_user_on_mariadb_is_refused_and_revoked(
    tmp_path, monkeypatch, names
):
    user = names("user")
    who = f"'{user}'@'localhost'"
    _run(MARIADB_ADMIN_URL, f"CREATE USER {who}")
    result = squash_refused(tmp_path, monkeypatch, "mariadb", (f"GRANT SELECT, PROCESS ON *.* TO {who}",))
    assert_one_clean_error(
        result,
        "cannot squash app to o2: the replay on mariadb made objects a baseline cannot carry: "
        f"grant PROCESS, SELECT on *.* to {who} " + TAIL,
        nothing_else=True,
    )
    assert mariadb_accounts(user) == [(user, "localhost")]
    privileges = _query(
        MARIADB_ADMIN_URL,
        "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = :who",
        who=who,
    )
    assert privileges == [("USAGE",)]

"""multidb.enums through the CLI, on SQLite, PostgreSQL and MariaDB, without mocks.

A tiny project in a temp folder: revision a1 creates ``tickets(id, status)`` with the enum
``ticket_status`` ('open', 'closed') and three rows; revision a2 calls ``enums.change_values``
(by default: rename 'closed' to 'done', add 'waiting', remove 'open' mapping it to 'waiting'), and
its downgrade is the same call reversed. What is really in the database is checked after each step.
Server tests skip without a server, but fail in CI (CI or MULTIDB_REQUIRE_SERVERS set).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from alembic.migration import MigrationContext
from alembic.operations import Operations
from click.testing import CliRunner, Result
from sqlalchemy.pool import NullPool

from multidb import enums
from multidb.cli import main

OLD, NEW = ["open", "closed"], ["done", "waiting"]  # not a rename in place: PostgreSQL builds a new type
MAPPING = {"closed": "done", "open": "waiting"}
ROWS = {1: "open", 2: "closed", 3: "open"}
UPGRADED = {1: "waiting", 2: "done", 3: "waiting"}
MARIADB_ADMIN = "mysql+pymysql://root@127.0.0.1:3306/"

REV1 = '''"""create tickets"""
import sqlalchemy as sa
from alembic import op

from multidb import enums

revision = "a1"
down_revision = None
branch_labels = ("app",)
depends_on = None


def upgrade() -> None:
    status = sa.Enum("open", "closed", name="ticket_status", create_constraint={constraint})
    tickets = op.create_table(
        "tickets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("status", status, nullable=False, server_default={down}),
    )
    op.bulk_insert(tickets, [{{"id": i, "status": s}} for i, s in {rows}.items()])


def downgrade() -> None:
    op.drop_table("tickets")
    enums.drop_type("ticket_status")
'''

REV2 = '''"""change ticket_status"""
from multidb import enums

revision = "a2"
down_revision = "a1"
branch_labels = None
depends_on = None

OLD, NEW, MAPPING = {old}, {new}, {mapping}


def upgrade() -> None:
    enums.change_values(
        "tickets", "status", old=OLD, new=NEW, mapping=MAPPING, name="ticket_status", nullable=False, default={up}
    )


def downgrade() -> None:
    enums.change_values(
        "tickets",
        "status",
        old=NEW,
        new=OLD,
        mapping=enums.invert(MAPPING),
        name="ticket_status",
        nullable=False,
        default={down},
    )
'''


# --- the project and the CLI ----------------------------------------------------------------------


def write_project(
    root: Path,
    url: str,
    *,
    old=OLD,
    new=NEW,
    mapping=MAPPING,
    defaults: tuple[str | None, str | None] = (None, None),
    constraint: bool = True,
) -> Callable[..., Result]:
    """Write config + two revisions under ``root``; return ``multidb ARGS...`` run in-process on it.

    ``defaults`` is the column's server default (after a2, before a2).
    """
    up, down = (repr(d) for d in defaults)
    versions = root / "versions"
    versions.mkdir(parents=True)
    (versions / "a1_create_tickets.py").write_text(REV1.format(constraint=constraint, rows=ROWS, down=down))
    (versions / "a2_change_ticket_status.py").write_text(
        REV2.format(old=old, new=new, mapping=mapping, up=up, down=down)
    )
    config = root / "multidb.yaml"
    raw = {"databases": {"app": {"url": url, "bases": [{"label": "app", "path": "versions"}]}}}
    config.write_text(yaml.safe_dump(raw))

    def cli(*args: str) -> Result:
        return CliRunner().invoke(main, ["-c", str(config), *args], catch_exceptions=False)

    return cli


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


# --- reading the database -------------------------------------------------------------------------


def engine(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return sa.create_engine(parsed, poolclass=NullPool)


def statuses(url: str) -> dict[int, str]:
    with engine(url).connect() as conn:
        return dict(conn.execute(sa.text("SELECT id, status FROM tickets ORDER BY id")).all())


def version(url: str) -> list[str]:
    with engine(url).connect() as conn:
        return list(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())


def accepts(url: str, value: str) -> bool:
    """Whether the database takes ``value`` in tickets.status (tried in a transaction rolled back)."""
    with engine(url).connect() as conn:
        try:
            conn.execute(sa.text("INSERT INTO tickets (id, status) VALUES (999, :s)"), {"s": value})
        except sa.exc.DBAPIError:
            return False
        finally:
            conn.rollback()
        return True


def insert(url: str, row_id: int, value: str | None = None) -> None:
    """A row with ``value``, or with the column's default when it is None."""
    with engine(url).begin() as conn:
        if value is None:
            conn.execute(sa.text("INSERT INTO tickets (id) VALUES (:i)"), {"i": row_id})
        else:
            conn.execute(sa.text("INSERT INTO tickets (id, status) VALUES (:i, :s)"), {"i": row_id, "s": value})


def column_definition(url: str) -> str:
    """What each dialect says about tickets.status: the enum's labels, column type, or table SQL."""
    queries = {
        "postgresql": "SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum "
        "WHERE enumtypid = 'ticket_status'::regtype",
        "mysql": "SELECT CONCAT(COLUMN_TYPE, ' ', IS_NULLABLE) FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'tickets' AND COLUMN_NAME = 'status'",
        "sqlite": "SELECT sql FROM sqlite_master WHERE name = 'tickets'",
    }
    with engine(url).connect() as conn:
        return conn.execute(sa.text(queries[conn.dialect.name])).scalar_one()


# --- throwaway databases --------------------------------------------------------------------------


DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", marks=pytest.mark.postgresql, id="postgresql"),
    pytest.param("mariadb", marks=pytest.mark.mariadb, id="mariadb"),
]


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of the parametrized dialect; its URL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    factory = "pg_database" if request.param == "postgresql" else "mariadb_database"
    return request.getfixturevalue(factory)()


# --- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("database", DIALECTS, indirect=True)
def test_rename_add_remove_round_trip_keeps_every_rows_meaning(database, tmp_path):
    cli = write_project(tmp_path / "project", database, defaults=("waiting", "open"))

    ok(cli("upgrade", "app"))
    assert version(database) == ["a2"]
    assert statuses(database) == UPGRADED
    assert accepts(database, "waiting") and accepts(database, "done")
    assert not accepts(database, "open") and not accepts(database, "closed")
    insert(database, 4, "done")  # rows written while the new values are in use
    insert(database, 5)  # the new default

    ok(cli("downgrade", "app", "--to", "-1"))
    assert version(database) == ["a1"]
    assert statuses(database) == {**ROWS, 4: "closed", 5: "open"}
    assert accepts(database, "open") and accepts(database, "closed")
    assert not accepts(database, "waiting") and not accepts(database, "done")
    insert(database, 6)  # the old default is back

    ok(cli("upgrade", "app"))
    assert statuses(database) == {**UPGRADED, 4: "done", 5: "waiting", 6: "waiting"}
    definition = column_definition(database)
    if database.startswith("postgresql"):
        assert definition == "done,waiting"
        with engine(database).connect() as conn:  # the swap left no second type behind
            assert conn.execute(sa.text("SELECT to_regtype('ticket_status_new')")).scalar() is None
    elif database.startswith("mysql"):
        assert definition == "enum('done','waiting') NO"  # nullability kept through MODIFY
    else:
        assert "CONSTRAINT ticket_status CHECK (status IN ('done', 'waiting'))" in definition

    ok(cli("downgrade", "app", "--to", "base"))  # drop_type: the type goes on PostgreSQL, a no-op elsewhere
    with engine(database).connect() as conn:
        assert not sa.inspect(conn).has_table("tickets")
        if conn.dialect.name == "postgresql":
            assert conn.execute(sa.text("SELECT to_regtype('ticket_status')")).scalar() is None


def test_sqlite_plain_strings_are_remapped_without_a_constraint(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    cli = write_project(tmp_path / "project", url, constraint=False, defaults=("waiting", "open"))

    ok(cli("upgrade", "app"))
    assert statuses(url) == UPGRADED
    assert "CHECK" not in column_definition(url)  # no constraint appeared
    assert "DEFAULT 'waiting'" in column_definition(url)  # the default names a kept value
    insert(url, 4, "anything")  # plain strings: the database takes any value...

    refused = cli("downgrade", "app", "--to", "-1")  # ...but the change refuses rows it cannot place
    assert refused.exit_code == 1
    assert "nor mapped: 'anything' (1 row); add them to mapping=" in refused.stderr
    assert version(url) == ["a2"]
    with engine(url).begin() as conn:
        conn.execute(sa.text("DELETE FROM tickets WHERE id = 4"))

    ok(cli("downgrade", "app", "--to", "-1"))
    assert statuses(url) == ROWS
    assert "DEFAULT 'open'" in column_definition(url)


FAST_PATHS = [
    pytest.param(OLD, ["open", "done"], {"closed": "done"}, "RENAME VALUE 'closed' TO 'done'", id="rename"),
    pytest.param(OLD, ["open", "waiting", "closed"], {}, "ADD VALUE 'waiting' AFTER 'open'", id="add"),
]


@pytest.mark.postgresql
@pytest.mark.parametrize(("old", "new", "mapping", "statement"), FAST_PATHS)
def test_postgresql_renames_and_additions_alter_the_type_in_place(pg_database, tmp_path, old, new, mapping, statement):
    url = pg_database()
    cli = write_project(tmp_path / "project", url, old=old, new=new, mapping=mapping)
    ok(cli("upgrade", "app", "--sql", "--output-dir", str(tmp_path / "sql"), "--to", "a1:a2"))
    rendered = (tmp_path / "sql" / "app.sql").read_text()
    assert statement in rendered and "CREATE TYPE" not in rendered

    ok(cli("upgrade", "app"))
    assert column_definition(url) == ",".join(new)  # in place, in the order asked for
    assert statuses(url) == {i: mapping.get(s, s) for i, s in ROWS.items()}
    ok(cli("downgrade", "app", "--to", "-1"))  # the reverse is a rename, or a removal (a new type)
    assert column_definition(url) == ",".join(old)
    assert statuses(url) == ROWS


# --- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("database", DIALECTS, indirect=True)
def test_unmapped_values_refuse_the_upgrade_and_leave_the_previous_revision(database, tmp_path):
    cli = write_project(tmp_path / "project", database, new=["done"], mapping={"closed": "done"})
    ok(cli("upgrade", "app", "--to", "a1"))
    before = column_definition(database)

    result = cli("upgrade", "app")

    assert result.exit_code == 1, result.output
    assert "UnmappedValuesError: tickets.status: rows hold values that are neither in new=['done'] nor mapped: " in (
        result.stderr
    )
    assert "'open' (2 rows); add them to mapping= (or keep them in new=)" in result.stderr
    assert "a2_change_ticket_status.py" in result.stderr
    assert version(database) == ["a1"]
    assert statuses(database) == ROWS
    assert column_definition(database) == before


def test_bad_arguments_fail_before_touching_anything():
    cases = [
        ({"old": OLD, "new": NEW, "mapping": {"gone": "done"}}, r"mapping keys \['gone'\] are not in old"),
        ({"old": OLD, "new": NEW, "mapping": {"open": "nope"}}, r"mapping values \['nope'\] are not in new"),
        ({"old": OLD, "new": ["a", "a"]}, "new= must be a non-empty list of distinct values"),
        ({"old": "open", "new": NEW}, "old= must be a non-empty list"),
        ({"old": OLD, "new": NEW, "default": "open"}, r"default='open' is not in new"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            enums.change_values("tickets", "status", nullable=False, **kwargs)


def test_invert_undoes_a_mapping_and_refuses_a_merge():
    assert enums.invert(MAPPING) == {"done": "closed", "waiting": "open"}
    assert enums.invert({}) == {}
    with pytest.raises(ValueError, match="'open' and 'closed' both map to 'done'"):
        enums.invert({"open": "done", "closed": "done"})


# --- offline SQL ----------------------------------------------------------------------------------


def render(tmp_path: Path, url: str, *args: str) -> str:
    cli = write_project(tmp_path / "project", url)
    ok(cli("upgrade", "app", "--sql", "--output-dir", str(tmp_path / "sql"), *args))
    return (tmp_path / "sql" / "app.sql").read_text()


def test_offline_sql_for_postgresql_builds_a_new_type_and_swaps_it(tmp_path):
    sql = render(tmp_path, "postgresql://postgres@127.0.0.1:5432/never_connected", "--to", "a1:a2")
    expected = [
        "CREATE TYPE ticket_status_new AS ENUM ('done', 'waiting');",
        "ALTER TABLE tickets ALTER COLUMN status DROP DEFAULT;",
        "ALTER TABLE tickets ALTER COLUMN status TYPE ticket_status_new USING (CASE status::text "
        "WHEN 'closed' THEN 'done' WHEN 'open' THEN 'waiting' ELSE status::text END)::ticket_status_new;",
        "DROP TYPE ticket_status;",
        "ALTER TYPE ticket_status_new RENAME TO ticket_status;",
    ]
    positions = [sql.find(statement) for statement in expected]
    assert -1 not in positions, sql
    assert positions == sorted(positions)


@pytest.mark.postgresql
def test_offline_sql_for_postgresql_applies_with_psql_semantics(pg_database, tmp_path):
    url = pg_database()
    sql = render(tmp_path, url)  # the whole history: create, insert, change
    with engine(url).connect() as conn:
        conn.connection.dbapi_connection.autocommit = True
        conn.exec_driver_sql(sql.replace("%", "%%"))
    assert statuses(url) == UPGRADED
    assert version(url) == ["a2"]
    assert column_definition(url) == "done,waiting"


def test_offline_sql_for_mariadb_widens_remaps_and_narrows(tmp_path):
    sql = render(tmp_path, "mysql+pymysql://root@127.0.0.1:3306/never_connected", "--to", "a1:a2")
    expected = [
        "ALTER TABLE tickets MODIFY status ENUM('open','closed','done','waiting') NOT NULL;",
        "UPDATE tickets SET status=CASE tickets.status WHEN 'closed' THEN 'done' WHEN 'open' THEN 'waiting' END "
        "WHERE tickets.status IN ('closed', 'open');",
        "ALTER TABLE tickets MODIFY status ENUM('done','waiting') NOT NULL;",
    ]
    positions = [sql.find(statement) for statement in expected]
    assert -1 not in positions, sql
    assert positions == sorted(positions)


def test_values_with_quotes_colons_and_percent_signs_render_literally():
    buffer = io.StringIO()
    opts = {"as_sql": True, "output_buffer": buffer, "literal_binds": True}
    context = MigrationContext.configure(dialect_name="postgresql", dialect_opts={"paramstyle": "named"}, opts=opts)
    with Operations.context(context):
        enums.change_values(
            "t", "s", old=["it's", "50%"], new=["a:b"], mapping={"it's": "a:b", "50%": "a:b"}, name="k", nullable=True
        )
    assert "CREATE TYPE k_new AS ENUM ('a:b');" in buffer.getvalue()
    assert "WHEN 'it''s' THEN 'a:b' WHEN '50%' THEN 'a:b'" in buffer.getvalue()

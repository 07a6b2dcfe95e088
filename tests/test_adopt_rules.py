"""``multidb adopt`` never guesses between revisions that share a schema (SQLite and PostgreSQL).

A data revision changes rows, not the schema: the example catalog's c1a0f0a1b006 (copy kind into
medium) has the schema of c1a0f0a1b005. A database found at that schema may or may not have had
its data step; stamping the newer one would skip the step silently. So adopt lists the matching
revisions and wants ``--to REV``; with ``--to`` it checks that REV's schema matches, then stamps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from assertions import one_error_line, user_tables
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from example_project import CATALOG_HEAD, CATALOG_REVS, SEEDED_LOCATIONS

EXPANDED, DATA_STEP = CATALOG_REVS[4], CATALOG_REVS[5]  # c1a0f0a1b005 and its data revision c1a0f0a1b006


@dataclass
class Catalog:
    """The example catalog on one backend: the CLI on its profile and a URL to look inside."""

    url: str
    env: dict[str, str]
    profile: tuple[str, ...]
    invoke: object

    def cli(self, *args: str):
        return self.invoke(*args, *self.profile, env=self.env)

    def rows(self, sql: str) -> list[tuple]:
        engine = sa.create_engine(self.url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql))]
        finally:
            engine.dispose()

    def execute(self, sql: str) -> None:
        engine = sa.create_engine(self.url, poolclass=NullPool)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(sql))
        finally:
            engine.dispose()

    def tables(self) -> set[str]:
        engine = sa.create_engine(self.url, poolclass=NullPool)
        try:
            return user_tables(sa.inspect(engine).get_table_names(), with_version_table=True)
        finally:
            engine.dispose()

    def unversioned_at(self, revision: str) -> None:
        """The schema (and rows) of ``revision``, made by the migrations, then the version table dropped."""
        done = self.cli("upgrade", "catalog", "--to", revision)
        assert done.exit_code == 0, done.output
        self.execute("DROP TABLE alembic_version")
        assert "alembic_version" not in self.tables()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def catalog(request, project: Path, cli) -> Catalog:
    if request.param == "sqlite":
        (project / "var").mkdir(exist_ok=True)
        return Catalog(f"sqlite:///{project / 'var' / 'catalog.db'}", {}, (), cli)
    make = request.getfixturevalue("pg_database")
    url, monitor = make(), make()
    env = {"CATALOG_DATABASE_URL": url, "MONITOR_DATABASE_URL": monitor}
    inspect_url = make_url(url).set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    return Catalog(inspect_url, env, ("-p", "production"), cli)


def test_a_schema_several_revisions_share_is_listed_and_nothing_is_stamped(catalog: Catalog):
    catalog.unversioned_at(EXPANDED)
    tables = catalog.tables()

    result = catalog.cli("adopt", "catalog")

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = one_error_line(result.stderr)
    assert line.startswith("multidb: error: catalog: "), line
    assert f"{EXPANDED}, {DATA_STEP}" in line and "--to" in line, line
    assert catalog.tables() == tables, "adopt changed the database"


def test_to_a_matching_revision_stamps_it_and_the_skipped_data_step_runs_next(catalog: Catalog):
    catalog.unversioned_at(EXPANDED)
    catalog.execute("UPDATE locations SET medium = NULL")  # the data step has not run on this database

    adopted = catalog.cli("adopt", "catalog", "--to", EXPANDED)
    assert adopted.exit_code == 0, adopted.output
    assert EXPANDED in adopted.stdout
    assert catalog.rows("SELECT version_num FROM alembic_version") == [(EXPANDED,)]

    upgraded = catalog.cli("upgrade", "catalog")
    assert upgraded.exit_code == 0, upgraded.output
    assert set(catalog.rows("SELECT name, medium FROM locations")) == SEEDED_LOCATIONS


def test_to_the_data_revision_stamps_it(catalog: Catalog):
    catalog.unversioned_at(DATA_STEP)
    adopted = catalog.cli("adopt", "catalog", "--to", DATA_STEP)
    assert adopted.exit_code == 0, adopted.output
    assert catalog.rows("SELECT version_num FROM alembic_version") == [(DATA_STEP,)]


def test_to_a_revision_whose_schema_differs_is_refused_and_nothing_is_stamped(catalog: Catalog):
    catalog.unversioned_at(EXPANDED)
    result = catalog.cli("adopt", "catalog", "--to", CATALOG_HEAD)
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    assert line.startswith("multidb: error: catalog: ") and CATALOG_HEAD in line and "nothing stamped" in line, line
    assert "locations.kind" in result.stderr  # the differences are listed under the line
    assert "alembic_version" not in catalog.tables()


def test_to_an_unknown_revision_is_a_usage_error(catalog: Catalog):
    catalog.unversioned_at(EXPANDED)
    result = catalog.cli("adopt", "catalog", "--to", "deadbeef")
    assert result.exit_code == 2, result.output
    line = one_error_line(result.stderr)
    assert "deadbeef" in line, line
    assert "alembic_version" not in catalog.tables()


def test_a_schema_only_the_head_has_is_still_stamped_without_to(catalog: Catalog):
    catalog.unversioned_at(CATALOG_HEAD)
    adopted = catalog.cli("adopt", "catalog")
    assert adopted.exit_code == 0, adopted.output
    assert catalog.rows("SELECT version_num FROM alembic_version") == [(CATALOG_HEAD,)]


# --- the scratch database's name ----------------------------------------------------------------


@pytest.mark.postgresql
def test_the_scratch_database_is_named_with_the_prefix_given_and_dropped(project: Path, cli, pg_database):
    url, monitor = pg_database(), pg_database()
    env = {"CATALOG_DATABASE_URL": url, "MONITOR_DATABASE_URL": monitor}
    inspect_url = make_url(url).set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    catalog = Catalog(inspect_url, env, ("-p", "production"), cli)
    catalog.unversioned_at(CATALOG_HEAD)
    created: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if statement.startswith("CREATE DATABASE"):
            created.append(statement.split()[2].strip('"'))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        adopted = catalog.cli("adopt", "catalog", "--scratch-prefix", "team_a_adopt_")
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
    assert adopted.exit_code == 0, adopted.output
    assert len(created) == 1 and created[0].startswith("team_a_adopt_") and len(created[0]) == 25, created
    left = catalog.rows(f"SELECT datname FROM pg_database WHERE datname = '{created[0]}'")
    assert left == []


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        ("Team-A", "'Team-A' is not a database name prefix: use lower-case letters, digits and _ only"),
        ("", "'' is not a database name prefix"),
        ("a" * 41, "is 41 characters long; at most 40 fit"),
    ],
)
def test_a_prefix_that_cannot_start_a_database_name_is_refused_before_anything(catalog: Catalog, prefix, problem):
    catalog.unversioned_at(CATALOG_HEAD)
    result = catalog.cli("adopt", "catalog", "--scratch-prefix", prefix)
    assert result.exit_code == 2, result.output
    line = one_error_line(result.stderr)
    assert line.startswith("multidb: error: adopt --scratch-prefix: ") and problem in line, line
    assert "alembic_version" not in catalog.tables()

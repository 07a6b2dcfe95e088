"""The example project's rename across a release, expand → migrate → contract, on every dialect.

Release 1 of the example application stores ``locations.kind`` and ``warnings.level``; release 2
calls them ``medium`` and ``severity`` (the live models in ``example_app/``). The revisions
between them are an expand step, a ``--data`` step and a contract step in each database. Between
``upgrade --all --phase expand`` and the plain ``upgrade --all`` both releases' code must work
against the same database, and after the contract step no value may be missing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool

from example_project import (
    CATALOG_EXPANDED,
    CATALOG_HEAD,
    CATALOG_REVS,
    MONITOR_EXPANDED,
    MONITOR_HEAD,
    MONITOR_REVS,
)

RELEASE_1 = {"catalog": CATALOG_REVS[3], "monitor": MONITOR_REVS[2]}


class OldBase(DeclarativeBase):
    """Release 1's models, as its code still runs while release 2 is being deployed."""


class OldLocation(OldBase):
    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(20))


class OldWarning(OldBase):
    __tablename__ = "warnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(sa.String(10))
    message: Mapped[str] = mapped_column(sa.Text)


@dataclass
class Target:
    """The example project on one dialect: the CLI with the right profile, and both URLs."""

    cli: Callable
    urls: dict[str, str]
    args: tuple[str, ...]
    env: dict[str, str] | None

    def run(self, *args: str):
        result = self.cli(*args, *self.args, env=self.env)
        assert result.exit_code == 0, result.output
        return result

    def engine(self, name: str) -> sa.Engine:
        url = sa.make_url(self.urls[name])
        if url.drivername == "postgresql":  # SQLAlchemy 2.1 would pick psycopg 3
            url = url.set(drivername="postgresql+psycopg2")
        return sa.create_engine(url, poolclass=NullPool)

    def versions(self, name: str) -> set[str]:
        engine = self.engine(name)
        with engine.connect() as conn:
            found = {row[0] for row in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}
        engine.dispose()
        return found

    def columns(self, name: str, table: str) -> set[str]:
        engine = self.engine(name)
        found = {c["name"] for c in sa.inspect(engine).get_columns(table)}
        engine.dispose()
        return found

    def session(self, name: str, work: Callable[[Session], object]) -> object:
        """Run ``work`` in a session of its own, as one request of the application would, and commit."""
        engine = self.engine(name)
        try:
            with Session(engine, expire_on_commit=False) as session:
                found = work(session)
                session.commit()
                return found
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql), "mariadb"])
def target(request, cli, project: Path) -> Target:
    if request.param == "sqlite":
        urls = {name: f"sqlite:///{project / 'var' / f'{name}.db'}" for name in ("catalog", "monitor")}
        return Target(cli, urls, (), None)
    if request.param == "mariadb":
        request.applymarker(pytest.mark.mariadb)
        factory = request.getfixturevalue("mariadb_database")
    else:
        factory = request.getfixturevalue("pg_database")
    urls = {"catalog": factory(), "monitor": factory()}
    env = {"CATALOG_DATABASE_URL": urls["catalog"], "MONITOR_DATABASE_URL": urls["monitor"]}
    return Target(cli, urls, ("-p", "production"), env)


@pytest.fixture
def new_models(project: Path):
    """Release 2's models: the example application's live models (they only know the new names)."""
    sys.path.insert(0, str(project))
    from example_app.catalog import Location
    from example_app.monitor import MonitorWarning

    return Location, MonitorWarning


def locations(session: Session, model: type) -> dict[str, str | None]:
    column = "kind" if model is OldLocation else "medium"
    return {row.name: getattr(row, column) for row in session.scalars(sa.select(model))}


def warnings(session: Session, model: type) -> dict[str, str | None]:
    column = "level" if model is OldWarning else "severity"
    return {row.message: getattr(row, column) for row in session.scalars(sa.select(model))}


def test_rename_across_a_release_keeps_old_and_new_code_working(target: Target, new_models):
    Location, MonitorWarning = new_models

    # release 1 is deployed, and its code writes the old columns
    target.run("upgrade", "catalog", "--to", RELEASE_1["catalog"])
    target.run("upgrade", "monitor", "--to", RELEASE_1["monitor"])
    target.session("catalog", lambda s: s.add(OldLocation(name="lab", kind="disk")))
    target.session("monitor", lambda s: s.add(OldWarning(level="warn", message="before the release")))

    # release 2, first half: expand + the data step, before the new code is deployed
    expanded = target.run("upgrade", "--all", "--phase", "expand", "--json")
    applied = {r["name"]: r["applied"] for r in json.loads(expanded.stdout)}
    assert applied == {"catalog": CATALOG_REVS[4:6], "monitor": MONITOR_REVS[3:5]}
    assert target.versions("catalog") == {CATALOG_EXPANDED}
    assert target.versions("monitor") == {MONITOR_EXPANDED}

    # status shows where each database stands: the contract steps are pending
    states = {s["name"]: s for s in json.loads(target.run("status", "--all", "--json").stdout)}
    for name, head in (("catalog", CATALOG_HEAD), ("monitor", MONITOR_HEAD)):
        assert states[name]["state"] == "expanded"
        assert states[name]["pending"] == [head]
        assert states[name]["contract_pending"] == [head]
    table = target.run("status", "--all").stdout.splitlines()
    assert all("expanded" in line and "1 (1 contract)" in line for line in table[1:]), table

    # the old code still works: it reads what it wrote, and writes rows as it always did
    target.session("catalog", lambda s: s.add(OldLocation(name="old-code-late", kind="tape")))
    target.session("monitor", lambda s: s.add(OldWarning(level="error", message="old code, late")))
    old_view = target.session("catalog", lambda s: locations(s, OldLocation))
    assert old_view["lab"] == "disk" and old_view["old-code-late"] == "tape"
    assert old_view["primary-disk"] == "disk"  # seeded by c1a0f0a1b004
    assert target.session("monitor", lambda s: warnings(s, OldWarning))["before the release"] == "warn"

    # the new code works too: the data step filled the new columns of every earlier row
    target.session("catalog", lambda s: s.add(Location(name="new-code", medium="cloud")))
    target.session("monitor", lambda s: s.add(MonitorWarning(severity="info", message="new code")))
    new_view = target.session("catalog", lambda s: locations(s, Location))
    assert new_view["lab"] == "disk" and new_view["primary-disk"] == "disk" and new_view["new-code"] == "cloud"
    assert new_view["old-code-late"] is None  # written by the old code after the data step ran
    assert target.session("monitor", lambda s: warnings(s, MonitorWarning))["before the release"] == "warn"

    # release 2, second half: the contract steps, once no release 1 code runs
    contracted = target.run("upgrade", "--all", "--json")
    assert {r["name"]: r["applied"] for r in json.loads(contracted.stdout)} == {
        "catalog": [CATALOG_HEAD],
        "monitor": [MONITOR_HEAD],
    }
    assert "kind" not in target.columns("catalog", "locations")
    assert "level" not in target.columns("monitor", "warnings")
    assert target.session("catalog", lambda s: locations(s, Location)) == {
        "primary-disk": "disk",
        "archive-tape": "tape",
        "lab": "disk",
        "old-code-late": "tape",  # caught up by the contract step: no value is lost
        "new-code": "cloud",
    }
    assert target.session("monitor", lambda s: warnings(s, MonitorWarning)) == {
        "before the release": "warn",
        "old code, late": "error",
        "new code": "info",
    }
    assert target.run("check", "--all").stdout.count("the models match the migrations") == 2
    with pytest.raises(sa.exc.DBAPIError):  # this is why --phase expand held the contract step back
        target.session("catalog", lambda s: locations(s, OldLocation))

    # and back to release 1: every row keeps its meaning under the old name
    target.run("downgrade", "catalog", "--to", RELEASE_1["catalog"])
    target.run("downgrade", "monitor", "--to", RELEASE_1["monitor"])
    assert "medium" not in target.columns("catalog", "locations")
    assert target.session("catalog", lambda s: locations(s, OldLocation)) == {
        "primary-disk": "disk",
        "archive-tape": "tape",
        "lab": "disk",
        "old-code-late": "tape",
        "new-code": "cloud",
    }
    assert target.session("monitor", lambda s: warnings(s, OldWarning)) == {
        "before the release": "warn",
        "old code, late": "error",
        "new code": "info",
    }


def test_expand_phase_on_an_up_to_date_release_1_database_applies_nothing_twice(target: Target):
    target.run("upgrade", "--all", "--phase", "expand")
    again = target.run("upgrade", "--all", "--phase", "expand", "--json")
    assert [r["result"] for r in json.loads(again.stdout)] == ["no change", "no change"]
    assert target.versions("catalog") == {CATALOG_EXPANDED}

"""``multidb init``: a new project that works out of the box, and a second init that changes nothing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

SENTINEL = "Sentinel-Pw-4f1c9e"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """``multidb ARGS...`` in-process from the current folder (tmp_path unless the test moves)."""
    from multidb.cli import main

    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def versions(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]


def tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        return {r[0] for r in rows}


@pytest.fixture
def initialized(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project made by ``multidb init svc``; the current folder is svc/ afterwards."""
    result = run("init", "svc")
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path / "svc")
    return tmp_path / "svc"


def test_init_creates_a_project(run, tmp_path):
    result = run("init", "svc")
    assert result.exit_code == 0, result.output
    root = tmp_path / "svc"
    assert (root / "config" / "multidb.yaml").is_file()
    assert (root / "config" / "script.py.mako").is_file()
    assert (root / "db_models.py").is_file()
    assert ".gitignore" in {p.name for p in root.iterdir()}
    app = list((root / "app_versions").glob("*.py"))
    events = list((root / "events_versions").glob("*.py"))
    assert len(app) == 1 and len(events) == 1
    for path in (*app, *events, root / "db_models.py"):
        compile(path.read_text(), str(path), "exec")
    created = [line.removeprefix("created ") for line in result.stdout.splitlines() if line.startswith("created ")]
    assert sorted(Path(p).resolve() for p in created) == sorted(p.resolve() for p in root.rglob("*") if p.is_file())
    assert "upgrade --all" in result.stdout
    assert not (root / "var").exists()  # init connects to nothing


def test_init_project_is_listed(run, initialized):
    result = run("list", "--json")
    assert result.exit_code == 0, result.output
    data = {d["name"]: d for d in json.loads(result.stdout)}
    assert list(data) == ["app", "events"]
    assert data["events"]["depends_on"] == ["app"]
    assert all(d["dialect"] == "sqlite" for d in data.values())


def test_init_project_upgrades_and_is_at_head(run, initialized):
    up = run("upgrade", "--all", "--json")
    assert up.exit_code == 0, up.output
    runs = json.loads(up.stdout)
    assert [(r["name"], r["result"]) for r in runs] == [("app", "upgraded"), ("events", "upgraded")]

    app_rev = next((initialized / "app_versions").glob("*.py")).name.split("_", 1)[0]
    events_rev = next((initialized / "events_versions").glob("*.py")).name.split("_", 1)[0]
    assert versions(initialized / "var" / "app.db") == [app_rev]
    assert versions(initialized / "var" / "events.db") == [events_rev]
    assert "items" in tables(initialized / "var" / "app.db")
    assert "events" in tables(initialized / "var" / "events.db")

    status = run("status", "--check")
    assert status.exit_code == 0, status.output

    check = run("check", "--all")
    assert check.exit_code == 0, check.output
    assert check.stdout.splitlines() == [
        "app: the models match the migrations",
        "events: the models match the migrations",
    ]


def test_init_project_status_check_fails_before_upgrade(run, initialized):
    result = run("status", "--check")
    assert result.exit_code == 1
    assert not (initialized / "var").exists()


def test_init_project_production_sql_never_contains_the_password(run, initialized):
    env = {
        "APP_DATABASE_URL": f"postgresql://deploy:{SENTINEL}@db.example.com:5432/app",
        "EVENTS_DATABASE_URL": f"postgresql://deploy:{SENTINEL}@db.example.com:5432/events",
    }
    result = run("upgrade", "--all", "--sql", "--profile", "production", env=env)
    assert result.exit_code == 0, result.output
    assert SENTINEL not in result.output
    assert sorted(p.name for p in (initialized / "sql").iterdir()) == ["app.sql", "events.sql"]
    app_sql = (initialized / "sql" / "app.sql").read_text()
    events_sql = (initialized / "sql" / "events.sql").read_text()
    for text in (app_sql, events_sql):
        assert SENTINEL not in text
        assert "postgresql" in text.splitlines()[0]
        assert "alembic_version" in text
    assert "CREATE TABLE items" in app_sql
    assert "CREATE TABLE events" in events_sql
    assert not (initialized / "var").exists()  # no SQLite file from the local profile

    listed = run("list", "--profile", "production", env=env)
    assert listed.exit_code == 0
    assert SENTINEL not in listed.output and "***" in listed.stdout


def test_init_again_refuses_and_changes_nothing(run, tmp_path):
    assert run("init", "svc").exit_code == 0
    before = snapshot(tmp_path / "svc")

    again = run("init", "svc")
    assert again.exit_code == 2
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("multidb: error: ")
    assert "already exists" in lines[0]
    assert "Traceback" not in again.output
    assert snapshot(tmp_path / "svc") == before


def test_init_again_from_inside_the_project(run, initialized):
    assert run("upgrade", "--all").exit_code == 0
    before = snapshot(initialized)
    again = run("init")
    assert again.exit_code == 2
    assert snapshot(initialized) == before


def test_init_refuses_when_a_project_file_is_in_the_way(run, tmp_path):
    target = tmp_path / "svc"
    target.mkdir()
    (target / "db_models.py").write_text("# mine\n")
    result = run("init", "svc")
    assert result.exit_code == 2
    assert "db_models.py" in result.stderr
    assert snapshot(target) == {"db_models.py": b"# mine\n"}

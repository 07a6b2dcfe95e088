"""Failures a user meets (unreachable servers, bad configs, unknown names, missing variables)
and the promise that a URL's password never reaches the terminal or a written file.

Network traffic stays on 127.0.0.1: the real server, a local socket that never answers, and
port 1 where nothing listens.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa
import yaml
from assertions import assert_one_clean_error, user_tables
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from example_project import CATALOG_HEAD, CATALOG_REVS, MONITOR_HEAD

SENTINEL = "S3ntinel-Pa55"
REFUSED_PORT = 1  # nothing listens there: the connection is refused at once


# --- helpers -----------------------------------------------------------------------------------


def with_password(url: str, password: str, port: int | None = None) -> str:
    parsed = make_url(url).set(password=password)
    if port is not None:
        parsed = parsed.set(port=port)
    return parsed.render_as_string(hide_password=False)


def tables(url: str) -> set[str]:
    engine = sa.create_engine(make_url(url).set(drivername="postgresql+psycopg2"), poolclass=NullPool)
    try:
        return user_tables(sa.inspect(engine).get_table_names(), with_version_table=True)
    finally:
        engine.dispose()


def edit_config(project: Path, change) -> None:
    path = project / "config" / "multidb.yaml"
    raw = yaml.safe_load(path.read_text())
    change(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def production(raw: dict, database: str) -> dict:
    return raw["profiles"]["production"]["databases"][database]


def assert_usage_error(result) -> list[str]:
    """Exit 2; the first stderr line is the only 'multidb: error:' one; no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("multidb: error: "), result.stderr
    assert result.stderr.count("multidb: error:") == 1, result.stderr
    return lines


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port on 127.0.0.1 that completes the TCP handshake but never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


# --- unreachable servers -----------------------------------------------------------------------


@pytest.mark.postgresql
def test_silent_server_times_out_with_one_line_and_changes_nothing(cli, project, pg_database, silent_server):
    edit_config(project, lambda raw: production(raw, "catalog").update(connect_timeout=1))
    monitor = pg_database()
    env = {
        "CATALOG_DATABASE_URL": f"postgresql://postgres:{SENTINEL}@127.0.0.1:{silent_server}/catalog",
        "MONITOR_DATABASE_URL": monitor,
    }

    started = time.monotonic()
    result = cli("upgrade", "--all", "-p", "production", env=env)
    elapsed = time.monotonic() - started

    assert elapsed < 30, f"took {elapsed:.0f} s: the connect timeout was not applied"
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert_one_clean_error(result, "catalog: ", "cannot connect", nothing_else=True)
    assert SENTINEL not in result.output
    assert tables(monitor) == set(), "monitor must not be migrated when catalog cannot be reached"

    started = time.monotonic()
    status = cli("status", "--json", "-p", "production", env=env)
    assert time.monotonic() - started < 30
    assert status.exit_code == 1
    found = {s["name"]: s for s in json.loads(status.stdout)}
    assert found["catalog"]["state"] == "error" and "cannot connect" in found["catalog"]["error"]
    assert found["monitor"]["state"] == "empty"


@pytest.mark.postgresql
@pytest.mark.parametrize("unreachable", ["catalog", "monitor"])
def test_connection_refused_is_one_line_and_no_database_changes(cli, pg_database, unreachable):
    real = {"catalog": pg_database(), "monitor": pg_database()}
    refused = f"postgresql://postgres:{SENTINEL}@127.0.0.1:{REFUSED_PORT}/{unreachable}"
    env = {
        "CATALOG_DATABASE_URL": refused if unreachable == "catalog" else real["catalog"],
        "MONITOR_DATABASE_URL": refused if unreachable == "monitor" else real["monitor"],
    }

    result = cli("upgrade", "--all", "-p", "production", env=env)

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    line = assert_one_clean_error(result, f"{unreachable}: ", "cannot connect", nothing_else=True)
    assert f":{REFUSED_PORT}/" in line and "***" in line
    assert SENTINEL not in result.output
    # every database is checked before any is changed
    for name, url in real.items():
        if name != unreachable:
            assert tables(url) == set(), f"{name} changed although {unreachable} was unreachable"


def test_connection_refused_needs_no_server(cli):
    env = {
        "CATALOG_DATABASE_URL": f"postgresql://postgres:{SENTINEL}@127.0.0.1:{REFUSED_PORT}/catalog",
        "MONITOR_DATABASE_URL": f"postgresql://postgres:{SENTINEL}@127.0.0.1:{REFUSED_PORT}/monitor",
    }
    for args in (("upgrade", "--all"), ("downgrade", "catalog", "--to", "base"), ("stamp", "monitor", "--to", "heads")):
        result = cli(*args, "-p", "production", env=env)
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output
        assert_one_clean_error(result, "cannot connect", nothing_else=True)
        assert SENTINEL not in result.output


# --- passwords never leak ----------------------------------------------------------------------

# (arguments, expected exit code) in order; run on real databases with the password in the URLs
ONLINE_STEPS: list[tuple[tuple[str, ...], int]] = [
    (("list",), 0),
    (("list", "--json"), 0),
    (("status",), 0),
    (("status", "--json"), 0),
    (("current",), 0),
    (("current", "--json"), 0),
    (("heads",), 0),
    (("heads", "--json"), 0),
    (("branches", "--json"), 0),
    (("history", "catalog"), 0),
    (("history", "catalog", "--json"), 0),
    (("show", "catalog", "head"), 0),
    (("show", "catalog", "head", "--json"), 0),
    (("check",), 1),  # not at head yet
    (("upgrade", "--all"), 0),
    (("upgrade", "--all", "--json"), 0),
    (("status",), 0),
    (("status", "--json"), 0),
    (("current",), 0),
    (("upgrade", "--all", "--sql", "--output-dir", "out"), 0),
    (("downgrade", "catalog", "--sql", "--to", "heads:base", "--output-dir", "out-down"), 0),
    (("check",), 0),
    (("check", "--json"), 0),
    (("migrate", "catalog", "-m", "nothing to do"), 0),
    (("downgrade", "catalog", "--to", "-1"), 0),
    (("check",), 1),  # behind
    (("upgrade", "catalog", "--to", "+1", "--json"), 0),
    (("downgrade", "catalog", "--to", "-1", "--json"), 0),
    (("upgrade", "--all"), 0),
    (("stamp", "catalog", "--to", "heads"), 0),
    (("stamp", "catalog", "--to", "c1a0f0a1b003"), 0),
    (("upgrade", "--all"), 1),  # the seed rows exist already: a real database error
    (("upgrade", "--all", "--json"), 1),
    (("stamp", "catalog", "--to", "heads", "--purge"), 0),
    (("upgrade", "catalog", "--to", "deadbeef"), 2),
    (("downgrade", "catalog", "--to", "nope"), 2),
    (("stamp", "catalog", "--to", "nope"), 2),
    (("show", "catalog", "nope"), 2),
    (("history", "catalog", "-r", "nope:heads"), 2),
    (("upgrade", "catalgo"), 2),
    (("downgrade", "monitor", "--to", "base"), 0),
    (("downgrade", "catalog", "--to", "base"), 0),
]
# the same password, but the servers refuse the connection
REFUSED_STEPS: list[tuple[tuple[str, ...], int]] = [
    (("list",), 0),
    (("list", "--json"), 0),
    (("status",), 1),
    (("status", "--json"), 1),
    (("current",), 1),
    (("current", "--json"), 1),
    (("heads",), 0),
    (("history", "catalog"), 0),
    (("upgrade", "--all"), 1),
    (("upgrade", "--all", "--json"), 1),
    (("upgrade", "--all", "--sql", "--output-dir", "out-refused"), 0),
    (("downgrade", "catalog", "--to", "base"), 1),
    (("stamp", "catalog", "--to", "heads"), 1),
    (("check",), 1),
    (("migrate", "catalog", "-m", "cannot connect"), 1),
]


def _secret_forms(password: str) -> set[str]:
    return {password, quote(password, safe=""), quote_plus(password)}


@pytest.mark.postgresql
@pytest.mark.parametrize("traceback", [False, True], ids=["plain", "traceback"])
@pytest.mark.parametrize("password", [SENTINEL, "S3ntinel/P@ss:w0rd?#%"], ids=["plain-password", "url-chars"])
def test_password_never_printed_nor_written(cli, project, pg_database, tmp_path, traceback, password):
    real = {"catalog": pg_database(), "monitor": pg_database()}
    online = {
        "CATALOG_DATABASE_URL": with_password(real["catalog"], password),
        "MONITOR_DATABASE_URL": with_password(real["monitor"], password),
    }
    refused = {
        "CATALOG_DATABASE_URL": with_password(real["catalog"], password, port=REFUSED_PORT),
        "MONITOR_DATABASE_URL": with_password(real["monitor"], password, port=REFUSED_PORT),
    }
    forms = _secret_forms(password)
    extra = ("--traceback",) if traceback else ()
    seen_traceback = False

    for env, steps in ((online, ONLINE_STEPS), (refused, REFUSED_STEPS)):
        for args, code in steps:
            result = cli(*args, "-p", "production", *extra, env=env)
            assert result.exit_code == code, (args, result.output)
            for form in forms:
                assert form not in result.stdout, (args, result.stdout)
                assert form not in result.stderr, (args, result.stderr)
            assert "unexpected" not in result.stderr, (args, result.stderr)
            seen_traceback |= "Traceback (most recent call last)" in result.stderr
            if not traceback:
                assert "Traceback" not in result.output, (args, result.output)

    assert seen_traceback == traceback
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {"catalog.sql", "monitor.sql"} <= {p.name for p in written}
    for path in written:
        data = path.read_bytes()
        for form in forms:
            assert form.encode() not in data, f"{form!r} written to {path}"
    assert tables(real["catalog"]) == {"alembic_version"}
    assert tables(real["monitor"]) == {"alembic_version"}


@pytest.mark.postgresql
def test_password_given_as_url_query_parameter_is_never_shown(cli, pg_database):
    """libpq and psycopg2 accept ``?password=``; it is as secret as the one before the '@'."""
    catalog = make_url(pg_database()).update_query_dict({"password": SENTINEL})
    env = {
        "CATALOG_DATABASE_URL": catalog.render_as_string(hide_password=False),
        "MONITOR_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{REFUSED_PORT}/monitor?password={SENTINEL}",
    }
    for args, code in (
        (("list",), 0),
        (("list", "--json"), 0),
        (("status",), 1),
        (("status", "--json"), 1),
        (("current",), 1),
        (("upgrade", "--all"), 1),
        (("upgrade", "--all", "--traceback"), 1),
    ):
        result = cli(*args, "-p", "production", env=env)
        assert result.exit_code == code, (args, result.output)
        assert SENTINEL not in result.stdout, (args, result.stdout)
        assert SENTINEL not in result.stderr, (args, result.stderr)


@pytest.mark.parametrize(
    "url",
    [
        f"nosuchdialect://postgres:{SENTINEL}@127.0.0.1:{REFUSED_PORT}/catalog",
        f"postgresql+nosuchdriver://postgres:{SENTINEL}@127.0.0.1:{REFUSED_PORT}/catalog",
    ],
    ids=["dialect", "driver"],
)
@pytest.mark.parametrize("sql", [False, True], ids=["online", "sql"])
def test_unknown_dialect_or_driver_is_a_one_line_error_naming_the_database(cli, project, url, sql):
    env = {
        "CATALOG_DATABASE_URL": url,
        "MONITOR_DATABASE_URL": f"postgresql://postgres:{SENTINEL}@127.0.0.1:{REFUSED_PORT}/monitor",
    }
    extra = ("--sql", "--output-dir", "out") if sql else ()
    result = cli("upgrade", "--all", *extra, "-p", "production", env=env)
    assert result.exit_code == 2, result.output  # a config problem, found before anything runs
    assert "unexpected" not in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert_one_clean_error(result, "databases.catalog.url: unknown database dialect or driver", nothing_else=True)
    assert SENTINEL not in result.output
    assert not (project / "out").exists()


# --- JSON output --------------------------------------------------------------------------------


def test_json_output_of_every_read_command(cli):
    """Every read command's --json is valid JSON (``heads --json`` once crashed with a TypeError)."""
    assert cli("upgrade", "--all").exit_code == 0
    outputs = {}
    for args in (
        ("list",),
        ("status",),
        ("current",),
        ("heads",),
        ("branches",),
        ("history", "catalog"),
        ("show", "catalog", "head"),
        ("check",),
    ):
        result = cli(*args, "--json")
        assert result.exit_code == 0, (args, result.output)
        assert "unexpected" not in result.stderr
        outputs[args[0]] = json.loads(result.stdout)
    assert [h["revision"] for h in outputs["heads"]["catalog"]] == [CATALOG_HEAD]
    assert [h["revision"] for h in outputs["heads"]["monitor"]] == [MONITOR_HEAD]
    assert outputs["branches"] == {"catalog": [], "monitor": []}
    assert [r["revision"] for r in outputs["history"]] == list(reversed(CATALOG_REVS))
    assert outputs["check"] == {"catalog": [], "monitor": []}


# --- usage and config errors: exit 2, one error line, nothing changed -------------------------


def _no_local_databases(project: Path) -> None:
    assert not (project / "var").exists(), "a SQLite database was created"


def test_malformed_yaml_is_one_line(cli, project):
    path = project / "config" / "multidb.yaml"
    path.write_text(path.read_text() + "\n  broken: [unclosed\n")
    for args in (("upgrade", "--all"), ("status",), ("list",)):
        lines = assert_usage_error(cli(*args))
        assert len(lines) == 1
        assert "malformed YAML" in lines[0] and "multidb.yaml" in lines[0]
    _no_local_databases(project)


@pytest.mark.postgresql
def test_config_with_several_problems_lists_them_after_one_error_line(cli, project, pg_database):
    def break_it(raw: dict) -> None:
        production(raw, "catalog")["conect_timeout"] = 1
        production(raw, "monitor")["connect_timeout"] = -5

    edit_config(project, break_it)
    real = {"catalog": pg_database(), "monitor": pg_database()}
    env = {"CATALOG_DATABASE_URL": real["catalog"], "MONITOR_DATABASE_URL": real["monitor"]}

    for args in (("upgrade", "--all"), ("status", "--json"), ("downgrade", "catalog", "--to", "base")):
        lines = assert_usage_error(cli(*args, "-p", "production", env=env))
        assert lines[0] == "multidb: error: the config has 2 problems:"
        assert len(lines) == 3
        assert all(line.startswith("  ") for line in lines[1:])
        text = "\n".join(lines)
        assert "profiles.production.databases.catalog.conect_timeout" in text
        assert "did you mean 'connect_timeout'" in text
        assert "profiles.production.databases.monitor.connect_timeout" in text
    for url in real.values():
        assert tables(url) == set()


def test_wrong_type_in_local_config_is_one_line(cli, project):
    edit_config(project, lambda raw: raw["databases"]["catalog"].update(batch="sometimes"))
    lines = assert_usage_error(cli("upgrade", "--all"))
    assert len(lines) == 1
    assert "databases.catalog.batch" in lines[0]
    _no_local_databases(project)


@pytest.mark.postgresql
def test_unknown_database_name_is_one_line(cli, pg_database):
    real = {"catalog": pg_database(), "monitor": pg_database()}
    env = {"CATALOG_DATABASE_URL": real["catalog"], "MONITOR_DATABASE_URL": real["monitor"]}
    for args in (
        ("upgrade", "catalgo"),
        ("upgrade", "catalog", "nosuch"),
        ("downgrade", "catalgo", "--to", "base"),
        ("stamp", "monitr", "--to", "heads"),
        ("status", "catalgo"),
        ("history", "catalgo"),
        ("check", "catalgo"),
    ):
        result = cli(*args, "-p", "production", env=env)
        lines = assert_usage_error(result)
        assert len(lines) == 1, (args, result.stderr)
        assert "unknown database" in lines[0]
        assert "catalog, monitor" in lines[0]
    assert "did you mean 'catalog'" in cli("upgrade", "catalgo", "-p", "production", env=env).stderr
    for url in real.values():
        assert tables(url) == set()


def test_unknown_database_name_local_profile(cli, project):
    lines = assert_usage_error(cli("upgrade", "catalgo"))
    assert len(lines) == 1 and "unknown database 'catalgo'" in lines[0]
    _no_local_databases(project)


@pytest.mark.postgresql
def test_missing_environment_variable_is_one_line_and_changes_nothing(cli, pg_database):
    monitor = pg_database()
    env = {"MONITOR_DATABASE_URL": monitor}
    for args in (("upgrade", "--all"), ("upgrade", "monitor"), ("status",), ("list",), ("check",)):
        result = cli(*args, "-p", "production", env=env)
        lines = assert_usage_error(result)
        assert len(lines) == 1, (args, result.stderr)
        assert "CATALOG_DATABASE_URL" in lines[0] and "not set" in lines[0]
        assert "profiles.production.databases.catalog.url" in lines[0]
    assert tables(monitor) == set()


def test_missing_environment_variables_are_all_listed(cli, project):
    lines = assert_usage_error(cli("upgrade", "--all", "-p", "production"))
    assert lines[0] == "multidb: error: the config has 2 problems:"
    assert any("CATALOG_DATABASE_URL" in line for line in lines[1:])
    assert any("MONITOR_DATABASE_URL" in line for line in lines[1:])
    _no_local_databases(project)

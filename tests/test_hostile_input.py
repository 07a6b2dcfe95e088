"""Hostile config and command-line input: alias bombs, deep nesting, bad bytes, duplicate keys, empty
profile names, durations no server accepts, two entries sharing a version table, an unencoded ``@`` in
a password, and passwords in ``repr()`` or in a cache on disk.

Each input gets one line on stderr naming what is wrong and where, exit 2, no traceback. The inputs
that once hung run in a child process with a time limit, so a regression cannot hang the test run.
docs/bad-input.md lists them (section "Hostile input"), one row per test here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from multidb.config import load_config
from multidb.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SECRET = "S3cr3tTail99"

ONE = """
databases:
  catalog:
    url: sqlite:///catalog.db
    bases:
      - {label: catalog, path: catalog_versions}
"""


def write(folder: Path, text: str) -> Path:
    path = folder / "multidb.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def problems_of(path: Path, **kw) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=kw.pop("environ", {}), **kw)
    return "\n".join(info.value.lines())


def assert_one_line(result, *fragments: str, code: int = 2) -> str:
    """Exit ``code``; stderr is one ``multidb: error:`` line holding every fragment; no traceback."""
    stderr = result.stderr
    assert "Traceback" not in result.stdout + stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("multidb: error: "), line
    assert "unexpected" not in line, line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in: {line}"
    exit_code = getattr(result, "exit_code", getattr(result, "returncode", None))
    assert exit_code == code, f"exit {exit_code}: {line}"
    return line


def run_process(config: Path, *args: str, timeout: float = 30, env: dict | None = None):
    """``python -m multidb -c CONFIG ARGS`` in a child process; None when it did not end in time."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MULTIDB_")}
    clean.update(env or {})
    try:
        return subprocess.run(
            [sys.executable, "-m", "multidb", "-c", str(config), *args],
            cwd=config.parent,
            env=clean,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None


def _bomb(levels: int) -> str:
    """A flow list of nested anchors, each level ten aliases of the one before: 10**levels values."""
    parts = ["&a0 [" + ", ".join(["lol"] * 10) + "]"]
    for i in range(1, levels):
        parts.append(f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "[" + ", ".join(parts) + "]"


BOMB_PLACES = {
    "description": "profiles:\n  local:\n    description: {bomb}\n",
    "metadata": "defaults:\n  metadata: {bomb}\n",
    "fleet-names": "  tenants:\n    url: sqlite:///t.db\n    bases: [{{label: t, path: t_versions}}]\n"
    "    fleet: {{by: schema, names: {bomb}}}\n",
}


@pytest.mark.parametrize("where", list(BOMB_PLACES))
def test_alias_bomb_is_refused(tmp_path, where):
    config = write(tmp_path, ONE + BOMB_PLACES[where].format(bomb=_bomb(9)))
    done = run_process(config, "list", timeout=10)
    assert done is not None, "an alias bomb hangs the command"
    assert_one_line(done, str(config), "aliases")


def test_a_large_config_without_aliases_still_loads(tmp_path):
    names = ", ".join(f"t{i}" for i in range(5000))
    text = ONE + "  tenants:\n    url: 'sqlite:///t_{tenant}.db'\n    bases: [{label: t, path: t_versions}]\n"
    text += f"    fleet: {{by: database, names: [{names}]}}\n"
    (tmp_path / "catalog_versions").mkdir()
    (tmp_path / "t_versions").mkdir()
    assert len(load_config(write(tmp_path, text), environ={}).databases["tenants"].fleet.names) == 5000


def test_invalid_utf8_is_one_line(tmp_path):
    config = tmp_path / "multidb.yaml"
    config.write_bytes(ONE.lstrip().encode() + b"# caf\xe9\n")
    done = run_process(config, "list")
    assert_one_line(done, str(config), "UTF-8", "line 6")


@pytest.mark.parametrize("style", ["flow", "block"])
def test_deeply_nested_list_is_refused(tmp_path, style):
    depth = 10_000
    # flow: [[[...]]]; block: compact sequences, one inside the next (- - - x)
    nested = "[" * depth + "]" * depth if style == "flow" else "\n      " + "- " * depth + "x"
    config = write(tmp_path, ONE + "profiles:\n  local:\n    description: " + nested + "\n")
    done = run_process(config, "list", timeout=10)
    assert done is not None, "a deeply nested list hangs the command"
    assert_one_line(done, str(config), "nested more than")


def test_recursive_alias_is_refused(tmp_path):
    config = write(tmp_path, ONE + "profiles:\n  local:\n    description: &loop [1, *loop]\n")
    assert "refers to itself" in problems_of(config)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e12"])
def test_lock_timeout_option_must_be_a_finite_number(project, cli, value):
    line = assert_one_line(cli("upgrade", "--all", "--lock-timeout", value), "--lock-timeout")
    assert "2147483" in line or value == "-inf"
    assert not (project / "var" / "catalog.db").exists()


DUPLICATES = {
    "url": (
        ONE + "    url: sqlite:///elsewhere.db\n",
        "databases.catalog: duplicate key 'url' (lines 3 and 6)",
    ),
    "top": (ONE + "databases: {}\n", "duplicate key 'databases' (lines 1 and 6)"),
    "base": (
        ONE.replace("{label: catalog,", "{label: catalog, label: other,"),
        "databases.catalog.bases[0]: duplicate key 'label'",
    ),
    "profile": (
        ONE + "profiles:\n  prod: {}\n  prod: {description: x}\n",
        "profiles: duplicate key 'prod' (lines 7 and 8)",
    ),
}


@pytest.mark.parametrize("case", list(DUPLICATES))
def test_duplicate_key_is_refused(tmp_path, case):
    text, fragment = DUPLICATES[case]
    config = write(tmp_path, text)
    done = run_process(config, "list")
    assert_one_line(done, str(config), fragment)


def test_merge_keys_may_be_overridden(tmp_path):
    text = """
    defaults: &base {connect_timeout: 5}
    databases:
      catalog:
        <<: *base
        connect_timeout: 7
        url: sqlite:///catalog.db
        bases: [{label: catalog, path: catalog_versions}]
    """
    (tmp_path / "catalog_versions").mkdir()
    assert load_config(write(tmp_path, text), environ={}).databases["catalog"].connect_timeout == 7


PROFILES = ONE + "default_profile: local\nprofiles:\n  local: {}\n  production: {}\n"


@pytest.mark.parametrize("source", ["--profile", "MULTIDB_PROFILE"])
def test_empty_profile_name_is_refused(tmp_path, cli, source):
    config = write(tmp_path, PROFILES)
    (tmp_path / "catalog_versions").mkdir()
    if source == "--profile":
        result = cli("-c", str(config), "--profile", "", "list")
    else:
        result = cli("-c", str(config), "list", env={"MULTIDB_PROFILE": ""})
    assert_one_line(result, str(config), f"{source}: an empty profile name")


DURATIONS = {
    "lock_timeout": ("lock_timeout: 1000000h", "databases.catalog.lock_timeout"),
    "statement_timeout": ("statement_timeout: 25d", "databases.catalog.statement_timeout"),
    "migration_lock_timeout": ("migration_lock_timeout: 1e300", "databases.catalog.migration_lock_timeout"),
    "connect_timeout": ("connect_timeout: 1.0e+12", "databases.catalog.connect_timeout"),
    "infinite": ("lock_timeout: .inf", "databases.catalog.lock_timeout"),
    "infinite-string": ("lock_timeout: 1e400s", "databases.catalog.lock_timeout"),
}


@pytest.mark.parametrize("case", list(DURATIONS))
def test_duration_no_server_accepts_is_refused(tmp_path, case):
    setting, key = DURATIONS[case]
    if setting.startswith("statement_timeout: 25d"):
        setting = "statement_timeout: 600h"  # 25 days: above PostgreSQL's limit of about 24.8
    config = write(tmp_path, ONE + f"    {setting}\n")
    text = problems_of(config)
    assert f"{key}: " in text and "2147483" in text, text


def test_largest_duration_is_accepted(tmp_path):
    (tmp_path / "catalog_versions").mkdir()
    config = write(tmp_path, ONE + "    lock_timeout: 2147483\n    statement_timeout: 24h\n")
    assert load_config(config, environ={}).databases["catalog"].lock_timeout == 2147483


SHARED = """
databases:
  catalog:
    url: postgresql://app@db.example:5432/app
    bases: [{label: catalog, path: catalog_versions}]
  monitor:
    url: postgresql://app@DB.example/app
    bases: [{label: monitor, path: monitor_versions}]
    depends_on: [catalog]
"""


def test_two_entries_on_one_version_table_are_refused(tmp_path):
    text = problems_of(write(tmp_path, SHARED))
    assert "databases.monitor" in text and "'catalog'" in text and "alembic_version" in text, text


@pytest.mark.parametrize(
    "extra",
    [
        "    version_table: monitor_version\n",
        "    version_table_schema: monitor\n",
        "    fleet: {by: schema, names: [a, b]}\n",
    ],
    ids=["version-table", "version-schema", "schema-fleet"],
)
def test_entries_sharing_a_database_with_their_own_version_tables_load(tmp_path, extra):
    for folder in ("catalog_versions", "monitor_versions"):
        (tmp_path / folder).mkdir()
    project = load_config(write(tmp_path, SHARED + extra), environ={})
    assert set(project.databases) == {"catalog", "monitor"}


@pytest.mark.parametrize(
    ("source", "url"),
    [
        ("file", f"postgresql://app:pa@{SECRET}@db.example:5432/app"),
        ("environment", f"postgresql://app:pa@{SECRET}@db.example:5432/app"),
        ("file", f"mysql+pymysql://app:pa@{SECRET}/x@db.example/app"),  # the tail read as host and database
        ("file", f"postgresql://app:pa@{SECRET}?x=@db.example/app"),  # ... as host and query
    ],
    ids=["file", "environment", "slash", "question-mark"],
)
def test_unencoded_at_in_password_is_refused(tmp_path, source, url):
    text = ONE.replace("sqlite:///catalog.db", "'${CATALOG_URL}'" if source == "environment" else f"'{url}'")
    config = write(tmp_path, text)
    done = run_process(config, "list", env={"CATALOG_URL": url})
    line = assert_one_line(done, str(config), "databases.catalog.url", "%40")
    assert SECRET not in done.stdout + done.stderr and "pa@" not in line


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user@server:pw@db.example/app",  # an '@' in the user name (Azure's form) is read right
        "postgresql://app:pw@db.example/app%40two",  # an encoded '@'
        "sqlite:///mail@home.db",
    ],
)
def test_at_signs_that_are_not_in_a_password_load(tmp_path, url):
    (tmp_path / "catalog_versions").mkdir()
    project = load_config(write(tmp_path, ONE.replace("sqlite:///catalog.db", f"'{url}'")), environ={})
    assert project.databases["catalog"].masked_url.count("@") >= 1


def test_repr_and_str_mask_the_password(tmp_path):
    for folder in ("catalog_versions", "t_versions"):
        (tmp_path / folder).mkdir()
    url = f"postgresql://app:{SECRET}@db.example/catalog?sslpassword=Other{SECRET}"
    text = ONE.replace("sqlite:///catalog.db", f"'{url}'")
    text += "  tenants:\n    url: postgresql://x@h/unused\n    bases: [{label: t, path: t_versions}]\n"
    text += f"    fleet: {{by: url, names: ['postgresql://u:{SECRET}@h/t1'], query_url: null}}\n"
    text += "  listed:\n    url: postgresql://x@h/unused2\n    bases: [{label: l, path: catalog_versions/l}]\n"
    text += f"    fleet: {{by: schema, query: 'select 1', query_url: 'postgresql://u:{SECRET}@h/d'}}\n"
    (tmp_path / "catalog_versions" / "l").mkdir()
    project = load_config(write(tmp_path, text), environ={})
    from multidb.fleet import target

    tenants = project.databases["tenants"]
    shown = [project, project.databases["catalog"], tenants, tenants.fleet, project.databases["listed"].fleet]
    shown.append(target(tenants, tenants.fleet.names[0]))
    for thing in shown:
        for text in (repr(thing), str(thing)):
            assert SECRET not in text, text
    assert "app:***@db.example" in repr(project.databases["catalog"])


def test_no_parsed_config_is_written_to_disk(tmp_path):
    """The on-disk cache of parsed configs is gone: a config's password is never copied anywhere."""
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir()
    cache.mkdir()
    (tmp_path / "project" / "catalog_versions").mkdir(parents=True)
    # a '/' in the password (valid in a URL) slipped past the old cache's secret check
    url = f"postgresql://app:pass/{SECRET}@127.0.0.1:1/app"
    config = write(tmp_path / "project", ONE.replace("sqlite:///catalog.db", f"'{url}'"))
    done = run_process(config, "list", env={"HOME": str(home), "XDG_CACHE_HOME": str(cache)})
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    for folder in (home, cache):
        for path in folder.rglob("*"):
            assert not path.is_file() or SECRET.encode() not in path.read_bytes(), path
    assert not (ROOT / "multidb" / "parsed_cache.py").exists()


def test_every_hostile_row_of_bad_input_names_a_test_here():
    text = (ROOT / "docs" / "bad-input.md").read_text()
    section = text[text.index("## Hostile input") :].split("\n## ", 1)[0]
    named = re.findall(r"`(test_[a-z0-9_]+)`", section)
    assert named
    assert set(named) <= {name for name in globals() if name.startswith("test_")}

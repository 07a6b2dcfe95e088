"""Parsed configs cached by content (multidb.parsed_cache): a command with an unchanged config never imports PyYAML."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from multidb import parsed_cache
from multidb.config import load_config
from multidb.errors import ConfigError

CONFIG = """\
databases:
  app:
    url: sqlite:///app.db
    bases: [{label: app, path: versions}]
"""

YAML_LOADED = "import sys; from multidb.cli import run; import atexit; "
YAML_LOADED += "atexit.register(lambda: print('YAML', 'yaml' in sys.modules, file=sys.stderr)); run()"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(parsed_cache.CACHE_ENV, str(folder))
    return folder


def _project(root: Path, text: str = CONFIG) -> Path:
    (root / "versions").mkdir(exist_ok=True)
    config = root / "multidb.yaml"
    config.write_text(text)
    return config


def _yaml_imported(config: Path, env: dict[str, str]) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", YAML_LOADED, "-c", str(config), "list"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    assert "app" in done.stdout
    return "YAML True" in done.stderr


def test_second_command_does_not_import_yaml(tmp_path: Path, cache: Path) -> None:
    config = _project(tmp_path)
    env = {parsed_cache.CACHE_ENV: str(cache)}
    assert _yaml_imported(config, env) is True
    assert len(list(cache.glob("*.marshal"))) == 1
    assert _yaml_imported(config, env) is False


def test_a_changed_file_is_parsed_again(tmp_path: Path, cache: Path) -> None:
    config = _project(tmp_path)
    assert load_config(config).databases["app"].transaction == "per_revision"
    config.write_text(CONFIG + "    transaction: per_run\n")
    assert load_config(config).databases["app"].transaction == "per_run"
    config.write_text(CONFIG)
    assert load_config(config).databases["app"].transaction == "per_revision"
    assert len(list(cache.glob("*.marshal"))) == 2  # one entry per content


def test_empty_setting_turns_the_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parsed_cache.CACHE_ENV, "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    config = _project(tmp_path)
    assert _yaml_imported(config, {parsed_cache.CACHE_ENV: ""}) is True
    assert _yaml_imported(config, {parsed_cache.CACHE_ENV: ""}) is True
    assert not (tmp_path / "xdg").exists()


def test_default_folder_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(parsed_cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    load_config(_project(tmp_path))
    assert len(list((tmp_path / "xdg" / "multidb").glob("*.marshal"))) == 1


def test_unwritable_folder_is_passed_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv(parsed_cache.CACHE_ENV, str(blocker / "multidb"))
    assert load_config(_project(tmp_path)).databases["app"].name == "app"
    assert load_config(_project(tmp_path)).databases["app"].name == "app"


def test_corrupt_entry_is_parsed_again(tmp_path: Path, cache: Path) -> None:
    config = _project(tmp_path)
    load_config(config)
    (entry,) = cache.glob("*.marshal")
    entry.write_bytes(b"\x00garbage")
    assert load_config(config).databases["app"].bases[0].label == "app"


def test_wrong_kind_of_entry_is_ignored(cache: Path) -> None:
    data = b"a: 1\n"
    parsed_cache.parsed(data, lambda _: {"a": 1})
    (entry,) = cache.glob("*.marshal")
    entry.write_bytes(__import__("marshal").dumps(["not", "a", "mapping"]))
    assert parsed_cache.parsed(data, lambda _: {"a": 2}) == {"a": 2}


def test_errors_are_never_cached(tmp_path: Path, cache: Path) -> None:
    config = _project(tmp_path, "databases: [unclosed\n")
    for _ in range(2):
        with pytest.raises(ConfigError, match="malformed YAML"):
            load_config(config)
    assert not list(cache.glob("*.marshal"))


def test_only_plain_data_is_cached(cache: Path) -> None:
    import datetime

    value = {"when": datetime.date(2026, 12, 1)}
    calls = []

    def parse(_data: bytes) -> dict:
        calls.append(1)
        return value

    assert parsed_cache.parsed(b"when: 2026-12-01\n", parse) == value
    assert parsed_cache.parsed(b"when: 2026-12-01\n", parse) == value
    assert len(calls) == 2
    assert not list(cache.glob("*.marshal"))


def test_integer_keys_and_shared_anchors_survive(cache: Path) -> None:
    value = {1: "one", "shared": [1, 2], "again": None}
    value["again"] = value["shared"]
    assert parsed_cache.parsed(b"x", lambda _: value) == value
    assert parsed_cache.parsed(b"x", lambda _: pytest.fail("parsed twice")) == value


def test_folder_keeps_the_newest_entries(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parsed_cache, "KEEP", 3)
    for i in range(6):
        parsed_cache.parsed(f"n: {i}".encode(), lambda _, i=i: {"n": i})
    assert len(list(cache.glob("*.marshal"))) == 3
    assert parsed_cache.parsed(b"n: 5", lambda _: pytest.fail("the newest entry was removed")) == {"n": 5}


@pytest.mark.parametrize(
    ("url", "cached"),
    [
        ("postgresql://app:s3cret@db/app", False),
        ("postgresql://app@db/app?password=s3cret", False),
        ("postgresql://app:${DB_PASSWORD}@db/app", True),
        ("${CATALOG_DATABASE_URL}", True),
        ("postgresql://app@db/app", True),
    ],
)
def test_a_password_in_the_file_is_not_copied_into_the_cache(cache: Path, url: str, cached: bool) -> None:
    data = f'databases:\n  app:\n    url: "{url}"\n'.encode()
    parsed_cache.parsed(data, lambda _: {"databases": {"app": {"url": url}}})
    entries = list(cache.glob("*.marshal"))
    assert len(entries) == (1 if cached else 0)
    for entry in entries:
        assert entry.stat().st_mode & 0o077 == 0  # the owner's alone

"""Adding a database takes one step (issue 13, item 6).

``multidb revision NEWDB -m ...`` creates the configured version folder and labels the first revision of a
base with the base's configured label, so ``NEWDB@head`` works at once; a missing folder is reported at a
key path that exists in the YAML, also for a fleet entry and for bases set in a profile.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from assertions import assert_one_clean_error
from click.testing import CliRunner


def invoke(*args: str):
    from multidb.cli import main

    return CliRunner().invoke(main, ["-c", "multidb.yaml", *args], catch_exceptions=False)


def write_config(folder: Path, config: dict) -> None:
    (folder / "multidb.yaml").write_text(yaml.safe_dump(config))


def key_exists(config: dict, key: str) -> bool:
    """Whether a key path like ``databases.shops.bases[0].path`` names a value in ``config``."""
    node = config
    for part in key.replace("[", ".[").split("."):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(node, list) or index >= len(node):
                return False
            node = node[index]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False
    return True


def labels_of(path: Path) -> object:
    """The branch_labels a revision file declares."""
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace["branch_labels"]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_first_revision_of_a_new_database_creates_its_folder_and_carries_its_label(here: Path):
    write_config(
        here,
        {
            "databases": {
                "archive": {
                    "url": "sqlite:///var/archive.db",
                    "bases": [{"label": "archive", "path": "versions/archive"}],
                }
            }
        },
    )
    before = invoke("upgrade", "archive")  # what a new user meets first
    assert before.exit_code == 2
    assert_one_clean_error(before, "databases.archive.bases[0].path", "does not exist", "multidb revision archive")
    assert not (here / "versions").exists()

    first = invoke("revision", "archive", "-m", "first", "--json")
    assert first.exit_code == 0, first.output
    written = json.loads(first.stdout)[0]
    assert written["branch_labels"] == ["archive"] and written["down_revision"] == []
    assert labels_of(here / written["path"]) == ("archive",)

    second = invoke("revision", "archive", "-m", "second", "--json")  # a child: no label of its own
    assert json.loads(second.stdout)[0]["branch_labels"] == []
    up = invoke("upgrade", "archive", "--to", "archive@head", "--json")
    assert up.exit_code == 0, up.output
    assert json.loads(up.stdout)[0]["after"] == [json.loads(second.stdout)[0]["revision"]]


def test_an_explicit_branch_label_wins(here: Path):
    write_config(here, {"databases": {"new": {"url": "sqlite:///n.db", "bases": [{"label": "new", "path": "v"}]}}})
    result = invoke("revision", "new", "-m", "first", "--branch-label", "mine", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["branch_labels"] == ["mine"]


def test_each_base_of_a_new_database_gets_its_label(here: Path):
    bases = [{"label": "core", "path": "core_versions"}, {"label": "extra", "path": "extra_versions"}]
    write_config(here, {"databases": {"new": {"url": "sqlite:///n.db", "bases": bases}}})
    unclear = invoke("revision", "new", "-m", "first")
    assert unclear.exit_code == 2
    assert_one_clean_error(unclear, "new:", "--version-path core_versions or --version-path extra_versions")
    assert not list((here / "core_versions").iterdir()) and not list((here / "extra_versions").iterdir())

    core = invoke("revision", "new", "-m", "first", "--version-path", "core_versions", "--json")
    assert json.loads(core.stdout)[0]["branch_labels"] == ["core"]
    extra = invoke("revision", "new", "-m", "second", "--head", "base", "--json")  # the one empty base left
    assert extra.exit_code == 0, extra.output
    info = json.loads(extra.stdout)[0]
    assert info["branch_labels"] == ["extra"] and info["path"].startswith("extra_versions/")
    up = invoke("upgrade", "new", "--to", "extra@head", "--json")
    assert up.exit_code == 0, up.output
    assert json.loads(up.stdout)[0]["after"] == [info["revision"]]


@pytest.mark.parametrize(
    ("config", "key"),
    [
        (  # a fleet entry: the key is the entry's, not the target's ('databases.shops/acme' is in no YAML)
            {
                "databases": {
                    "shops": {
                        "url": "sqlite:///var/{tenant}.db",
                        "bases": [{"label": "shop", "path": "sv"}],
                        "fleet": {"by": "database", "names": ["acme", "globex"]},
                    }
                }
            },
            "databases.shops.bases[0].path",
        ),
        (  # bases set by the active profile
            {
                "default_profile": "local",
                "databases": {"shops": {"url": "sqlite:///s.db", "bases": [{"label": "shop", "path": "here"}]}},
                "profiles": {"local": {"databases": {"shops": {"bases": [{"label": "shop", "path": "sv"}]}}}},
            },
            "profiles.local.databases.shops.bases[0].path",
        ),
        (  # bases from defaults
            {
                "defaults": {"bases": [{"label": "shop", "path": "sv"}]},
                "databases": {"shops": {"url": "sqlite:///s.db"}},
            },
            "defaults.bases[0].path",
        ),
    ],
)
@pytest.mark.parametrize("command", [("upgrade", "--all"), ("status",), ("upgrade", "shops/acme")])
def test_a_missing_folder_is_named_where_the_yaml_sets_it(here: Path, config: dict, key: str, command):
    if "fleet" not in str(config) and "/" in command[-1]:
        command = ("upgrade", "shops")
    write_config(here, config)
    result = invoke(*command)
    assert result.exit_code == 2, result.output
    line = assert_one_clean_error(result, f"{key}: folder", "sv does not exist", "multidb revision shops -m")
    assert key_exists(config, key.removesuffix(".path")) and key_exists(config, key), line
    made = invoke("revision", "shops", "-m", "first", "--json")  # the way out the message names
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)[0]["branch_labels"] == ["shop"]
    assert invoke("upgrade", "--all").exit_code == 0


def test_bases_shared_through_defaults_are_reported_at_defaults(here: Path):
    """Two entries that take one folder from defaults.bases: the problem is where the YAML says it."""
    config = {
        "defaults": {"bases": [{"label": "shared", "path": "v"}]},
        "databases": {"a": {"url": "sqlite:///a.db"}, "b": {"url": "sqlite:///b.db"}},
    }
    write_config(here, config)
    result = invoke("status")
    assert result.exit_code == 2
    line = assert_one_clean_error(result, "defaults.bases[0].path: folder", "already claimed by database 'a'")
    assert "databases.b.bases" not in line and key_exists(config, "defaults.bases[0].path")

"""The versions CI tests are the versions pyproject.toml claims.

.ci/run runs the suite twice: on the newest releases, and with .ci/oldest.txt pinning every lower bound.
A lower bound raised in pyproject.toml but not in the pins (or the reverse) would be a claim nobody tests.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _lower_bounds() -> dict[str, Version]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    bounds = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?\s*>=\s*([0-9][^,;\s]*).*", requirement)
        assert match, f"{requirement!r} has no '>=' lower bound"
        bounds[match.group(1).lower()] = Version(match.group(2))
    return bounds


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / ".ci" / "oldest.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = Version(version.strip())
    return pins


def test_every_lower_bound_is_pinned_for_the_oldest_suite() -> None:
    assert _pins() == _lower_bounds()


def test_ci_runs_the_readme_test_command_on_both_version_sets() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "pip install -e '.[test]' && pytest" in readme
    assert "pip install -e '.[test]' && pytest" in script
    assert 'suite oldest "$oldest_venv" .ci/oldest.txt' in script
    assert 'suite newest "$newest_venv"' in script


def test_the_plugin_refuses_a_pytest_older_than_the_oldest_tested() -> None:
    from multidb.testing import plugin

    assert plugin._version("8.1.1") == (8, 1, 1)
    assert plugin._version("8.0.2") < plugin.OLDEST_PYTEST <= plugin._version("9.0.0rc1")
    assert plugin._version("8.1.1.dev3+g1234") == (8, 1, 1)
    assert _lower_bounds()["pytest"] == Version(".".join(map(str, plugin.OLDEST_PYTEST)))

"""The example project end to end on SQLite, through the CLI."""

from __future__ import annotations

import json

from example_project import CATALOG_REVS, upgraded


def test_upgrade_all_then_status_at_head_and_noop(cli):
    first = cli("upgrade", "--all")
    assert first.exit_code == 0, first.output
    assert upgraded(CATALOG_REVS) in first.stdout
    status = cli("status", "--all", "--json")
    assert status.exit_code == 0
    assert [s["state"] for s in json.loads(status.stdout)] == ["at head", "at head"]
    again = cli("upgrade", "--all")
    assert again.exit_code == 0
    assert again.stdout.count("no change") == 2

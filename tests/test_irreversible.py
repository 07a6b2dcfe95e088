"""Irreversible revisions: a downgrade() that raises multidb.Irreversible is a wall ``downgrade`` refuses
to cross, before anything changes (online and --sql). The plugin's side is in tests/test_plugin.py."""

from __future__ import annotations

import sqlite3
import types
from contextlib import closing
from pathlib import Path

from assertions import assert_one_clean_error, one_error_line

from multidb import Irreversible, irreversible

B004 = "c1a0f0a1b004"
B004_FILE = "catalog_versions/c1a0f0a1b004_seed_locations_backfill_checksum_algorithm.py"


def mark_irreversible(project: Path, file: str, statement: str) -> None:
    """Make ``statement`` the first line of the revision's downgrade()."""
    path = project / file
    text = path.read_text()
    assert "def downgrade() -> None:\n" in text
    path.write_text(text.replace("def downgrade() -> None:\n", f"def downgrade() -> None:\n    {statement}\n", 1))


def state(project: Path) -> tuple[list, list]:
    with closing(sqlite3.connect(project / "var" / "catalog.db")) as conn:
        versions = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        tables = conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
    return versions, tables


def test_downgrade_across_an_irreversible_revision_is_refused_naming_it_and_changes_nothing(cli, project):
    mark_irreversible(project, B004_FILE, 'raise Irreversible("the backfilled values cannot be told apart")')
    text = (project / B004_FILE).read_text()
    (project / B004_FILE).write_text("from multidb import Irreversible\n" + text)
    assert cli("upgrade", "--all").exit_code == 0
    before = state(project)

    result = cli("downgrade", "catalog", "--to", "base")
    assert result.exit_code == 1
    assert_one_clean_error(
        result,
        f"catalog: cannot downgrade past revision {B004} ({B004_FILE}): it is irreversible "
        f"(the backfilled values cannot be told apart); downgrade to {B004} at the lowest",
    )
    assert state(project) == before
    # a step that would cross it is refused the same way, and so is the SQL of such a downgrade
    assert cli("downgrade", "catalog", "--to", "c1a0f0a1b003").exit_code == 1
    sql = cli("downgrade", "catalog", "--sql", "--to", "heads:base")
    assert sql.exit_code == 1
    assert f"cannot downgrade past revision {B004}" in sql.stderr
    assert not (project / "sql").exists()
    assert state(project) == before

    down = cli("downgrade", "catalog", "--to", B004)  # up to the wall is fine
    assert down.exit_code == 0, down.output
    assert state(project)[0] == [(B004,)]


def test_the_mark_is_an_unconditional_raise_found_without_running_anything(tmp_path):
    def reason_of(body: str) -> str | None:
        # a revision file of its own per case (the mark is read from the file)
        return irreversible.reason(_from_file(tmp_path, body))

    assert reason_of('raise Irreversible("rows are deleted")') == "rows are deleted"
    assert reason_of("raise multidb.Irreversible") == "no reason given"
    assert reason_of("op.drop_table('t')") is None
    assert reason_of("if op.get_context().dialect.name == 'sqlite':\n        raise Irreversible('x')") is None


def _from_file(folder: Path, body: str) -> types.SimpleNamespace:
    import importlib.util

    path = folder / f"rev_{len(list(folder.iterdir()))}.py"
    path.write_text(f"import multidb\nfrom multidb import Irreversible\n\n\ndef downgrade():\n    {body}\n")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return types.SimpleNamespace(module=module, path=str(path))  # as an Alembic Script has


def test_a_downgrade_that_raises_it_anyway_fails_naming_the_revision(cli, project):
    # a conditional raise is no wall: when it runs, the revision fails like any other
    mark_irreversible(project, B004_FILE, "if True:\n        raise __import__('multidb').Irreversible('no way back')")
    assert cli("upgrade", "--all").exit_code == 0
    result = cli("downgrade", "catalog", "--to", "base")
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert "catalog: Irreversible: no way back" in line and B004_FILE in line


def test_irreversible_is_exported():
    import multidb

    assert "Irreversible" in multidb.__all__
    assert multidb.Irreversible is Irreversible and Irreversible.__module__ == "multidb"

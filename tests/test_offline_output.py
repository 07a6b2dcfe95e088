"""``--sql`` writes its set of files all or nothing.

Every file is written to a temporary file first; only when all are written are they renamed into place.
When one cannot be written (its folder is below a regular file) or cannot be renamed (a name too long for
the file system), no file of the set is left changed, no temporary file is left behind, and the error is
one line naming the path, exit 1. Tests run as root, where ``chmod`` stops nothing: the failures used here
stop root too.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from assertions import assert_one_clean_error

LONG = "x" * 250  # "<name>.sql" is 254 characters: fits; a name of 252 makes 256, over the usual 255


def add_databases(project: Path, **entries: dict) -> None:
    path = project / "config" / "multidb.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["databases"].update(entries)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


REVISION = '''"""one table

Revision ID: {rev}
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = None
branch_labels = ("{label}",)
depends_on = None


def upgrade():
    op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("things")
'''


def history(project: Path, label: str) -> dict:
    """A database entry of its own: a one-revision history in a folder of its own."""
    folder = project / f"{label}_versions"
    folder.mkdir()
    rev = f"{label}0001"
    (folder / f"{rev}_things.py").write_text(REVISION.format(rev=rev, label=label))
    return {"bases": [{"label": label, "path": f"../{label}_versions"}]}


def files_under(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_below_a_regular_file_writes_nothing(cli, project):
    """The fleet's files go to sql/tenants/, and sql/tenants is a regular file."""
    add_databases(
        project,
        tenants={
            "url": "sqlite:///../var/t/{tenant}.db",
            "fleet": {"by": "database", "names": ["a", "b"]},
            **history(project, "tenants"),
        },
    )
    out = project / "sql"
    out.mkdir()
    (out / "catalog.sql").write_text("-- the file of an earlier run\n")
    (out / "tenants").write_text("in the way\n")
    before = files_under(out)

    result = cli("upgrade", "--all", "--sql")
    assert result.exit_code == 1, result.output
    assert_one_clean_error(result, "cannot write sql/tenants/a.sql: sql/tenants is not a folder")
    assert files_under(out) == before  # catalog.sql untouched, no monitor.sql, no temporary file


def test_a_name_the_file_system_refuses_at_rename_time_writes_nothing(cli, project):
    """The temporary files have short names, so only the rename of the long one fails."""
    add_databases(project, **{LONG + "xx": {"url": "sqlite:///../var/long.db", **history(project, "long")}})
    out = project / "sql"
    out.mkdir()
    (out / "catalog.sql").write_text("-- the file of an earlier run\n")
    before = files_under(out)

    result = cli("upgrade", "--all", "--sql")
    assert result.exit_code == 1, result.output
    line = assert_one_clean_error(result, f"{LONG}xx.sql", "File name too long")
    assert line.startswith("multidb: error: cannot write sql/")
    assert files_under(out) == before


def test_a_long_name_that_fits_is_written(cli, project):
    add_databases(project, **{LONG: {"url": "sqlite:///../var/long.db", **history(project, "long")}})
    result = cli("upgrade", "--all", "--sql")
    assert result.exit_code == 0, result.output
    assert sorted(files_under(project / "sql")) == sorted(["catalog.sql", "monitor.sql", f"{LONG}.sql"])


def test_a_second_run_replaces_every_file(cli, project):
    out = project / "sql"
    out.mkdir()
    (out / "catalog.sql").write_text("-- old\n")
    assert cli("upgrade", "--all", "--sql").exit_code == 0
    written = files_under(out)
    assert sorted(written) == ["catalog.sql", "monitor.sql"]
    assert written["catalog.sql"].startswith("-- multidb: upgrade of database 'catalog'")

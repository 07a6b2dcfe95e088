"""Checksums of applied revisions (the ledger beside the version table), on SQLite, PostgreSQL and MariaDB.

Each test writes a small project with one database ``main`` and changes its revision files the way a
colleague would: an edit after the revision ran somewhere, or a deleted (squashed) revision.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from assertions import assert_one_clean_error
from click.testing import CliRunner, Result
from sqlalchemy.pool import NullPool

LEDGER = "alembic_version_ledger"
REVS = ["aa0000000001", "aa0000000002", "aa0000000003", "aa0000000004"]


def write_project(root: Path, url: str, count: int = 3) -> Path:
    """``main``: revision i creates table t{i} and drops it on downgrade."""
    versions = root / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        add_revision(root, i)
    config = root / "config"
    config.mkdir(exist_ok=True)
    (config / "multidb.yaml").write_text(
        f"databases:\n  main:\n    url: {url}\n    bases:\n      - label: main\n        path: ../versions\n"
    )
    return config / "multidb.yaml"


def add_revision(root: Path, i: int, down: str | None = None) -> Path:
    parent = down if down is not None else (REVS[i - 1] if i else None)
    path = root / "versions" / f"{REVS[i]}_step.py"
    path.write_text(
        textwrap.dedent(
            f"""\
            import sqlalchemy as sa
            from alembic import op

            revision = {REVS[i]!r}
            down_revision = {parent!r}
            branch_labels = {("main",) if i == 0 else None!r}
            depends_on = None


            def upgrade():
                op.create_table("t{i}", sa.Column("id", sa.Integer(), primary_key=True))


            def downgrade():
                op.drop_table("t{i}")
            """
        )
    )
    return path


def run(config: Path, *args: str) -> Result:
    from multidb.cli import main

    return CliRunner().invoke(main, ["-c", str(config), *args], catch_exceptions=False)


def ledger_rows(url: str) -> dict[str, tuple[str, str]]:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(LEDGER):
                return {}
            found = conn.execute(sa.text(f"SELECT revision, checksum, source FROM {LEDGER}"))
            return {r[0]: (r[1], r[2]) for r in found}
    finally:
        engine.dispose()


def drop_ledger(url: str) -> None:
    """As a database migrated before multidb kept a ledger (or by plain Alembic) has none."""
    engine = sa.create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {LEDGER}"))
    engine.dispose()


def versions(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return set(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql), "mariadb"])
def url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'main.db'}"
    if request.param == "postgresql":
        return request.getfixturevalue("pg_database")()
    return request.getfixturevalue("mariadb_database")()


def test_each_applied_revision_is_recorded_with_its_hash_and_downgrade_removes_it(tmp_path, url):
    from multidb.ledger import checksum

    config = write_project(tmp_path, url)
    assert run(config, "upgrade", "--all").exit_code == 0
    rows = ledger_rows(url)
    assert sorted(rows) == REVS[:3]
    first = tmp_path / "versions" / f"{REVS[0]}_step.py"
    assert rows[REVS[0]] == (checksum(first), "applied")
    assert run(config, "downgrade", "main", "--to", "-1").exit_code == 0
    assert sorted(ledger_rows(url)) == REVS[:2]
    result = run(config, "validate", "--all")
    assert result.exit_code == 0 and "ok" in result.stdout, result.output


def test_an_edited_revision_is_reported_and_blocks_upgrade_unless_allowed(tmp_path, url):
    config = write_project(tmp_path, url)
    assert run(config, "upgrade", "main", "--to", REVS[1]).exit_code == 0
    edited = tmp_path / "versions" / f"{REVS[0]}_step.py"
    edited.write_text(edited.read_text().replace('"t0"', '"t0_renamed"'))

    result = run(config, "validate", "main", "--json")
    assert result.exit_code == 1
    [item] = json.loads(result.stdout)
    [changed] = item["changed"]
    assert (changed["database"], changed["revision"], changed["problem"]) == ("main", REVS[0], "edited")
    assert changed["applied_at"][:2] == "20"  # a time, recorded by the server

    status = run(config, "status", "--all")
    assert f"revision {REVS[0]}" in status.stdout and "edited after it was applied" in status.stdout, status.output

    refused = run(config, "upgrade", "--all")
    assert refused.exit_code == 1
    assert_one_clean_error(refused, "main", REVS[0], "edited after it was applied", "--allow-edited")
    assert versions(url) == {REVS[1]}  # nothing changed
    assert sorted(ledger_rows(url)) == REVS[:2]

    allowed = run(config, "upgrade", "--all", "--allow-edited")
    assert allowed.exit_code == 0, allowed.output
    warnings = [line for line in allowed.stderr.splitlines() if line.startswith("multidb: warning:")]
    assert len(warnings) == 1 and REVS[0] in warnings[0] and "--allow-edited" in warnings[0], allowed.stderr
    assert versions(url) == {REVS[2]}


def test_a_deleted_revision_is_reported_and_blocks_upgrade(tmp_path, url):
    config = write_project(tmp_path, url)
    assert run(config, "upgrade", "--all").exit_code == 0
    # squash: the second revision's file goes, the third now follows the first; a fourth is pending
    (tmp_path / "versions" / f"{REVS[1]}_step.py").unlink()
    add_revision(tmp_path, 2, down=REVS[0])
    add_revision(tmp_path, 3)

    result = run(config, "validate", "main")
    assert result.exit_code == 1
    assert f"revision {REVS[1]} was deleted after it was applied" in result.stdout, result.output

    refused = run(config, "upgrade", "--all")
    assert refused.exit_code == 1
    assert_one_clean_error(refused, "main", REVS[1], "deleted")
    assert versions(url) == {REVS[2]}

    assert run(config, "upgrade", "--all", "--allow-edited").exit_code == 0
    assert versions(url) == {REVS[3]}


def sqlite_at_second_then_edited(tmp_path: Path, index: int) -> tuple[Path, str]:
    """A SQLite project upgraded to the second revision, then revision ``index``'s file edited (a comment)."""
    url = f"sqlite:///{tmp_path / 'main.db'}"
    config = write_project(tmp_path, url)
    assert run(config, "upgrade", "main", "--to", REVS[1]).exit_code == 0
    edited = tmp_path / "versions" / f"{REVS[index]}_step.py"
    edited.write_text(edited.read_text() + "\n# a comment\n")
    return config, url


def test_validate_accept_takes_the_files_as_they_are(tmp_path):
    config, _ = sqlite_at_second_then_edited(tmp_path, 0)
    accepted = run(config, "validate", "main", "--accept")
    assert accepted.exit_code == 0 and "accepted" in accepted.stdout, accepted.output
    assert run(config, "validate", "main").exit_code == 0
    assert run(config, "upgrade", "--all").exit_code == 0


def test_validate_accept_says_accepted_never_ok_for_what_it_just_recorded(tmp_path):
    config, url = sqlite_at_second_then_edited(tmp_path, 0)
    data = json.loads(run(config, "validate", "main", "--json").stdout)[0]
    assert data["state"] == "changed" and not data["accepted"]
    [item] = json.loads(run(config, "validate", "main", "--accept", "--json").stdout)
    assert item["state"] == "accepted" and item["accepted"] and [c["revision"] for c in item["changed"]] == [REVS[0]]
    again = json.loads(run(config, "validate", "main", "--accept", "--json").stdout)[0]
    assert again["state"] == "ok" and not again["accepted"]  # nothing left to accept

    # a database migrated before multidb kept a ledger: --accept records the applied revisions it has no row for
    drop_ledger(url)
    assert json.loads(run(config, "validate", "main", "--json").stdout)[0]["state"] == "unrecorded"
    accepted = run(config, "validate", "main", "--accept")
    assert accepted.exit_code == 0, accepted.output
    assert "ok" not in accepted.stdout, accepted.stdout
    recorded = "main: accepted: 2 applied revision(s) without a checksum recorded as they are now"
    assert accepted.stdout.startswith(recorded), accepted.stdout
    drop_ledger(url)
    [item] = json.loads(run(config, "validate", "main", "--accept", "--json").stdout)
    assert item["state"] == "accepted" and item["recorded"] == REVS[:2] and item["unrecorded"] == []
    assert run(config, "validate", "main").stdout == "main: ok: every applied revision matches its file\n"


def test_line_endings_do_not_count_as_an_edit(tmp_path):
    url = f"sqlite:///{tmp_path / 'main.db'}"
    config = write_project(tmp_path, url)
    assert run(config, "upgrade", "main", "--to", REVS[1]).exit_code == 0
    path = tmp_path / "versions" / f"{REVS[0]}_step.py"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))  # a checkout on Windows
    assert run(config, "validate", "main").exit_code == 0
    assert run(config, "upgrade", "--all").exit_code == 0


def test_a_database_from_before_the_ledger_adopts_its_revisions_without_false_alarms(tmp_path, url):
    config = write_project(tmp_path, url)
    assert run(config, "upgrade", "main", "--to", REVS[1]).exit_code == 0
    drop_ledger(url)  # as multidb left it before it kept a ledger
    edited = tmp_path / "versions" / f"{REVS[0]}_step.py"
    edited.write_text(edited.read_text() + "\n# edited before the ledger existed: cannot be known\n")

    assert run(config, "validate", "main").exit_code == 0  # no ledger: nothing to report
    result = run(config, "upgrade", "--all")
    assert result.exit_code == 0, result.output
    rows = ledger_rows(url)
    assert {rev: source for rev, (_, source) in rows.items()} == {
        REVS[0]: "adopted",
        REVS[1]: "adopted",
        REVS[2]: "applied",
    }
    assert run(config, "validate", "main").exit_code == 0


def test_stamp_keeps_the_ledger_to_the_stamped_revisions(tmp_path):
    url = f"sqlite:///{tmp_path / 'main.db'}"
    config = write_project(tmp_path, url)
    assert run(config, "upgrade", "main", "--to", REVS[0]).exit_code == 0
    assert run(config, "stamp", "main", "--to", REVS[2]).exit_code == 0
    assert {r: s for r, (_, s) in ledger_rows(url).items()} == {
        REVS[0]: "applied",
        REVS[1]: "stamped",
        REVS[2]: "stamped",
    }
    assert run(config, "stamp", "main", "--to", REVS[1]).exit_code == 0
    assert sorted(ledger_rows(url)) == REVS[:2]


def test_the_ledger_is_no_difference_for_check(project, cli):
    assert cli("upgrade", "--all").exit_code == 0
    result = cli("check", "--all")
    assert result.exit_code == 0, result.output
    assert LEDGER not in result.output


def test_offline_sql_records_each_revision_in_the_ledger(tmp_path):
    config = write_project(tmp_path, "postgresql://nobody@nohost:1/never")  # never connects
    result = run(config, "upgrade", "--all", "--sql", "--output-dir", str(tmp_path / "sql"))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "sql" / "main.sql").read_text()
    assert f"CREATE TABLE IF NOT EXISTS {LEDGER}" in text
    for rev in REVS[:3]:
        assert f"INSERT INTO {LEDGER} (revision, checksum, applied_at, source) VALUES ('{rev}'" in text
    # each insert sits in the transaction of its revision's version move
    last = text.rindex(f"INSERT INTO {LEDGER}")
    assert text.rindex("UPDATE alembic_version") < last < text.rindex("COMMIT")


def test_an_atomic_upgrade_is_refused_too_and_changes_nothing(tmp_path):
    config, url = sqlite_at_second_then_edited(tmp_path, 1)
    refused = run(config, "upgrade", "--all", "--atomic")
    assert refused.exit_code == 1
    assert_one_clean_error(refused, REVS[1], "edited after it was applied")
    assert versions(url) == {REVS[1]}
    assert run(config, "upgrade", "--all", "--atomic", "--allow-edited").exit_code == 0
    assert versions(url) == {REVS[2]}


def test_a_ledger_row_left_over_for_a_pending_revision_is_replaced_when_it_runs(tmp_path, url):
    """The ledger skips its DELETE for revisions it does not hold; a row left by hand (version table set back
    without the ledger) must still be replaced, not collide with the new one."""
    config = write_project(tmp_path, url)
    assert run(config, "upgrade", "--all").exit_code == 0
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:  # set the version back and drop t2 by hand, leaving t2's ledger row
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": REVS[1]})
            conn.execute(sa.text("DROP TABLE t2"))
            conn.execute(sa.text(f"UPDATE {LEDGER} SET source = 'stale' WHERE revision = :r"), {"r": REVS[2]})
    finally:
        engine.dispose()
    result = run(config, "upgrade", "--all", "--allow-edited")
    assert result.exit_code == 0, result.output
    assert versions(url) == {REVS[2]}
    rows = ledger_rows(url)
    assert sorted(rows) == REVS[:3] and rows[REVS[2]][1] == "applied"

"""multidb's footing on Alembic: every private Alembic/SQLAlchemy name it uses lives in multidb/alembic_private.py
and is exercised here (an Alembic release that changes one fails here first), the rest of the package uses
public API only, and Alembic's refusals reach the user with the next step."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from assertions import assert_one_clean_error
from conftest import ROOT

from multidb import alembic_private

CATALOG = [f"c1a0f0a1b00{i}" for i in range(1, 8)]


@pytest.fixture
def catalog(project: Path):
    from multidb.config import load_config
    from multidb.runner import load_history

    config = load_config(project / "config" / "multidb.yaml")
    db = config.databases["catalog"]
    return config, db, load_history(config, db)


# --- each private use, against the installed Alembic ---------------------------------------------------------


def test_upgrade_steps_are_alembics_revision_steps(catalog) -> None:
    _, _, script = catalog
    steps = alembic_private.upgrade_steps(script, "heads", ())
    assert [s.revision.revision for s in steps] == CATALOG  # .revision is the Script
    assert all(s.is_upgrade for s in steps)
    assert [s.revision.revision for s in alembic_private.upgrade_steps(script, "+2", (CATALOG[2],))] == CATALOG[3:5]


def test_downgrade_steps_are_alembics_revision_steps(catalog) -> None:
    _, _, script = catalog
    steps = alembic_private.downgrade_steps(script, "base", (CATALOG[-1],))
    assert [s.revision.revision for s in steps] == CATALOG[::-1]
    assert not any(s.is_upgrade for s in steps)
    assert [s.revision.revision for s in alembic_private.downgrade_steps(script, "-1", (CATALOG[-1],))] == [CATALOG[-1]]


def test_stamp_steps_are_alembics_stamp_steps(catalog) -> None:
    _, _, script = catalog
    (step,) = alembic_private.stamp_steps(script, (CATALOG[2],), ())
    assert step.to_revisions == (CATALOG[2],)


@pytest.mark.parametrize("target", ["head+1", "catalog-1"])
def test_alembic_still_asserts_on_a_walk_past_the_end(catalog, target: str) -> None:
    """The one AssertionError multidb turns into a usage error; if Alembic raises a RevisionError instead,
    alembic_private._target_asserts can go."""
    _, _, script = catalog
    with pytest.raises(AssertionError):
        script._upgrade_revs(target, (CATALOG[-1],))
    with pytest.raises(alembic_private.AlembicAssertion):
        alembic_private.upgrade_steps(script, target, (CATALOG[-1],))


@pytest.mark.parametrize("target", ["", "@", "catalog@", ",b", "head,"])
def test_targets_alembic_asserts_on_are_refused_before_it_sees_them(catalog, target: str) -> None:
    from multidb.runner import BadTarget, check_target

    _, _, script = catalog
    with pytest.raises(AssertionError):  # why check_target exists
        script._stamp_revs(tuple(target.split(",")), ())
    with pytest.raises(BadTarget):
        check_target(target)


def test_revision_context_writes_a_revision(catalog, project: Path) -> None:
    from multidb.alembic_config import alembic_config

    config, db, script = catalog
    args = {
        "message": "by hand",
        "autogenerate": False,
        "sql": False,
        "head": "head",
        "splice": False,
        "branch_label": None,
        "version_path": None,
        "rev_id": "feedface0001",
        "depends_on": None,
    }
    seen: list[str] = []
    context = alembic_private.revision_context(
        alembic_config(config, db), script, args, lambda _ctx, rev, directives: seen.append(rev)
    )
    assert isinstance(context.template_args, dict)
    assert callable(context.run_autogenerate)
    (written,) = [s for s in context.generate_scripts() if s is not None]
    assert written.revision == "feedface0001" and written.down_revision == CATALOG[-1]
    assert Path(written.path).parent == project / "catalog_versions"


def test_binary_type_is_the_base_of_every_binary_type() -> None:
    import sqlalchemy as sa
    from sqlalchemy.dialects import mysql, postgresql

    base = alembic_private.binary_type()
    for cls in (sa.LargeBinary, sa.BINARY, sa.VARBINARY, mysql.LONGBLOB, mysql.TINYBLOB, postgresql.BYTEA):
        assert issubclass(cls, base), cls
    assert not issubclass(sa.String, base)


# --- the public replacements agree with what Alembic computes privately ---------------------------------------

LABELLED = '''"""{rev}"""
revision = "{rev}"
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = {deps!r}


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
'''


def test_requires_matches_alembics_resolved_parents(tmp_path: Path) -> None:
    """phases.requires (public API) resolves depends_on labels as Alembic's private _all_down_revisions does."""
    from alembic.script import ScriptDirectory

    from multidb.alembic_config import TEMPLATES
    from multidb.phases import down_revisions, requires

    versions = tmp_path / "versions"
    versions.mkdir()
    for rev, down, labels, deps in [
        ("aaa1", None, ("other",), None),
        ("aaa2", "aaa1", None, None),
        ("bbb1", None, ("main",), "other"),
        ("bbb2", "bbb1", None, ("aaa2",)),
        ("ccc1", ("aaa2", "bbb2"), None, ("other", "bbb1")),
    ]:
        (versions / f"{rev}_x.py").write_text(LABELLED.format(rev=rev, down=down, labels=labels, deps=deps))
    script = ScriptDirectory(str(TEMPLATES), version_locations=[str(versions)])
    for rev in script.walk_revisions():
        assert set(requires(script, rev)) == set(rev._all_down_revisions), rev.revision
        assert down_revisions(rev) == tuple(rev._versioned_down_revisions), rev.revision
    assert requires(script, script.get_revision("bbb1")) == ("aaa1",)


def test_unknown_heads_wants_the_exact_id(catalog) -> None:
    from multidb.runner import unknown_heads

    _, _, script = catalog
    assert unknown_heads(script, (CATALOG[2],)) == []
    assert unknown_heads(script, ("c1a0f0a1b00",)) == ["c1a0f0a1b00"]  # a prefix of several
    assert unknown_heads(script, ("c1a0f0a1b0",)) == ["c1a0f0a1b0"]
    assert unknown_heads(script, ("deadbeef", CATALOG[0])) == ["deadbeef"]


# --- private names only in alembic_private.py ------------------------------------------------------------------

PACKAGE = ROOT / "multidb"
# private names used outside alembic_private.py that are not Alembic's or SQLAlchemy's
NOT_ALEMBIC: set[tuple[str, str]] = set()  # none: drivers' privates live in alembic_private.py too
# SQLAlchemy privates in files other helpers own; each has its alembic_private function ready
TO_MOVE: set[tuple[str, str]] = set()


# the interpreter's insides: reading another library's local variables or code objects (the stack, a
# traceback's frames, a function's __code__) ties multidb to that code as surely as a private name does
INTERNALS = {"f_locals", "f_globals", "f_back", "tb_frame", "tb_next", "__code__", "co_names", "_getframe"}


def _is_private(name: str) -> bool:
    return (name.startswith("_") and not name.startswith("__")) or name in INTERNALS


def _private_uses(path: Path, own: set[str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            own_object = isinstance(node.value, ast.Name) and node.value.id in own
            call = node.value.func if isinstance(node.value, ast.Call) else None
            parent_class = isinstance(call, ast.Name) and call.id == "super"
            if not (own_object or parent_class):  # super()._x: a multidb class's own parent
                found.append(ast.unparse(node))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("alembic", "sqlalchemy"):
            if "._" in f".{node.module}" or any(a.name.startswith("_") for a in node.names):
                found.append(ast.unparse(node))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) > 1:
            name = node.args[1]
            literal = str(name.value) if isinstance(name, ast.Constant) else ""
            if node.func.id in ("getattr", "hasattr", "setattr") and _is_private(literal):
                found.append(ast.unparse(node))
    return found


def test_private_alembic_and_sqlalchemy_names_only_in_alembic_private() -> None:
    own = {p.stem for p in PACKAGE.rglob("*.py")} | {"self", "cls"}  # multidb's own modules and objects
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        if where == "alembic_private.py":
            continue
        found |= {(where, use) for use in _private_uses(path, own)}
    assert found - NOT_ALEMBIC - TO_MOVE == set()


def test_the_scan_sees_private_uses() -> None:
    """The scan above is not vacuous: it finds what alembic_private.py does."""
    own = {p.stem for p in PACKAGE.rglob("*.py")} | {"self", "cls"}
    uses = _private_uses(PACKAGE / "alembic_private.py", own)
    assert {"script._upgrade_revs", "sqltypes._Binary", "frame.f_back"} <= set(uses)


# --- Alembic's refusals with the next step ---------------------------------------------------------------------


def test_upgrade_past_head_says_how_far_it_can_go(cli) -> None:
    assert cli("upgrade", "catalog").exit_code == 0
    result = cli("upgrade", "catalog", "--to", "+1")
    assert result.exit_code == 2, result.output
    assert_one_clean_error(result, "catalog:", "at head already")
    assert cli("downgrade", "catalog", "--to", "-3").exit_code == 0
    result = cli("upgrade", "catalog", "--to", "+9")
    assert result.exit_code == 2, result.output
    assert_one_clean_error(result, "3 revision(s) are pending", "--to +3")
    result = cli("downgrade", "catalog", "--to", "-9")
    assert result.exit_code == 2, result.output
    assert_one_clean_error(result, "4 revision(s) can be downgraded", "--to base")


def test_autogenerate_behind_head_says_to_upgrade_first(cli, project: Path) -> None:
    assert cli("upgrade", "catalog", "--to", CATALOG[2]).exit_code == 0
    before = sorted((project / "catalog_versions").iterdir())
    result = cli("revision", "catalog", "--autogenerate", "-m", "x")
    assert result.exit_code == 2, result.output
    assert_one_clean_error(result, "catalog:", "multidb upgrade catalog")
    assert sorted((project / "catalog_versions").iterdir()) == before


def _second_head(cli) -> str:
    result = cli("revision", "catalog", "-m", "side", "--head", CATALOG[5], "--splice", "--rev-id", "side0001")
    assert result.exit_code == 0, result.output
    return "side0001"


def test_several_heads_name_the_option_to_pick_one(cli) -> None:
    side = _second_head(cli)
    result = cli("upgrade", "catalog", "--to", "head")
    assert result.exit_code == 2, result.output
    assert_one_clean_error(result, "multiple heads", side, CATALOG[-1], "--to LABEL@head")
    result = cli("revision", "catalog", "-m", "x")
    assert result.exit_code == 2, result.output
    assert_one_clean_error(result, "multiple heads", "--head LABEL@head", "multidb merge catalog heads")


def test_downgrade_minus_one_from_several_heads_is_refused(cli, project: Path) -> None:
    side = _second_head(cli)
    assert cli("upgrade", "catalog", "--to", "heads").exit_code == 0
    result = cli("downgrade", "catalog", "--to", "-1")
    assert result.exit_code == 2, result.output
    assert_one_clean_error(result, "catalog:", "2 heads", side, CATALOG[-1], "@-1")
    current = cli("current", "catalog")
    assert side in current.output and CATALOG[-1] in current.output
    assert cli("downgrade", "catalog", "--to", f"{side}@-1").exit_code == 0

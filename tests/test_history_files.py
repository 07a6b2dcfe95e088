"""Version folders on disk: the history cache sees in-place edits; unreadable folders, symlink loops and
rev ids that would write elsewhere are one-line errors naming the path; Alembic's messages get a next step."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from assertions import assert_one_clean_error, one_error_line, servers_required
from conftest import EXAMPLE_PARTS, ROOT

# --- the history cache ------------------------------------------------------------------------------------------


def test_a_revision_file_edited_in_place_is_read_again(project: Path) -> None:
    from multidb.config import load_config
    from multidb.runner import load_history

    config = load_config(project / "config" / "multidb.yaml")
    db = config.databases["catalog"]
    folder = project / "catalog_versions"
    assert load_history(config, db).get_revision("c1a0f0a1b007").doc.startswith("contract")
    stat = folder.stat()
    path = next(folder.glob("c1a0f0a1b007_*.py"))
    text = path.read_text()
    path.write_text(text.replace('"""contract', '"""edited in place: contract', 1))
    os.utime(folder, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the folder looks untouched
    assert folder.stat().st_mtime_ns == stat.st_mtime_ns
    assert load_history(config, db).get_revision("c1a0f0a1b007").doc.startswith("edited in place")


def _same_size_edit_keeping_mtime(path: Path, old: str, new: str) -> None:
    """An edit of the same length whose file keeps its modification time, as ``cp -p``, ``rsync -t`` or a tar
    extraction of an edited checkout leave it (or two saves within one tick of the file system's clock)."""
    stat = path.stat()
    text = path.read_text()
    assert len(old) == len(new) and old in text
    path.write_text(text.replace(old, new, 1))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (path.stat().st_mtime_ns, path.stat().st_size) == (stat.st_mtime_ns, stat.st_size)


def test_a_same_size_edit_that_keeps_the_mtime_is_read_again(project: Path) -> None:
    """The caches of a long-lived process (the history, the ledger's checksums, irreversible reasons) are
    keyed on what the file system says changed: the inode's change time too, which no tool can set back."""
    from multidb import irreversible, ledger
    from multidb.config import load_config
    from multidb.runner import load_history

    config = load_config(project / "config" / "multidb.yaml")
    db = config.databases["catalog"]
    path = next((project / "catalog_versions").glob("c1a0f0a1b007_*.py"))
    script = load_history(config, db)
    assert script.get_revision("c1a0f0a1b007").doc.startswith("contract")
    before = ledger.checksum(path)
    reason_before = irreversible.reason(script.get_revision("c1a0f0a1b007"))
    _same_size_edit_keeping_mtime(path, '"""contract', '"""CONTRACT')
    # (Python's own bytecode cache has the same blind spot: a .pyc is checked against mtime and size only)
    shutil.rmtree(path.parent / "__pycache__", ignore_errors=True)
    script = load_history(config, db)
    assert script.get_revision("c1a0f0a1b007").doc.startswith("CONTRACT")
    assert ledger.checksum(path) != before
    assert irreversible.reason(script.get_revision("c1a0f0a1b007")) == reason_before  # read again, same answer


# --- folders that cannot be read -------------------------------------------------------------------------------


@pytest.fixture
def shared_project() -> Iterator[Path]:
    """A copy of the example project that an unprivileged user can read and write (tmp_path is root-only)."""
    top = Path(tempfile.mkdtemp(prefix="multidb-perm-"))
    os.chmod(top, 0o755)
    for part in EXAMPLE_PARTS:
        shutil.copytree(ROOT / part, top / part, ignore=shutil.ignore_patterns("__pycache__"))
    yield top
    subprocess.run(["chmod", "-R", "u+rwx", str(top)], check=False)
    shutil.rmtree(top, ignore_errors=True)


def _as_unprivileged(project: Path) -> tuple[list[str], dict[str, str]]:
    """(command prefix, env) running a process as 'nobody' when we are root (root reads any folder)."""
    if os.geteuid() != 0:
        return [], dict(os.environ)
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' user to run as")
    subprocess.run(["chown", "-R", f"{nobody.pw_uid}:{nobody.pw_gid}", str(project)], check=True)
    # a copy of the package 'nobody' can read, wherever this checkout lies (the venv itself must be readable)
    shutil.copytree(ROOT / "multidb", project / ".pkg" / "multidb", ignore=shutil.ignore_patterns("__pycache__"))
    pythonpath = os.pathsep.join([str(project / ".pkg"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env = {**os.environ, "HOME": str(project), "XDG_CACHE_HOME": str(project / ".cache"), "PYTHONPATH": pythonpath}
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) runs the CLI as an unprivileged user"
    prefix = [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import multidb.cli"], capture_output=True, env=env)
    if probe.returncode != 0:  # the virtual environment or the checkout is not readable by 'nobody'
        why = f"'nobody' cannot import multidb from {sys.executable}: {probe.stderr.decode().strip()[-300:]}"
        if servers_required():
            pytest.fail(why + " (.ci/run makes its virtual environments readable)")
        pytest.skip(why)
    return prefix, env


@pytest.mark.parametrize("mode", [0o000, 0o644], ids=["no-access", "listable-only"])
@pytest.mark.parametrize("command", [["upgrade", "--all"], ["status", "--check"], ["history", "monitor"]])
def test_an_unreadable_version_folder_is_an_error_in_every_command(
    shared_project: Path, command: list[str], mode: int
) -> None:
    prefix, env = _as_unprivileged(shared_project)
    folder = shared_project / "monitor_versions"
    os.chmod(folder, mode)
    if os.geteuid() != 0 and os.access(folder, os.R_OK | os.X_OK):
        pytest.skip("file permissions are not enforced here")
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "multidb", *command],
        cwd=shared_project / "config",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    result = SimpleNamespace(stdout=done.stdout, stderr=done.stderr, output=done.stdout + done.stderr)
    assert_one_clean_error(result, str(folder), "cannot be read", "permission denied")
    assert "no change" not in done.stdout and "at head" not in done.stdout


# --- symlink loops -----------------------------------------------------------------------------------------------


def test_a_version_folder_that_is_a_symlink_loop_is_one_line(cli, project: Path) -> None:
    folder = project / "monitor_versions"
    shutil.rmtree(folder)
    folder.symlink_to(folder.name)  # ln -s monitor_versions monitor_versions
    for command in (["history", "monitor"], ["status"], ["upgrade", "--all"]):
        result = cli(*command)
        assert result.exit_code == 2, result.output
        assert_one_clean_error(result, str(folder), "symlink loop")


def test_a_symlink_loop_inside_a_version_folder_is_one_line(cli, project: Path) -> None:
    loop = project / "monitor_versions" / "loop.py"
    loop.symlink_to(loop.name)
    result = cli("history", "monitor")
    assert result.exit_code == 1, result.output
    assert_one_clean_error(result, "monitor:", str(loop), "symlink loop")


# --- rev ids -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rev_id", ["../../x", "a/b", "x.y", "", "-x", "a b", "é"])
@pytest.mark.parametrize("command", ["revision", "merge"])
def test_a_rev_id_that_is_not_a_plain_token_is_refused(cli, project: Path, rev_id: str, command: str) -> None:
    before = sorted(str(p) for p in project.rglob("*"))
    if command == "revision":
        result = cli("revision", "catalog", "--rev-id", rev_id, "-m", "m")
    else:
        result = cli("merge", "catalog", "heads", "--rev-id", rev_id, "-m", "m")
    assert result.exit_code == 2, result.output
    assert_one_clean_error(result, "--rev-id", "letters, digits")
    assert sorted(str(p) for p in project.rglob("*")) == before


def test_a_plain_rev_id_is_used(cli, project: Path) -> None:
    result = cli("revision", "catalog", "--rev-id", "Abc_123", "-m", "m")
    assert result.exit_code == 0, result.output
    assert list((project / "catalog_versions").glob("Abc_123_*.py"))


# --- the SQLite lock file ----------------------------------------------------------------------------------------


def test_a_folder_where_the_sqlite_lock_file_cannot_be_created_is_one_line(shared_project: Path) -> None:
    """The runner may write the database files but not create files beside them (a read-only folder):
    the lock file it cannot create is named in one line, exit 1, and nothing changes."""
    config = shared_project / "config"
    first = subprocess.run([sys.executable, "-m", "multidb", "upgrade", "--all"], cwd=config, capture_output=True)
    assert first.returncode == 0, first.stderr
    prefix, env = _as_unprivileged(shared_project)
    var = shared_project / "var"
    for lock in var.glob("*.multidb-lock"):
        lock.unlink()
    os.chown(var, 0, 0)  # the folder stays root's: nobody may not create files in it
    os.chmod(var, 0o755)
    for db in var.glob("*.db"):
        os.chmod(db, 0o666)
    if os.geteuid() != 0 and os.access(var, os.W_OK):
        pytest.skip("file permissions are not enforced here")
    before = {p.name: p.read_bytes() for p in var.glob("*.db")}
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "multidb", "downgrade", "catalog", "--to", "-1"],
        cwd=config,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    line = one_error_line(done.stderr)  # after the result table, like every failed run
    for fragment in ("catalog", str(var / "catalog.db.multidb-lock"), "permission denied"):
        assert fragment in line, line
    assert "Traceback" not in done.stderr and "unexpected" not in done.stderr
    assert {p.name: p.read_bytes() for p in var.glob("*.db")} == before


def test_without_fcntl_the_sqlite_lock_is_refused_in_one_line(shared_project: Path) -> None:
    """File locks are POSIX-only: a Python without fcntl (Windows) gets one line, exit 2, nothing changed."""
    code = "import sys; sys.modules['fcntl'] = None; from multidb.cli import run; sys.argv[0] = 'multidb'; run()"
    done = subprocess.run(
        [sys.executable, "-c", code, "upgrade", "--all"],
        cwd=shared_project / "config",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    line = one_error_line(done.stderr)
    assert "catalog" in line and "POSIX" in line and "fcntl" in line, line
    assert "Traceback" not in done.stderr
    assert all(db.stat().st_size == 0 for db in (shared_project / "var").glob("*.db"))  # nothing written

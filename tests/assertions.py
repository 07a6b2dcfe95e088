"""What the tests expect of multidb's output, and of the machine they run on."""

from __future__ import annotations

import os

ERROR = "multidb: error: "


def servers_required() -> bool:
    """In CI (or with MULTIDB_REQUIRE_SERVERS=1) a missing server or tool fails a test instead of skipping it."""
    return bool(os.environ.get("CI") or os.environ.get("MULTIDB_REQUIRE_SERVERS"))


def error_lines(stderr: str) -> list[str]:
    """The ``multidb: error:`` lines of a command's stderr."""
    return [line for line in stderr.splitlines() if line.startswith(ERROR.rstrip())]


def one_error_line(stderr: str) -> str:
    """The single ``multidb: error:`` line a failed command prints (the whole stderr on a mismatch)."""
    found = error_lines(stderr)
    assert len(found) == 1, stderr
    return found[0]


def assert_one_clean_error(result, *fragments: str, nothing_else: bool = False) -> str:
    """stderr is exactly one ``multidb: error:`` line holding every fragment, with no traceback.

    ``nothing_else``: stdout is empty too (the error is all the command printed).
    """
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(ERROR), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in: {lines[0]}"
    assert "Traceback" not in result.output
    if nothing_else:
        assert not result.stdout.strip(), result.output
    return lines[0]

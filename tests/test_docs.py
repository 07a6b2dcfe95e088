"""The documentation's examples stay true: every Python block parses, the runnable ones run and print
what the page says they print, and the example revisions the guides quote are the ones in the repository.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def python_blocks() -> list[tuple[str, str]]:
    found = []
    for page in DOCS:
        text = page.read_text()
        for match in BLOCK.finditer(text):
            line = text[: match.start()].count("\n") + 1
            found.append((f"{page.name}:{line}", match.group(1)))
    return found


@pytest.mark.parametrize(("where", "code"), python_blocks(), ids=[w for w, _ in python_blocks()])
def test_every_python_block_parses(where, code):
    compile(code, where, "exec")


def test_the_runnable_tour_prints_what_the_guide_says():
    text = (ROOT / "docs" / "data-migrations.md").read_text()
    tour = text[text.index("A runnable tour") :]
    code = BLOCK.search(tour).group(1)
    promised = re.search(r"^\s*# (.+)$", code.strip().splitlines()[-1]).group(1)
    out = io.StringIO()
    namespace: dict = {}
    with contextlib.redirect_stdout(out):
        exec(compile(code, "data-migrations.md (tour)", "exec"), namespace)
    namespace["engine"].dispose()  # its in-memory SQLite connection (Python 3.13 warns about one left open)
    assert out.getvalue().strip() == promised


@pytest.mark.parametrize(
    ("page", "path"),
    [
        ("data-migrations.md", "catalog_versions/c1a0f0a1b004_seed_locations_backfill_checksum_algorithm.py"),
        ("data-migrations.md", "catalog_versions/c1a0f0a1b005_expand_add_locations_medium.py"),
        ("data-migrations.md", "catalog_versions/c1a0f0a1b006_migrate_copy_locations_kind_into_medium.py"),
        ("data-migrations.md", "catalog_versions/c1a0f0a1b007_contract_drop_locations_kind.py"),
    ],
)
def test_the_revisions_a_guide_names_exist(page, path):
    assert path in (ROOT / "docs" / page).read_text()
    assert (ROOT / path).is_file()


def test_every_row_of_bad_input_names_a_test_that_exists():
    """docs/bad-input.md is a table of what users get; each row names the test that keeps it true."""
    import re

    defined = set()
    for path in (ROOT / "tests").rglob("*.py"):
        defined |= set(re.findall(r"^(?:async )?def (test_[A-Za-z0-9_]+)", path.read_text(), re.M))
    rows = [line for line in (ROOT / "docs" / "bad-input.md").read_text().splitlines() if line.startswith("| ")]
    rows = [r for r in rows if not r.startswith(("| bad input", "| ---", "| what ")) and r.count("|") > 3]
    assert len(rows) > 50
    missing = {}
    for row in rows:
        last = row.rstrip().rstrip("|").rsplit("|", 1)[-1]
        named = re.findall(r"(test_[A-Za-z0-9_]+)(?![A-Za-z0-9_]|\.py)", last)
        unknown = [name for name in named if name not in defined]
        if not named or unknown:
            missing[row[:80]] = unknown or "no test named"
    assert not missing, missing

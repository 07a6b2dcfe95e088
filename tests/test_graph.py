"""``multidb graph``: the page is opened in a real headless Chromium (Debian's package), and the DOM the browser
built is checked: every revision is an SVG node with the classes its marks need, every database and fleet
target stands where it is, and user text stays text.

Without /usr/bin/chromium (or chromium on PATH) these tests skip on a laptop, but fail in CI (.ci/run installs it).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from assertions import assert_one_clean_error, servers_required

CATALOG = [f"c1a0f0a1b00{i}" for i in range(1, 8)]
MONITOR = [f"e2b0f0a1d00{i}" for i in range(1, 7)]


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        if servers_required():
            pytest.fail("chromium is required in CI (apt-get install chromium) but is not installed")
        pytest.skip("no chromium: apt-get install chromium")
    return found


def browser(chromium: str, page: Path, *args: str) -> str:
    """Run headless Chromium on ``page`` (no sandbox: CI runs as root) and return its stdout."""
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={page.parent / 'chromium-profile'}",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Elements(HTMLParser):
    """Every element of a DOM dump: (tag, attributes, the text directly inside it)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str], list[str]]] = []
        self.open: list[int] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, {k: v or "" for k, v in attrs}, []))
        self.open.append(len(self.found) - 1)

    def handle_endtag(self, tag):
        while self.open:
            if self.found[self.open.pop()][0] == tag:
                break

    def handle_data(self, data):
        if self.open:
            self.found[self.open[-1]][2].append(data)


def dom(chromium: str, page: Path) -> list[tuple[str, dict[str, str], list[str]]]:
    parser = Elements()
    parser.feed(browser(chromium, page, "--dump-dom"))
    return parser.found


def rendered_revisions(elements, database: str) -> dict[str, set[str]]:
    """revision -> its node's classes, in the section of ``database``, from the DOM the browser built."""
    found, inside = {}, None
    for tag, attrs, _ in elements:
        if tag == "section":
            inside = attrs.get("data-database")
        classes = set(attrs.get("class", "").split())
        if tag == "g" and "rev" in classes and inside == database:
            found[attrs["data-revision"]] = classes
    return found


def marks(elements) -> dict[str, str]:
    """The 'where it stands' marks: revision of the node they are in -> their text."""
    found, current = {}, None
    for tag, attrs, texts in elements:
        if tag == "g" and "data-revision" in attrs:
            current = attrs["data-revision"]
        if tag == "text" and "here" in attrs.get("class", ""):
            found[current] = "".join(texts).strip()
    return found


def test_the_example_project_graph_opens_in_chromium_with_every_revision_and_where_each_database_stands(
    project, cli, chromium
):
    assert cli("upgrade", "catalog", "--to", "c1a0f0a1b004").exit_code == 0
    assert cli("upgrade", "monitor", "--phase", "expand").exit_code == 0
    result = cli("graph", "--all", "--html", "out.html", "--svg", "out.svg")
    assert result.exit_code == 0, result.output
    page = project / "out.html"
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text and "src=" not in text and "href=" not in text  # nothing to fetch or run
    assert {u for u in text.split('"') if u.startswith("http")} == {"http://www.w3.org/2000/svg"}

    elements = dom(chromium, page)
    catalog, monitor = rendered_revisions(elements, "catalog"), rendered_revisions(elements, "monitor")
    assert list(catalog) == CATALOG and list(monitor) == MONITOR
    assert "base" in catalog["c1a0f0a1b001"] and "head" in catalog["c1a0f0a1b007"]
    assert {"applied", "current"} <= catalog["c1a0f0a1b004"]
    assert "expand" in catalog["c1a0f0a1b005"] and "pending" in catalog["c1a0f0a1b005"]
    assert {"contract", "held"} <= catalog["c1a0f0a1b007"]
    assert {"expand", "applied"} <= monitor["e2b0f0a1d004"] and "current" in monitor["e2b0f0a1d005"]
    assert {"contract", "held"} <= monitor["e2b0f0a1d006"]
    assert marks(elements) == {"c1a0f0a1b004": "catalog ▶", "e2b0f0a1d005": "monitor ▶"}
    labels = [texts for tag, attrs, texts in elements if attrs.get("class") == "tag-text"]
    assert ["catalog"] in labels and ["monitor"] in labels
    summaries = ["".join(t) for tag, attrs, t in elements if attrs.get("class") == "summary"]
    assert summaries == [
        "catalog: behind, 3 pending (1 wait for the contract phase)",
        "monitor: expanded, 1 pending (1 wait for the contract phase)",
    ]

    svg = project / "out.svg"
    svg_elements = dom(chromium, svg)  # the standalone SVG file is a document of its own
    assert [a["data-revision"] for t, a, _ in svg_elements if t == "g" and "rev" in a.get("class", "")] == [
        *CATALOG,
        *MONITOR,
    ]

    shot = project / "shot.png"
    browser(chromium, page, f"--screenshot={shot}", "--window-size=1100,900")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def fleet_config(project: Path, tenants: list[str]) -> None:
    databases = {
        "shops": {
            "url": "sqlite:///../var/shops/{tenant}.db",
            "bases": [{"label": "catalog", "path": "../catalog_versions"}],
            "fleet": {"by": "database", "names": tenants},
        }
    }
    text = yaml.safe_dump({"python_path": [".."], "databases": databases}, sort_keys=False)
    (project / "config" / "multidb.yaml").write_text(text)


def test_a_fleet_of_fifty_sqlite_targets_at_mixed_revisions_is_summarised_and_unreadable_targets_are_unknown(
    project, cli, chromium
):
    tenants = [f"t{i:02d}" for i in range(50)]
    fleet_config(project, tenants)
    groups = {"heads": tenants[:20], "c1a0f0a1b002": tenants[20:32], "c1a0f0a1b006": tenants[32:44]}
    for target, names in groups.items():
        result = cli("upgrade", *(f"shops/{n}" for n in names), "--to", target)
        assert result.exit_code == 0, result.output
    broken = tenants[44:47]  # t47..t49 stay empty
    for name in broken:
        (project / "var" / "shops" / f"{name}.db").write_bytes(b"this is not a database file" * 100)

    result = cli("graph", "shops", "--html", "fleet.html", "--svg", "fleet.svg", "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == "multidb: warning: shops: 3 of 50 targets unknown (see the summary)"
    data = json.loads(result.stdout)
    summary = data[0]["summary"]
    assert summary["targets"] == 50
    assert summary["at_revision"] == {"c1a0f0a1b002": 12, "c1a0f0a1b006": 12, "c1a0f0a1b007": 20}
    assert summary["states"] == {"at head": 20, "behind": 12, "expanded": 12, "unknown": 3, "empty": 3}
    assert sorted(summary["failed"]) == [f"shops/{n}" for n in broken]

    elements = dom(chromium, project / "fleet.html")
    assert list(rendered_revisions(elements, "shops")) == CATALOG
    assert marks(elements) == {
        "c1a0f0a1b002": "12 targets ▶",
        "c1a0f0a1b006": "12 targets ▶",
        "c1a0f0a1b007": "20 targets ▶",
    }
    cells = [("".join(t)) for tag, attrs, t in elements if tag == "td"]
    assert cells[:6] == ["c1a0f0a1b002", "12", "c1a0f0a1b006", "12", "c1a0f0a1b007", "20"]
    failed_rows = [attrs for tag, attrs, _ in elements if tag == "tr" and attrs.get("class") == "unknown"]
    assert len(failed_rows) == 3
    for name in broken:
        assert f"shops/{name}" in cells
    summaries = ["".join(t) for tag, attrs, t in elements if attrs.get("class") == "summary"]
    assert summaries == ["50 targets: 20 at head, 12 behind, 12 expanded, 3 failed, 3 empty"]  # the rest: tables

    svg = Elements()
    svg.feed((project / "fleet.svg").read_text(encoding="utf-8"))  # no tables there: every line under the graph
    lines = ["".join(t) for tag, attrs, t in svg.found if attrs.get("class") == "summary"]
    assert lines[:2] == [summaries[0], "at c1a0f0a1b002: 12, c1a0f0a1b006: 12, c1a0f0a1b007: 20"]
    assert [line.split(":")[0] for line in lines[2:]] == [f"failed shops/{n}" for n in broken]


REVISION = '''"""{message}"""
revision = {rev!r}
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = {deps!r}
{phase}

def upgrade():
    pass


def downgrade():
    pass
'''

HOSTILE = '</text></svg><script>alert("x")</script> & <b>bold</b>'


def branchy_project(project: Path) -> None:
    """Two bases in one database: a branch and a merge in one, a depends_on from the other into it; and a
    database on a server that is not there."""
    folders = {"app": project / "app_versions", "audit": project / "audit_versions"}
    revisions = [
        ("app", "a1", None, ("app",), None, "", "app base"),
        ("app", "a2", "a1", None, None, "", "app two"),
        ("app", "a3x", "a2", None, None, 'phase = "expand"', "left branch"),
        ("app", "a3y", "a2", None, None, "", HOSTILE),
        ("app", "a4", ("a3x", "a3y"), None, None, "", "merge"),
        ("app", "a5", "a4", None, None, 'phase = "contract"', "contract step"),
        ("audit", "b1", None, ("audit",), None, "", "audit base"),
        ("audit", "b2", "b1", None, "a2", "", "needs a2"),
    ]
    for folder in folders.values():
        folder.mkdir()
    for base, rev, down, labels, deps, phase, message in revisions:
        text = REVISION.format(
            message=message.replace('"', "'"), rev=rev, down=down, labels=labels, deps=deps, phase=phase
        )
        (folders[base] / f"{rev}.py").write_text(text)
    bases = [{"label": label, "path": f"../{label}_versions"} for label in folders]
    databases = {
        "app": {"url": "sqlite:///../var/app.db", "bases": bases},
        "lost": {
            "url": "postgresql://someone:s3cr3t-pw@127.0.0.1:1/nowhere",
            "bases": [{"label": "monitor", "path": "../monitor_versions"}],
        },
    }
    text = yaml.safe_dump({"databases": databases}, sort_keys=False)
    (project / "config" / "multidb.yaml").write_text(text)


def test_branches_merges_depends_on_and_hostile_messages_render_and_an_unreachable_database_is_unknown(
    project, cli, chromium
):
    branchy_project(project)
    assert cli("upgrade", "app", "--to", "a3y").exit_code == 0
    result = cli("graph", "--html", "g.html", "--svg", "g.svg")
    assert result.exit_code == 0, result.output
    import xml.etree.ElementTree as ET

    svg = ET.parse(project / "g.svg").getroot()  # well-formed XML, the hostile message included
    found = [e.text for e in svg.iter("{http://www.w3.org/2000/svg}text") if e.get("class") == "message"]
    assert HOSTILE.replace('"', "'") in found
    assert result.stderr.startswith("multidb: warning: lost: unknown: ")
    page = (project / "g.html").read_text()
    assert "s3cr3t-pw" not in page + result.output
    elements = dom(chromium, project / "g.html")

    assert not [tag for tag, _, _ in elements if tag in ("script", "b")]  # the message stayed text
    messages = ["".join(t) for tag, attrs, t in elements if attrs.get("class") == "message"]
    assert HOSTILE.replace('"', "'") in messages

    app = rendered_revisions(elements, "app")
    assert set(app) == {"a1", "a2", "a3x", "a3y", "a4", "a5", "b1", "b2"}
    assert "merge" in app["a4"] and "branchpoint" in app["a2"] and "base" in app["b1"]
    assert "expand" in app["a3x"] and "contract" in app["a5"]
    assert {"current", "applied"} <= app["a3y"] and "pending" in app["a3x"]
    depends = [(a["data-from"], a["data-to"]) for t, a, _ in elements if a.get("class") == "depends"]
    assert depends == [("a2", "b2")]
    edges = {(a["data-from"], a["data-to"]) for t, a, _ in elements if a.get("class") == "edge"}
    assert {("a2", "a3x"), ("a2", "a3y"), ("a3x", "a4"), ("a3y", "a4"), ("b1", "b2")} <= edges

    # the two sides of the branch are in different columns; every revision is on a row of its own
    centres: dict[str, tuple[float, float]] = {}
    current = None
    for tag, attrs, _ in elements:
        if tag == "section" and attrs.get("data-database") != "app":
            break
        if tag == "g" and "data-revision" in attrs:
            current = attrs["data-revision"]
        if tag == "circle" and attrs.get("class") == "shape" and current:
            centres[current] = (float(attrs["cx"]), float(attrs["cy"]))
    assert centres["a3x"][0] != centres["a3y"][0]
    rows = [y for t, a, _ in elements for y in [a.get("y")] if a.get("class") == "id"]
    assert len(rows[:8]) == len(set(rows[:8]))

    lost = rendered_revisions(elements, "lost")
    assert list(lost) == MONITOR and not any({"applied", "pending", "current"} & c for c in lost.values())
    summaries = ["".join(t) for tag, attrs, t in elements if attrs.get("class") == "summary"]
    assert summaries[1].startswith("lost: unknown: ") and "s3cr3t-pw" not in summaries[1]


def test_graph_needs_somewhere_to_write(cli):
    result = cli("graph", "--all")
    assert result.exit_code == 2
    assert_one_clean_error(result, "--html FILE, --svg FILE or --json", nothing_else=True)


def test_graph_to_a_file_that_cannot_be_written_is_one_error(project, cli):
    result = cli("graph", "--all", "--html", str(project / "no" / "such" / "folder" / "g.html"))
    assert result.exit_code == 1
    assert_one_clean_error(result, "cannot write", "g.html")


def test_a_fleet_whose_targets_cannot_be_listed_is_drawn_with_its_targets_unknown(project, cli):
    fleet_config(project, ["a"])
    config = project / "config" / "multidb.yaml"
    raw = yaml.safe_load(config.read_text())
    raw["databases"]["shops"]["fleet"] = {"by": "database", "command": "false"}
    config.write_text(yaml.safe_dump(raw))
    result = cli("graph", "--json")
    assert result.exit_code == 0, result.output
    [drawn] = json.loads(result.stdout)
    assert drawn["positions"] == [] and "the fleet command exited 1" in drawn["error"]
    assert [n["revision"] for n in drawn["nodes"]] == CATALOG
    assert result.stderr.startswith("multidb: warning: shops: targets unknown: ")


def test_a_database_file_that_does_not_exist_is_not_created(project, cli):
    result = cli("graph", "--all", "--json")
    assert result.exit_code == 0, result.output
    assert [p["state"] for g in json.loads(result.stdout) for p in g["positions"]] == ["empty", "empty"]
    assert not (project / "var" / "catalog.db").exists()
    with pytest.raises(sqlite3.OperationalError):  # (the folder is not there either)
        sqlite3.connect(f"file:{project / 'var' / 'catalog.db'}?mode=ro", uri=True).execute("select 1")


def test_graph_says_what_it_wrote_unless_quiet_or_json(project, cli):
    result = cli("graph", "--all", "--html", "graph.html", "--svg", "graph.svg")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "wrote graph of 2 databases to graph.html",
        "wrote graph of 2 databases to graph.svg",
    ]
    assert result.stderr == ""
    one = cli("graph", "catalog", "--svg", "catalog.svg")
    assert one.stdout == "wrote graph of 1 database to catalog.svg\n"
    for quiet in (["-q"], ["--quiet"]):
        result = cli(*quiet, "graph", "--all", "--html", "graph.html")
        assert result.exit_code == 0 and result.output == ""
        assert cli("graph", "--all", "--html", "graph.html", *quiet).output == ""
    assert cli("graph", "--all", "--html", "graph.html", env={"MULTIDB_QUIET": "1"}).output == ""
    both = cli("graph", "--all", "--html", "graph.html", "--json")
    assert [g["name"] for g in json.loads(both.stdout)] == ["catalog", "monitor"]  # the JSON only
    assert both.stderr == ""

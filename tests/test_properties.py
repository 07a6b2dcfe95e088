"""Property tests (Hypothesis): whatever the input, multidb answers with its own error or a result.

(a) The config loader: for generated YAML documents (random structures under known and unknown keys,
    random edits of the example config's data, random edits of its text) ``load_config`` returns a
    Project or raises ConfigError, never anything else; each problem names the file and, unless it is
    about the whole file, a key path; each is one line; a URL's password is never echoed.
(b) Revision targets: for generated ``--to`` strings, ``multidb upgrade|downgrade catalog --to T`` on
    a real SQLite copy of the example project exits 0, 1 or 2 without a traceback, never with an
    "unexpected" error, and leaves the database consistent: its version table holds at most one known
    revision, its tables are those of that revision, a refused target (exit 2) changed nothing, and
    ``status --json`` still works.

Examples are bounded (max_examples, no deadline, no example database written into the repository) so
the module runs in well under 30 s.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml
from assertions import forget_test_modules
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from multidb import schema
from multidb.config import Project, load_config
from multidb.errors import ConfigError

from example_project import CATALOG_REVS, MONITOR_REVS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PARTS = ("config", "catalog_versions", "monitor_versions", "example_app")
EXAMPLE_CONFIG = ROOT / "config" / "multidb.yaml"
SENTINEL = "S3ntinel-Pa55"


SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,  # nothing written under .hypothesis/
    derandomize=True,  # the same examples on every run: CI fails for a change, never for a new draw
    report_multiple_bugs=False,  # shrink one failure at a time: a failing run stays short too
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

# === (a) the config loader =====================================================================

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=10)
NAMES = ["catalog", "monitor", "app", "events", "catalgo"]
PROFILES = ["local", "production", "staging", "prodcution"]

# URLs: the only values that may carry the password, which no error message may show
SECRET_URLS = st.sampled_from(
    [
        f"postgresql://app:{SENTINEL}@127.0.0.1:1/catalog",
        f"postgresql+psycopg2://app:{SENTINEL}@127.0.0.1/catalog?sslmode=require",
        f"mysql+pymysql://root:{SENTINEL}@127.0.0.1:3306/x",
        f"postgresql://app@127.0.0.1/catalog?password={SENTINEL}",
        f"nosuchdialect://app:{SENTINEL}@127.0.0.1/x",
        f"postgresql+nosuchdriver://app:{SENTINEL}@127.0.0.1/x",
        f"postgresql://app:{SENTINEL}@127.0.0.1:notaport/x",
        f"postgresql://app:{SENTINEL}@[::1/x",
        f"://app:{SENTINEL}@127.0.0.1/x",
        f"postgresql://app:{SENTINEL}@127.0.0.1/${{UNSET_VARIABLE}}",
        f"postgresql://app:{SENTINEL}@127.0.0.1/${{broken",
        f"postgresql://app:{SENTINEL}$$@127.0.0.1/x",
    ]
)
URLS = st.one_of(
    SECRET_URLS,
    st.sampled_from(
        [
            "sqlite:///../var/catalog.db",
            "sqlite://",
            "sqlite:///:memory:",
            "sqlite:////tmp/multidb-properties.db",
            "sqlite:///file:x.db?mode=ro&uri=true",
            "${CATALOG_DATABASE_URL}",
            "${MONITOR_DATABASE_URL:-sqlite://}",
            "sqlite:///../var/${SOME_PATH}.db",
            "not a url",
            "",
        ]
    ),
    TEXT,
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(),
    TEXT,
    st.sampled_from(
        [
            "auto",
            "always",
            "never",
            "per_revision",
            "per_run",
            "5s",
            "500ms",
            "2min",
            "1h",
            "-1s",
            "0",
            "nan",
            "${SOME_PATH}",
            "${UNSET_VARIABLE}",
            "${UNSET_VARIABLE:-x}",
            "${broken",
            "$$",
            "..",
            "../catalog_versions",
            "example_app.catalog:metadata",
            "script.py.mako",
            *NAMES,
            *PROFILES,
        ]
    ),
)
KNOWN_KEYS = sorted(
    {*schema.TOP_KEYS, *schema.PROFILE_KEYS, *schema.DATABASE_KEYS, *schema.BASE_KEYS} - {"url"}  # url: below
)
# keys YAML may produce: strings (known and not), numbers, null, booleans
KEYS = st.one_of(st.sampled_from(KNOWN_KEYS + NAMES + PROFILES), TEXT, st.integers(-5, 2030), st.none(), st.booleans())


def _no_url_keys(value: Any) -> Any:
    """Random structures never carry a ``url`` key: URLs (and their passwords) come from URLS only."""
    if isinstance(value, dict):
        return {k: _no_url_keys(v) for k, v in value.items() if k != "url"}
    if isinstance(value, list):
        return [_no_url_keys(v) for v in value]
    return value


VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3), max_leaves=12
).map(_no_url_keys)


def _plausible(key: str) -> st.SearchStrategy[Any]:
    """Values of the right shape for a database key, to get past the first checks, or anything."""
    shaped = {
        "bases": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "label": st.sampled_from(NAMES) | SCALARS,
                    "path": st.sampled_from(["../catalog_versions", "../monitor_versions", "v", "${SOME_PATH}"])
                    | SCALARS,
                    "lable": SCALARS,
                },
            )
            | VALUES,
            max_size=3,
        ),
        "depends_on": st.lists(st.sampled_from(NAMES) | SCALARS, max_size=3),
        "connect_timeout": st.sampled_from([1, 0.5, 0, -1, 10**9]) | SCALARS,
        "lock_retries": st.integers(-2, 5) | SCALARS,
    }.get(key, SCALARS)
    return shaped | VALUES


DATABASE_ENTRY = st.fixed_dictionaries(
    {}, optional={"url": URLS, **{key: _plausible(key) for key in schema.DATABASE_KEYS if key != "url"}}
) | st.dictionaries(KEYS, VALUES, max_size=3).map(_no_url_keys)

PROFILE_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "description": SCALARS,
        "protected": st.booleans() | SCALARS,
        "defaults": DATABASE_ENTRY | VALUES,
        "databases": st.dictionaries(st.sampled_from(NAMES) | KEYS, DATABASE_ENTRY | VALUES, max_size=3),
        "databse": VALUES,
    },
)

DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "default_profile": st.sampled_from(PROFILES) | SCALARS,
        "python_path": st.lists(SCALARS, max_size=2) | SCALARS,
        "revision_template": st.sampled_from(["script.py.mako", "templates/other.mako"]) | SCALARS,
        "defaults": DATABASE_ENTRY | VALUES,
        "databases": st.dictionaries(st.sampled_from(NAMES) | KEYS, DATABASE_ENTRY | VALUES, max_size=3) | VALUES,
        "profiles": st.dictionaries(st.sampled_from(PROFILES) | KEYS, PROFILE_ENTRY | VALUES, max_size=3) | VALUES,
        "databses": VALUES,
    },
)

ENVIRON = st.fixed_dictionaries(
    {},
    optional={
        # only the URL variables hold passwords: only url values refer to them
        "CATALOG_DATABASE_URL": SECRET_URLS | st.sampled_from(["", "sqlite://"]),
        "MONITOR_DATABASE_URL": SECRET_URLS | st.sampled_from(["", "sqlite://"]),
        "SOME_PATH": st.sampled_from(["", "sub/dir", "../catalog_versions", "catalog", "é/ü"]),
        "MULTIDB_PROFILE": st.sampled_from(PROFILES) | TEXT,  # a profile name is not a secret
    },
)
PROFILE_ARG = st.none() | st.sampled_from(PROFILES) | TEXT


def check_loader(text: str, profile: str | None, environ: dict[str, str]) -> Project | None:
    """The property: a Project, or a ConfigError whose problems are located, one line and secret-free."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config" / "multidb.yaml"
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
        try:
            project = load_config(path, profile, environ)
        except ConfigError as e:
            assert e.problems, "a ConfigError without problems"
            assert e.exit_code == 2
            for problem in e.problems:
                assert problem.path == str(path), problem
                assert problem.key_path or problem.path, problem
                assert problem.problem.strip(), problem
                controls = [c for c in str(problem) if unicodedata.category(c) == "Cc"]
                assert not controls, f"not one plain line (control characters {controls}): {str(problem)!r}"
                assert SENTINEL not in str(problem), f"password echoed: {problem}"
            return None
    assert isinstance(project, Project)
    for name, db in project.databases.items():
        assert db.name == name and isinstance(db.url, str) and db.bases
        assert SENTINEL not in db.masked_url
    return project


def _dump(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


@SETTINGS
@given(document=DOCUMENTS | VALUES, profile=PROFILE_ARG, environ=ENVIRON)
def test_loader_on_generated_documents(document, profile, environ):
    check_loader(_dump(document), profile, environ)


def _paths(node: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path to a node of a parsed YAML document (mapping keys and list indexes)."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


def _mutate(document: Any, data: st.DataObject) -> Any:
    paths = [p for p in _paths(document) if p]
    path = data.draw(st.sampled_from(paths), label="path")
    *parents, last = path
    parent = document
    for part in parents:
        parent = parent[part]
    action = data.draw(st.sampled_from(["replace", "delete", "add", "rename", "url"]), label="action")
    if action == "replace":
        parent[last] = data.draw(VALUES, label="value")
    elif action == "delete":
        del parent[last]
    elif action == "url":
        parent[last] = data.draw(URLS, label="url") if last == "url" else data.draw(VALUES, label="value")
    elif isinstance(parent, dict):
        key = data.draw(KEYS.filter(lambda k: k != "url"), label="key")
        if action == "add" or last == "url":  # a URL (and its password) never moves to another key
            parent[key] = data.draw(VALUES, label="value")
        else:
            parent[key] = parent.pop(last)
    else:
        parent.insert(last, data.draw(VALUES, label="value"))
    return document


@SETTINGS
@given(data=st.data(), profile=PROFILE_ARG, environ=ENVIRON)
def test_loader_on_mutations_of_the_example(data, profile, environ):
    document = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        if not document:
            break
        document = _mutate(document, data)
    check_loader(_dump(document), profile, environ)


SNIPPETS = st.sampled_from(
    [
        *(":", ": ", "- ", "  ", "\t", "{", "}", "[", "]", ",", "&a ", "*a", "<<: *a\n", "!!str ", "!!binary ", "? "),
        *("#", "'", '"', "|\n", ">\n", "~", "%YAML 1.1\n", "---\n", "...\n", "\n", "é", "\ufeff", "${", "$$", "null"),
        *("!!python/object/apply:os.system ['true']\n", "2024-01-01", "0x1F", ".inf", "yes", "on"),
    ]
)


@SETTINGS
@given(data=st.data(), profile=PROFILE_ARG, environ=ENVIRON)
def test_loader_on_text_edits_of_the_example(data, profile, environ):
    text = EXAMPLE_CONFIG.read_text()
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        start = data.draw(st.integers(0, len(text)), label="at")
        end = data.draw(st.integers(start, min(len(text), start + 12)), label="to")
        insert = data.draw(SNIPPETS | TEXT, label="insert")
        text = text[:start] + insert + text[end:]
    check_loader(text, profile, environ)


# Inputs the properties found that crashed the loader (kept so they are tried on every run).
REGRESSIONS = {
    "int-name-bad-entry": "databases:\n  2024: not a mapping\n",
    "date-name-bad-entry": "databases:\n  2001-01-01: 3\n",
    "int-name-profile-unknown-db": (
        "databases:\n  1: {url: 'sqlite://', bases: [{label: a, path: x}]}\n"
        "profiles:\n  p:\n    databases:\n      x: {}\n"
    ),
    "int-name-unknown-depends-on": (
        "databases:\n  1: {url: 'sqlite://', bases: [{label: a, path: x}]}\n"
        "  b: {url: 'sqlite://', bases: [{label: b, path: y}], depends_on: [zz]}\n"
    ),
    "nul-in-base-path": 'databases:\n  a: {url: "sqlite://", bases: [{label: a, path: "x\\0y"}]}\n',
    "nul-in-sqlite-path": 'databases:\n  a: {url: "sqlite:///x\\0y.db", bases: [{label: a, path: x}]}\n',
    "null-name-unknown-depends-on": (
        "databases:\n  ~: {url: 'sqlite://', bases: [{label: a, path: x}]}\n"
        "  b: {url: 'sqlite://', bases: [{label: b, path: y}], depends_on: [a]}\n"
    ),
    "list-default-profile": "default_profile: []\ndatabases:\n  a: {url: 'sqlite://', bases: [{label: a, path: x}]}\n",
    "dotted-name-bad-base": "databases:\n  app.v2: {url: 'sqlite://', bases: [{path: x}]}\n",
    "float-revision-template": (
        "revision_template: 1.5\ndatabases:\n  a: {url: 'sqlite://', bases: [{label: a, path: x}]}\n"
    ),
    "newline-in-unknown-key": 'databases:\n  a: {url: "sqlite://", bases: [{label: a, path: x}], "bat\\nch": 1}\n',
}


@pytest.mark.parametrize("text", list(REGRESSIONS.values()), ids=list(REGRESSIONS))
def test_loader_regressions(text):
    check_loader(text, None, {})


@pytest.mark.parametrize("profile", ["prod\nuction", "\x1b[2Jprod"], ids=["newline", "escape"])
def test_loader_regression_profile_name_is_shown_on_one_line(profile):
    text = "databases:\n  a: {url: 'sqlite://', bases: [{label: a, path: x}]}\nprofiles: {production: {}}\n"
    check_loader(text, profile, {})


# === (b) revision targets on a real SQLite database ==============================================

TOKENS = st.sampled_from(
    [
        *CATALOG_REVS,
        *MONITOR_REVS,
        "c1a0",
        "c1a0f0a1b00",
        "c1a0f0a1b0",
        "b003",
        "e2b0",
        "deadbeef",
        "+",
        "-",
        "@",
        ":",
        ",",
        "0",
        "1",
        "2",
        "3",
        "99",
        "head",
        "heads",
        "base",
        "current",
        "catalog",
        "monitor",
        " ",
        "\t",
        "\n",
        "é",
        "☃",
        "\u200b",
        "\uff0b",  # fullwidth plus sign
        "\u0661",  # Arabic-Indic digit one: int() reads it as 1
        "İ",
    ]
)
TARGETS = st.lists(
    TOKENS | st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=2), max_size=6
).map("".join)
STARTS = [None, CATALOG_REVS[0], CATALOG_REVS[1], CATALOG_REVS[3]]


class TargetProject:
    """One copy of the example project for the whole module, with a saved catalog.db per start revision."""

    def __init__(self, root: Path):
        self.root = root
        self.config = root / "config" / "multidb.yaml"
        self.catalog = root / "var" / "catalog.db"
        self.monitor = root / "var" / "monitor.db"
        self.saved = root / "saved"
        self.tables_at: dict[str | None, frozenset[str]] = {None: frozenset()}

    def cli(self, *args: str) -> Result:
        from multidb.cli import main

        env = {"MULTIDB_CONFIG": None, "MULTIDB_PROFILE": None}
        return CliRunner().invoke(main, [*args, "-c", str(self.config)], env=env, catch_exceptions=False)

    def prepare(self) -> None:
        self.saved.mkdir()
        for rev in CATALOG_REVS:
            result = self.cli("upgrade", "catalog", "--to", rev)
            assert result.exit_code == 0, result.output
            self.tables_at[rev] = frozenset(self.state()[1])
            shutil.copy(self.catalog, self.saved / f"{rev}.db")

    def restore(self, start: str | None) -> None:
        self.catalog.unlink(missing_ok=True)
        if start is not None:
            shutil.copy(self.saved / f"{start}.db", self.catalog)

    def state(self) -> tuple[list[str], set[str]]:
        """(version rows, user tables) of catalog.db; ([], set()) when the file does not exist."""
        if not self.catalog.exists():
            return [], set()
        with closing(sqlite3.connect(f"file:{self.catalog}?mode=ro", uri=True)) as conn:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            versions = (
                sorted(r[0] for r in conn.execute("SELECT version_num FROM alembic_version"))
                if "alembic_version" in names
                else []
            )
        return versions, {n for n in names if n != "alembic_version" and not n.startswith("sqlite_")}


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TargetProject]:
    root = tmp_path_factory.mktemp("targets") / "project"
    for part in EXAMPLE_PARTS:
        shutil.copytree(ROOT / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    path, modules = list(sys.path), set(sys.modules)
    project = TargetProject(root)
    project.prepare()
    yield project
    sys.path[:] = path
    forget_test_modules(modules)


@SETTINGS
@given(command=st.sampled_from(["upgrade", "downgrade"]), start=st.sampled_from(STARTS), target=TARGETS)
@example(command="upgrade", start=None, target=CATALOG_REVS[-2])  # one short of the contract head: "expanded"
def test_any_target_leaves_the_database_consistent(targets, command, start, target):
    targets.restore(start)
    before = targets.state()

    result = targets.cli(command, "catalog", "--to", target)

    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    assert "unexpected" not in result.stderr, result.stderr
    if result.exit_code != 0:
        errors = [line for line in result.stderr.splitlines() if line.startswith("multidb: error: ")]
        assert len(errors) == 1, result.stderr
    versions, tables = targets.state()
    assert len(versions) <= 1, versions  # one base: at most one row
    assert set(versions) <= set(CATALOG_REVS), f"unknown revision stamped: {versions}"
    current = versions[0] if versions else None
    assert tables == targets.tables_at[current], f"tables do not match revision {current}"
    if result.exit_code == 2:
        assert (versions, tables) == before, "a refused target changed the database"
    assert not targets.monitor.exists(), "monitor was touched"

    status = targets.cli("status", "catalog", "--json")
    assert status.exit_code == 0, status.output
    (entry,) = json.loads(status.stdout)
    assert entry["current"] == versions
    assert entry["state"] in ("at head", "behind", "empty", "expanded"), entry
    if entry["state"] == "expanded":  # only the contract revision is left: status says which
        assert entry["contract_pending"] == entry["heads"] != versions, entry

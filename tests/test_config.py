"""multidb.yaml loading: the example config, profiles, ${VAR} expansion, every problem at once.

Every test writes a real config file to tmp_path and loads it with ``load_config``; the
environment is always passed explicitly through ``environ=`` so nothing leaks in from the shell.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

from multidb import interpolate
from multidb.config import Base, Database, Project, find_config, load_config
from multidb.errors import EXIT_USAGE, ConfigError, UsageError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "multidb.yaml"
SECRET = "Sup3rSecret"

ONE_DATABASE = """
    databases:
      catalog:
        url: sqlite:///catalog.db
        bases:
          - {label: catalog, path: catalog_versions}
"""

TWO_DATABASES = """
    databases:
      catalog:
        url: sqlite:///catalog.db
        bases:
          - {label: catalog, path: catalog_versions}
      monitor:
        url: sqlite:///monitor.db
        bases:
          - {label: monitor, path: monitor_versions}
        depends_on: [catalog]
"""

PROD_ENV = {
    "CATALOG_DATABASE_URL": f"postgresql://app:{SECRET}@db.example:5432/catalog",
    "MONITOR_DATABASE_URL": "postgresql://monitor@db.example/monitor",
}


def write(folder: Path, text: str, name: str = "multidb.yaml") -> Path:
    """Write a config file (dedented) into ``folder`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def with_url(tmp_path: Path, url: str) -> Path:
    """A one-database config whose catalog URL is ``url`` (quoted in the YAML)."""
    return write(tmp_path, ONE_DATABASE.replace("sqlite:///catalog.db", f"'{url}'"))


def load(path: Path, profile: str | None = None, environ: dict[str, str] | None = None) -> Project:
    return load_config(path, profile=profile, environ={} if environ is None else environ)


def problems(path: Path, profile: str | None = None, environ: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Load ``path`` expecting a ConfigError; return its problems as (key path, text) pairs."""
    with pytest.raises(ConfigError) as excinfo:
        load(path, profile=profile, environ=environ)
    return [(p.key_path, p.problem) for p in excinfo.value.problems]


def texts_at(found: list[tuple[str, str]], key_path: str) -> list[str]:
    """The problem texts reported at exactly ``key_path`` (fails if there are none)."""
    texts = [text for key, text in found if key == key_path]
    assert texts, f"no problem at {key_path!r}; got {found}"
    return texts


def make_db(url: str, batch: str = "auto") -> Database:
    return Database(
        name="db",
        url=url,
        bases=(Base("db", Path("/versions")),),
        metadata=None,
        version_table="alembic_version",
        version_table_schema=None,
        batch=batch,
        depends_on=(),
        connect_timeout=10,
        transaction="per_revision",
    )


# --- the repository's example config -------------------------------------------------------------


def test_example_lists_databases_in_dependency_order():
    project = load(EXAMPLE)
    assert list(project.databases) == ["catalog", "monitor"]
    assert project.databases["monitor"].depends_on == ("catalog",)
    assert project.databases["catalog"].depends_on == ()


def test_example_uses_default_profile_local():
    project = load(EXAMPLE)
    assert project.profile == "local"
    assert project.profiles == ("local", "production")


def test_example_sqlite_urls_are_absolute_paths_under_the_repo():
    dbs = load(EXAMPLE).databases
    assert dbs["catalog"].url == f"sqlite:///{ROOT / 'var' / 'catalog.db'}"
    assert dbs["monitor"].url == f"sqlite:///{ROOT / 'var' / 'monitor.db'}"
    assert dbs["catalog"].dialect == "sqlite"


def test_example_base_paths_are_resolved_against_the_config_folder():
    dbs = load(EXAMPLE).databases
    assert dbs["catalog"].bases == (Base("catalog", ROOT / "catalog_versions"),)
    assert dbs["monitor"].bases == (Base("monitor", ROOT / "monitor_versions"),)
    assert dbs["monitor"].version_paths == (ROOT / "monitor_versions",)


def test_example_metadata_strings():
    dbs = load(EXAMPLE).databases
    assert dbs["catalog"].metadata == "example_app.catalog:metadata"
    assert dbs["monitor"].metadata == "example_app.monitor:metadata"


def test_example_python_path_points_at_the_repo_root():
    project = load(EXAMPLE)
    assert [p.resolve() for p in project.python_path] == [ROOT]
    assert project.revision_template is None
    assert project.root == EXAMPLE.parent


@pytest.mark.parametrize("name", ["catalog", "monitor"])
def test_example_unset_keys_take_the_defaults(name):
    db = load(EXAMPLE).databases[name]
    assert db.version_table == "alembic_version"
    assert db.version_table_schema is None
    assert db.batch == "auto"
    assert db.transaction == "per_revision"
    assert db.connect_timeout == 10


def test_example_local_profile_has_no_secrets():
    assert load(EXAMPLE).secrets() == ()


# --- relative paths ------------------------------------------------------------------------------


def test_sqlite_url_is_resolved_relative_to_the_config_file_not_the_cwd(tmp_path, monkeypatch):
    config = write(tmp_path / "proj" / "config", ONE_DATABASE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    db = load(config).databases["catalog"]
    folder = (tmp_path / "proj" / "config").resolve()
    assert db.url == f"sqlite:///{folder / 'catalog.db'}"
    assert db.bases == (Base("catalog", folder / "catalog_versions"),)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:////abs/olute/file.db",
        "sqlite:///file:/abs/olute/x.db?uri=true",
        "sqlite:///file:x?mode=memory&uri=true",
    ],
)
def test_memory_and_absolute_sqlite_urls_are_left_alone(tmp_path, url):
    config = with_url(tmp_path, url)
    assert load(config).databases["catalog"].url == url


def test_a_relative_uri_filename_is_resolved_relative_to_the_config_file(tmp_path):
    config = with_url(tmp_path, "sqlite:///file:x.db?mode=rwc&uri=true")
    from sqlalchemy.engine import make_url

    url = make_url(load(config).databases["catalog"].url)
    assert url.database == f"file:{config.parent.resolve() / 'x.db'}"
    assert url.query == {"mode": "rwc", "uri": "true"}


# --- choosing a profile --------------------------------------------------------------------------

PROFILES = """
    default_profile: from_default
    databases:
      catalog:
        url: sqlite:///catalog.db
        bases:
          - {label: catalog, path: catalog_versions}
    profiles:
      from_default:
        defaults: {connect_timeout: 1}
      from_env:
        defaults: {connect_timeout: 2}
      from_argument:
        defaults: {connect_timeout: 3}
      production:
        databases:
          catalog: {url: "${CATALOG_DATABASE_URL}"}
"""


def test_profile_argument_beats_environ_and_default_profile(tmp_path):
    config = write(tmp_path, PROFILES)
    project = load(config, profile="from_argument", environ={"MULTIDB_PROFILE": "from_env"})
    assert project.profile == "from_argument"
    assert project.databases["catalog"].connect_timeout == 3


def test_multidb_profile_in_environ_beats_default_profile(tmp_path):
    config = write(tmp_path, PROFILES)
    project = load(config, environ={"MULTIDB_PROFILE": "from_env"})
    assert project.profile == "from_env"
    assert project.databases["catalog"].connect_timeout == 2


def test_default_profile_applies_when_nothing_else_chooses(tmp_path):
    config = write(tmp_path, PROFILES)
    project = load(config)
    assert project.profile == "from_default"
    assert project.databases["catalog"].connect_timeout == 1


def test_process_environment_is_ignored_when_environ_is_given(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTIDB_PROFILE", "from_env")
    config = write(tmp_path, PROFILES)
    assert load(config, environ={}).profile == "from_default"


def test_no_profiles_and_no_default_profile_means_no_profile(tmp_path):
    project = load(write(tmp_path, ONE_DATABASE))
    assert project.profile is None
    assert project.profiles == ()


def test_unknown_profile_argument_suggests_the_closest_name(tmp_path):
    config = write(tmp_path, PROFILES)
    with pytest.raises(ConfigError) as excinfo:
        load(config, profile="prodution")
    err = excinfo.value
    assert err.exit_code == EXIT_USAGE == 2
    [problem] = err.problems
    assert problem.key_path == "--profile"
    assert problem.problem == (
        "unknown profile 'prodution' (did you mean 'production'?); "
        "profiles: from_default, from_env, from_argument, production"
    )
    assert str(err) == f"{config}: --profile: {problem.problem}"


def test_unknown_profile_from_environ_is_reported_at_the_variable(tmp_path):
    config = write(tmp_path, PROFILES)
    found = problems(config, environ={"MULTIDB_PROFILE": "from_envv"})
    assert found == [
        (
            "MULTIDB_PROFILE",
            "unknown profile 'from_envv' (did you mean 'from_env'?); "
            "profiles: from_default, from_env, from_argument, production",
        )
    ]


def test_unknown_default_profile_is_a_config_problem(tmp_path):
    config = write(tmp_path, PROFILES.replace("default_profile: from_default", "default_profile: staging"))
    [text] = texts_at(problems(config), "default_profile")
    assert text.startswith("unknown profile 'staging'")


def test_production_profile_takes_urls_from_the_environ_argument():
    project = load(EXAMPLE, profile="production", environ=PROD_ENV)
    assert project.profile == "production"
    catalog, monitor = project.databases.values()
    assert catalog.url == PROD_ENV["CATALOG_DATABASE_URL"]
    assert monitor.url == PROD_ENV["MONITOR_DATABASE_URL"]
    assert catalog.dialect == monitor.dialect == "postgresql"
    # the rest still comes from the top-level database entries
    assert catalog.bases == (Base("catalog", ROOT / "catalog_versions"),)
    assert project.secrets() == (SECRET,)


def test_production_profile_reports_a_missing_variable_by_key_path_and_name():
    env = {"MONITOR_DATABASE_URL": PROD_ENV["MONITOR_DATABASE_URL"]}
    found = problems(EXAMPLE, profile="production", environ=env)
    assert found == [
        ("profiles.production.databases.catalog.url", "environment variable CATALOG_DATABASE_URL is not set")
    ]


def test_production_profile_reports_every_missing_variable():
    found = problems(EXAMPLE, profile="production", environ={})
    assert found == [
        ("profiles.production.databases.catalog.url", "environment variable CATALOG_DATABASE_URL is not set"),
        ("profiles.production.databases.monitor.url", "environment variable MONITOR_DATABASE_URL is not set"),
    ]


def test_production_variables_are_not_required_under_the_local_profile():
    project = load(EXAMPLE, profile="local", environ={})
    assert project.databases["catalog"].dialect == "sqlite"


def test_variables_in_the_process_environment_are_not_used_when_environ_is_given(monkeypatch):
    monkeypatch.setenv("CATALOG_DATABASE_URL", PROD_ENV["CATALOG_DATABASE_URL"])
    monkeypatch.setenv("MONITOR_DATABASE_URL", PROD_ENV["MONITOR_DATABASE_URL"])
    found = problems(EXAMPLE, profile="production", environ={})
    assert [key for key, _ in found] == [
        "profiles.production.databases.catalog.url",
        "profiles.production.databases.monitor.url",
    ]


# --- ${VAR} expansion ----------------------------------------------------------------------------


def test_default_is_used_when_the_variable_is_unset(tmp_path):
    config = with_url(tmp_path, "postgresql://app@${DB_HOST:-localhost}/catalog")
    assert load(config).databases["catalog"].url == "postgresql://app@localhost/catalog"


def test_default_is_used_when_the_variable_is_empty(tmp_path):
    config = with_url(tmp_path, "postgresql://app@${DB_HOST:-localhost}/catalog")
    assert load(config, environ={"DB_HOST": ""}).databases["catalog"].url == "postgresql://app@localhost/catalog"


def test_variable_value_beats_its_default(tmp_path):
    config = with_url(tmp_path, "postgresql://app@${DB_HOST:-localhost}/catalog")
    url = load(config, environ={"DB_HOST": "db.example"}).databases["catalog"].url
    assert url == "postgresql://app@db.example/catalog"


def test_double_dollar_is_a_literal_dollar(tmp_path):
    config = with_url(tmp_path, "postgresql://app:pa$$word@db.example/catalog")
    db = load(config).databases["catalog"]
    assert db.secrets == ("pa$word",)


def test_double_dollar_does_not_start_a_reference(tmp_path):
    config = write(tmp_path, ONE_DATABASE + "        metadata: 'pkg.models:$${NOT_A_VAR}'\n")
    assert load(config).databases["catalog"].metadata == "pkg.models:${NOT_A_VAR}"


def test_a_variable_value_is_not_expanded_again(tmp_path):
    config = with_url(tmp_path, "postgresql://app:${PW}@db.example/catalog")
    db = load(config, environ={"PW": "a${B}c$$d"}).databases["catalog"]
    assert db.secrets == ("a${B}c$$d",)


def test_variables_expand_in_base_paths(tmp_path):
    config = write(tmp_path, ONE_DATABASE.replace("path: catalog_versions", "path: '${VERSIONS:-fallback}'"))
    db = load(config, environ={"VERSIONS": "from_env"}).databases["catalog"]
    assert db.bases == (Base("catalog", tmp_path.resolve() / "from_env"),)


@pytest.mark.parametrize("reference", ["${1BAD}", "${UNCLOSED", "${}", "${NAME:default}"])
def test_malformed_reference_is_reported_at_its_key(tmp_path, reference):
    config = write(tmp_path, ONE_DATABASE + f"        metadata: 'pkg.models:{reference}'\n")
    found = problems(config)
    assert found == [
        ("databases.catalog.metadata", "malformed ${...} reference: use ${NAME} or ${NAME:-default} ($$ for a '$')")
    ]


def test_malformed_reference_in_a_url_does_not_echo_the_url(tmp_path):
    # a password that happens to contain '${' must not be printed back
    config = with_url(tmp_path, f"postgresql://app:${{{SECRET}@db.example/catalog")
    found = problems(config)
    assert [key for key, _ in found] == ["databases.catalog.url"]
    for _, text in found:
        assert SECRET not in text
        assert "db.example" not in text


def test_expand_raises_missing_variable_with_its_name():
    with pytest.raises(interpolate.MissingVariable) as excinfo:
        interpolate.expand("x${NOPE}y", {})
    assert excinfo.value.name == "NOPE"


def test_expand_leaves_a_lone_dollar_and_dollar_name_alone():
    assert interpolate.expand("cost: $5, $HOME, end$", {"HOME": "/root"}) == "cost: $5, $HOME, end$"


# --- every problem at once -----------------------------------------------------------------------

SCHEMA_PROBLEMS = """
    databses: {}
    databases:
      catalog:
        url: sqlite:///catalog.db
        version_tabel: versions
        connect_timeout: soon
        bases:
          - {label: catalog, path: catalog_versions}
          - {label: extra}
    profiles:
      production:
        databases:
          catalgo: {url: "postgresql://db.example/catalog"}
"""

CROSS_PROBLEMS = """
    databases:
      catalog:
        url: sqlite:///catalog.db
        bases:
          - {label: catalog, path: catalog_versions}
          - {label: catalog, path: extra_versions}
        depends_on: [monitor]
      monitor:
        url: sqlite:///monitor.db
        bases:
          - {label: monitor, path: ./catalog_versions/}
        depends_on: [catalog, catalgo]
"""


def test_schema_problems_are_all_reported_together(tmp_path):
    found = problems(write(tmp_path, SCHEMA_PROBLEMS))
    assert texts_at(found, "databses") == ["unknown key 'databses' (did you mean 'databases'?)"]
    assert texts_at(found, "databases.catalog.version_tabel") == [
        "unknown key 'version_tabel' (did you mean 'version_table'?)"
    ]
    assert texts_at(found, "databases.catalog.connect_timeout") == [
        "expected a number of seconds greater than 0, got a string 'soon'"
    ]
    assert texts_at(found, "databases.catalog.bases[1]") == ["missing 'path'"]
    assert texts_at(found, "profiles.production.databases.catalgo") == [
        "no database 'catalgo' is declared under 'databases' (did you mean 'catalog'?)"
    ]
    assert len(found) == 5


def test_cross_database_problems_are_all_reported_together(tmp_path):
    found = problems(write(tmp_path, CROSS_PROBLEMS))
    claimed = (tmp_path / "catalog_versions").resolve()
    assert texts_at(found, "databases.catalog.bases[1].label") == ["duplicate label 'catalog' in database 'catalog'"]
    assert texts_at(found, "databases.monitor.bases[0].path") == [
        f"folder {claimed} is already claimed by database 'catalog'"
    ]
    assert texts_at(found, "databases.monitor.depends_on") == ["unknown database 'catalgo' (did you mean 'catalog'?)"]
    assert texts_at(found, "databases") == ["depends_on forms a cycle: catalog -> monitor -> catalog"]
    assert len(found) == 4


ALL_PROBLEMS = """
    databses: {}
    databases:
      catalog:
        url: sqlite:///catalog.db
        bases:
          - {label: catalog, path: catalog_versions}
          - {label: catalog, path: extra_versions}
        depends_on: [monitor]
      monitor:
        url: sqlite:///monitor.db
        bases:
          - {label: monitor, path: ./catalog_versions/}
        depends_on: [catalog, catalgo]
      audit:
        url: sqlite:///audit.db
        connect_timeout: soon
        bases:
          - {label: audit, path: audit_versions}
          - {label: extra}
"""


def test_schema_and_cross_database_problems_are_reported_in_one_error(tmp_path):
    # one run must show everything: a schema mistake in 'audit' must not hide the problems of the others
    found = problems(write(tmp_path, ALL_PROBLEMS))
    claimed = (tmp_path / "catalog_versions").resolve()
    assert texts_at(found, "databses") == ["unknown key 'databses' (did you mean 'databases'?)"]
    assert texts_at(found, "databases.audit.connect_timeout") == [
        "expected a number of seconds greater than 0, got a string 'soon'"
    ]
    assert texts_at(found, "databases.audit.bases[1]") == ["missing 'path'"]
    assert texts_at(found, "databases.catalog.bases[1].label") == ["duplicate label 'catalog' in database 'catalog'"]
    assert texts_at(found, "databases.monitor.bases[0].path") == [
        f"folder {claimed} is already claimed by database 'catalog'"
    ]
    assert texts_at(found, "databases.monitor.depends_on") == ["unknown database 'catalgo' (did you mean 'catalog'?)"]
    assert texts_at(found, "databases") == ["depends_on forms a cycle: catalog -> monitor -> catalog"]


def test_many_problems_print_as_a_counted_list(tmp_path):
    config = write(tmp_path, SCHEMA_PROBLEMS)
    with pytest.raises(ConfigError) as excinfo:
        load(config)
    err = excinfo.value
    assert str(err) == "5 problems"
    lines = err.lines()
    assert lines[0] == "the config has 5 problems:"
    assert f"  {config}: databses: unknown key 'databses' (did you mean 'databases'?)" in lines[1:]
    assert all(line.startswith(f"  {config}: ") for line in lines[1:])


def test_unknown_key_in_a_base_suggests_the_right_one(tmp_path):
    config = write(tmp_path, ONE_DATABASE.replace("{label: catalog,", "{lable: catalog,"))
    found = problems(config)
    assert found == [
        ("databases.catalog.bases[0].lable", "unknown key 'lable' (did you mean 'label'?)"),
        ("databases.catalog.bases[0]", "missing 'label'"),
    ]


def test_bad_batch_and_transaction_values_list_the_choices(tmp_path):
    config = write(tmp_path, ONE_DATABASE + "        batch: sometimes\n        transaction: per_day\n")
    found = problems(config)
    assert found == [
        ("databases.catalog.batch", "expected one of auto, always, never, got a string 'sometimes'"),
        ("databases.catalog.transaction", "expected one of per_revision, per_run, got a string 'per_day'"),
    ]


def test_empty_bases_list_is_a_problem(tmp_path):
    config = write(
        tmp_path, ONE_DATABASE.replace("bases:\n          - {label: catalog, path: catalog_versions}", "bases: []")
    )
    assert problems(config) == [("databases.catalog.bases", "needs at least one base ({label, path})")]


def test_missing_url_is_reported_at_the_database(tmp_path):
    config = write(tmp_path, ONE_DATABASE.replace("        url: sqlite:///catalog.db\n", ""))
    assert problems(config) == [("databases.catalog", "missing 'url'")]


def test_a_database_cannot_depend_on_itself(tmp_path):
    config = write(tmp_path, ONE_DATABASE + "        depends_on: [catalog]\n")
    found = problems(config)
    assert texts_at(found, "databases.catalog.depends_on") == ["a database cannot depend on itself"]


def test_revision_template_must_be_named_script_py_mako(tmp_path):
    config = write(tmp_path, ONE_DATABASE + "    revision_template: templates/revision.mako\n")
    assert problems(config) == [("revision_template", "Alembic needs the template file to be named script.py.mako")]


# --- files that are not configs at all -----------------------------------------------------------


def test_malformed_yaml_reports_line_and_column(tmp_path):
    config = write(tmp_path, "databases:\n  catalog:\n    url: [sqlite://\n  monitor: 2\n")
    with pytest.raises(ConfigError) as excinfo:
        load(config)
    [problem] = excinfo.value.problems
    assert problem.key_path == "line 4, column 10"
    assert problem.problem.startswith("malformed YAML: ")
    assert str(excinfo.value).startswith(f"{config}: line 4, column 10: malformed YAML")


def test_tab_indentation_is_malformed_yaml_with_its_position(tmp_path):
    config = write(tmp_path, "databases:\n\tcatalog: {}\n")
    assert problems(config) == [
        ("line 2, column 1", "malformed YAML: found character '\\t' that cannot start any token")
    ]


@pytest.mark.parametrize(
    ("text", "got"),
    [("- catalog\n- monitor\n", "a list"), ("just text\n", "a string"), ("", "nothing"), ("42\n", "an integer")],
)
def test_top_level_must_be_a_mapping(tmp_path, text, got):
    config = write(tmp_path, text)
    assert problems(config) == [("", f"expected a mapping at the top, got {got}")]


def test_missing_file_is_a_config_error(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as excinfo:
        load(missing)
    assert [(p.path, p.key_path, p.problem) for p in excinfo.value.problems] == [
        (str(missing), "", "cannot read: No such file or directory")
    ]
    assert excinfo.value.exit_code == 2


def test_config_without_databases(tmp_path):
    config = write(tmp_path, "default_profile: local\nprofiles:\n  local: {}\n")
    assert problems(config) == [("databases", "missing: declare at least one database")]


@pytest.mark.parametrize(
    ("value", "problem"),
    [("{}", "declare at least one database"), ("[catalog]", "expected a mapping, got a list")],
)
def test_databases_must_be_a_non_empty_mapping(tmp_path, value, problem):
    config = write(tmp_path, f"databases: {value}\n")
    assert problems(config) == [("databases", problem)]


# --- find_config ---------------------------------------------------------------------------------


def test_find_config_returns_an_explicit_path(tmp_path):
    config = write(tmp_path, ONE_DATABASE, name="mine.yaml")
    assert find_config(config) == config
    assert find_config(str(config)) == config


def test_find_config_explicit_path_beats_the_environment(tmp_path, monkeypatch):
    explicit = write(tmp_path / "a", ONE_DATABASE)
    monkeypatch.setenv("MULTIDB_CONFIG", str(write(tmp_path / "b", ONE_DATABASE)))
    assert find_config(explicit) == explicit


def test_find_config_missing_explicit_path(tmp_path):
    with pytest.raises(ConfigError) as excinfo:
        find_config(tmp_path / "nope.yaml")
    [problem] = excinfo.value.problems
    assert problem.path == str(tmp_path / "nope.yaml")
    assert problem.problem == "no such config file (from --config)"


def test_find_config_uses_multidb_config(tmp_path, monkeypatch):
    config = write(tmp_path / "elsewhere", ONE_DATABASE)
    monkeypatch.setenv("MULTIDB_CONFIG", str(config))
    assert find_config(cwd=tmp_path) == config


def test_find_config_missing_multidb_config_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTIDB_CONFIG", str(tmp_path / "gone.yaml"))
    with pytest.raises(ConfigError) as excinfo:
        find_config(cwd=tmp_path)
    assert excinfo.value.problems[0].problem == "no such config file (from MULTIDB_CONFIG)"


def test_find_config_searches_upwards_from_a_nested_cwd(tmp_path):
    config = write(tmp_path / "proj" / "config", ONE_DATABASE)
    nested = tmp_path / "proj" / "src" / "pkg" / "deep"
    nested.mkdir(parents=True)
    assert find_config(cwd=nested) == config.resolve()


def test_find_config_prefers_the_nearest_config_folder(tmp_path):
    write(tmp_path / "proj" / "config", ONE_DATABASE)
    inner = write(tmp_path / "proj" / "sub" / "config", ONE_DATABASE)
    nested = tmp_path / "proj" / "sub" / "deep"
    nested.mkdir(parents=True)
    assert find_config(cwd=nested) == inner.resolve()


def test_find_config_searches_from_the_process_cwd_by_default(tmp_path, monkeypatch):
    config = write(tmp_path / "proj" / "config", ONE_DATABASE)
    monkeypatch.chdir(tmp_path / "proj" / "config")
    assert find_config() == config.resolve()


def test_find_config_explains_what_to_do_when_nothing_is_found(tmp_path):
    start = (tmp_path / "empty" / "deeper").resolve()
    start.mkdir(parents=True)
    if any((folder / "config" / "multidb.yaml").is_file() for folder in start.parents):
        pytest.skip("a parent of the temp folder holds config/multidb.yaml")
    with pytest.raises(ConfigError) as excinfo:
        find_config(cwd=start)
    [problem] = excinfo.value.problems
    assert problem.path == str(Path("config") / "multidb.yaml")
    assert str(start) in problem.problem
    for hint in ("no config file found", "-c PATH", "MULTIDB_CONFIG", "multidb init"):
        assert hint in problem.problem


# --- Project.select ------------------------------------------------------------------------------

DEPENDENTS_FIRST = """
    databases:
      reports:
        url: sqlite:///reports.db
        bases: [{label: reports, path: reports_versions}]
        depends_on: [monitor]
      monitor:
        url: sqlite:///monitor.db
        bases: [{label: monitor, path: monitor_versions}]
        depends_on: [catalog]
      audit:
        url: sqlite:///audit.db
        bases: [{label: audit, path: audit_versions}]
      catalog:
        url: sqlite:///catalog.db
        bases: [{label: catalog, path: catalog_versions}]
"""


def test_databases_are_ordered_after_what_they_depend_on(tmp_path):
    project = load(write(tmp_path, DEPENDENTS_FIRST))
    assert list(project.databases) == ["catalog", "monitor", "reports", "audit"]


def test_select_all_returns_every_database_in_dependency_order(tmp_path):
    project = load(write(tmp_path, DEPENDENTS_FIRST))
    assert [db.name for db in project.select([], all_=True)] == ["catalog", "monitor", "reports", "audit"]


def test_select_orders_named_databases_by_depends_on(tmp_path):
    project = load(write(tmp_path, DEPENDENTS_FIRST))
    assert [db.name for db in project.select(["reports", "catalog", "monitor"])] == ["catalog", "monitor", "reports"]


def test_select_returns_only_the_named_databases(tmp_path):
    project = load(write(tmp_path, DEPENDENTS_FIRST))
    assert [db.name for db in project.select(("monitor",))] == ["monitor"]


def test_select_unknown_name_suggests_the_closest(tmp_path):
    project = load(write(tmp_path, TWO_DATABASES))
    with pytest.raises(UsageError) as excinfo:
        project.select(["catalgo"])
    assert (
        str(excinfo.value)
        == "unknown database 'catalgo' (did you mean 'catalog'?); multidb.yaml defines: catalog, monitor"
    )
    assert excinfo.value.exit_code == 2


def test_select_names_and_all_together_is_a_usage_error(tmp_path):
    project = load(write(tmp_path, TWO_DATABASES))
    with pytest.raises(UsageError, match="name databases or use --all, not both"):
        project.select(["catalog"], all_=True)


# --- URLs and secrets ----------------------------------------------------------------------------


def test_masked_url_hides_the_password(tmp_path):
    config = with_url(tmp_path, f"postgresql+psycopg2://app:{SECRET}@db.example:5432/catalog")
    db = load(config).databases["catalog"]
    assert db.masked_url == "postgresql+psycopg2://app:***@db.example:5432/catalog"
    assert db.secrets == (SECRET,)
    assert db.dialect == "postgresql"
    assert load(config).secrets() == (SECRET,)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:///file:../var/ro.db?mode=ro&uri=true", "sqlite:///file:{folder}/var/ro.db?mode=ro&uri=true"),
        ("sqlite:///../var/with space.db", "sqlite:///{folder}/var/with space.db"),
        (
            f"postgresql://app@db.example/catalog?sslpassword={SECRET}",
            "postgresql://app@db.example/catalog?sslpassword=***",
        ),
    ],
)
def test_masked_url_reads_as_written(tmp_path, url, shown):
    """SQLite paths are shown unquoted (no file%3A, no %20); masked query values read ***."""
    db = load(with_url(tmp_path, url)).databases["catalog"]
    assert db.masked_url == shown.format(folder=tmp_path.resolve().parent), db.masked_url
    assert SECRET not in db.masked_url


def test_masked_url_without_a_password_is_unchanged(tmp_path):
    db = load(with_url(tmp_path, "postgresql://app@db.example/catalog")).databases["catalog"]
    assert db.masked_url == "postgresql://app@db.example/catalog"
    assert db.secrets == ()


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql//app:{SECRET}@db.example/catalog",
        f"postgresql://app:{SECRET}@db.example:port/catalog",
        f"not a url {SECRET}",
        "",
    ],
)
def test_invalid_url_is_reported_without_echoing_it(tmp_path, url):
    config = with_url(tmp_path, url)
    with pytest.raises(ConfigError) as excinfo:
        load(config)
    assert [(p.key_path, p.problem) for p in excinfo.value.problems] == [
        ("databases.catalog.url", "not a valid database URL (expected dialect+driver://user:password@host/dbname)")
    ]
    assert SECRET not in "\n".join(excinfo.value.lines())


def test_invalid_url_from_the_environment_is_not_echoed():
    env = {**PROD_ENV, "CATALOG_DATABASE_URL": f"postgres ql://app:{SECRET}@db.example/catalog"}
    with pytest.raises(ConfigError) as excinfo:
        load(EXAMPLE, profile="production", environ=env)
    [problem] = excinfo.value.problems
    assert problem.key_path == "profiles.production.databases.catalog.url"
    assert SECRET not in str(problem)


@pytest.mark.parametrize(
    ("value", "got"),
    [
        (f"[postgresql://app:{SECRET}@db.example/catalog]", "a list"),
        (f"{{user: app, password: {SECRET}}}", "a mapping"),
        ("123456789", "an integer"),
    ],
)
def test_non_string_url_is_not_echoed(tmp_path, value, got):
    config = write(tmp_path, ONE_DATABASE.replace("sqlite:///catalog.db", value))
    with pytest.raises(ConfigError) as excinfo:
        load(config)
    assert [(p.key_path, p.problem) for p in excinfo.value.problems] == [
        ("databases.catalog.url", f"expected a database URL string, got {got}")
    ]
    text = "\n".join(excinfo.value.lines())
    assert SECRET not in text
    assert "123456789" not in text


# --- layering of defaults ------------------------------------------------------------------------

LAYERS = """
    defaults:
      connect_timeout: 1
      version_table: top_version
      batch: never
      transaction: per_run
    databases:
      catalog:
        url: sqlite:///catalog.db
        bases: [{label: catalog, path: catalog_versions}]
        version_table: catalog_version
        batch: always
        transaction: per_revision
      monitor:
        url: sqlite:///monitor.db
        bases: [{label: monitor, path: monitor_versions}]
    profiles:
      ci:
        defaults:
          batch: auto
          transaction: per_run
        databases:
          catalog:
            transaction: per_revision
            version_table_schema: ci_schema
"""


def test_top_level_defaults_fill_keys_a_database_does_not_set(tmp_path):
    monitor = load(write(tmp_path, LAYERS)).databases["monitor"]
    assert (monitor.connect_timeout, monitor.version_table, monitor.batch, monitor.transaction) == (
        1,
        "top_version",
        "never",
        "per_run",
    )


def test_database_entry_beats_top_level_defaults(tmp_path):
    catalog = load(write(tmp_path, LAYERS)).databases["catalog"]
    assert (catalog.connect_timeout, catalog.version_table, catalog.batch, catalog.transaction) == (
        1,
        "catalog_version",
        "always",
        "per_revision",
    )


def test_profile_defaults_beat_the_database_entry(tmp_path):
    project = load(write(tmp_path, LAYERS), profile="ci")
    assert project.databases["catalog"].batch == "auto"
    assert project.databases["monitor"].batch == "auto"
    assert project.databases["monitor"].transaction == "per_run"


def test_profile_database_entry_beats_profile_defaults(tmp_path):
    catalog = load(write(tmp_path, LAYERS), profile="ci").databases["catalog"]
    assert catalog.transaction == "per_revision"
    assert catalog.version_table_schema == "ci_schema"
    # keys no profile layer touches keep their lower-layer values
    assert catalog.version_table == "catalog_version"
    assert catalog.connect_timeout == 1


def test_profile_entry_only_affects_its_own_database(tmp_path):
    monitor = load(write(tmp_path, LAYERS), profile="ci").databases["monitor"]
    assert monitor.version_table_schema is None


def test_problem_in_a_profile_default_is_reported_at_that_layer(tmp_path):
    config = write(tmp_path, LAYERS + "            metadata: '${CI_MODELS}'\n")
    found = problems(config, profile="ci")
    assert found == [("profiles.ci.databases.catalog.metadata", "environment variable CI_MODELS is not set")]


def test_wrong_type_in_top_level_defaults_is_reported_there(tmp_path):
    config = write(tmp_path, LAYERS.replace("connect_timeout: 1", "connect_timeout: 0"))
    assert problems(config) == [
        ("defaults.connect_timeout", "expected a number of seconds greater than 0, got an integer 0")
    ]


# --- batch mode ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("batch", "url", "expected"),
    [
        ("auto", "sqlite:///x.db", True),
        ("auto", "postgresql://app@db.example/x", False),
        ("always", "sqlite:///x.db", True),
        ("always", "postgresql://app@db.example/x", True),
        ("never", "sqlite:///x.db", False),
        ("never", "postgresql://app@db.example/x", False),
    ],
)
def test_uses_batch(batch, url, expected):
    assert make_db(url, batch).uses_batch() is expected


def test_uses_batch_auto_follows_an_explicit_dialect():
    assert make_db("postgresql://app@db.example/x").uses_batch("sqlite") is True
    assert make_db("sqlite:///x.db").uses_batch("postgresql") is False


def test_uses_batch_from_a_loaded_config(tmp_path):
    config = write(tmp_path, LAYERS)
    assert load(config).databases["monitor"].uses_batch() is False  # batch: never from defaults
    assert load(config, profile="ci").databases["monitor"].uses_batch() is True  # auto on sqlite


# --- properties of ${VAR} expansion --------------------------------------------------------------

if importlib.util.find_spec("hypothesis") is not None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    NO_DOLLAR = st.text().filter(lambda s: "$" not in s)
    NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]*", fullmatch=True)
    quick = settings(database=None, max_examples=200, deadline=None)

    @quick
    @given(NO_DOLLAR)
    def test_text_without_a_dollar_is_unchanged(text):
        assert interpolate.expand(text, {}) == text

    @quick
    @given(NO_DOLLAR, NO_DOLLAR)
    def test_double_dollar_yields_a_single_dollar(before, after):
        assert interpolate.expand(f"{before}$${after}", {}) == f"{before}${after}"

    @quick
    @given(st.text())
    def test_escaping_every_dollar_round_trips(text):
        assert interpolate.expand(text.replace("$", "$$"), {}) == text

    @quick
    @given(NAMES, st.text())
    def test_a_reference_expands_to_the_value_verbatim(name, value):
        assert interpolate.expand(f"<${{{name}}}>", {name: value}) == f"<{value}>"

else:

    def test_expand_properties_need_hypothesis():
        pytest.importorskip("hypothesis")

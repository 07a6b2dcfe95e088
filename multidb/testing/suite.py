"""The tests the plugin generates for every database of the config.

This module is collected as if it were a test module sitting at the config file; the plugin
parametrizes ``multidb_case`` (database, base, dialect) for each function, so a failure reads
``config/multidb.yaml::test_stairway[catalog-postgresql]``. Every test is one call of a plain
function of :mod:`multidb.testing.checks`; the fixtures come from :mod:`multidb.testing.plugin`.
"""

from __future__ import annotations

import pytest

from ..config import Project
from . import checks
from .data import MigrationData
from .dialects import offline_url
from .plan import Case


def test_single_head(multidb_case_project: Project, multidb_case: Case) -> None:
    """The base has one head: no unmerged branches (several bases in one database are fine)."""
    checks.check_single_head(multidb_case_project, multidb_case.database, multidb_case.base)


def test_offline_sql(multidb_case_project: Project, multidb_case: Case, multidb_server_urls: dict[str, str]) -> None:
    """The SQL of the whole history renders for the dialect without connecting (``upgrade --sql``)."""
    url = offline_url(multidb_case.dialect or "sqlite", multidb_server_urls)
    checks.check_offline(multidb_case_project, multidb_case.database, url, on=multidb_case.dialect)


def test_lint(multidb_case_project: Project, multidb_case: Case, multidb_server_urls: dict[str, str]) -> None:
    """No error-level lint finding for the dialect in the revisions after ``lint_since`` (all without it)."""
    url = offline_url(multidb_case.dialect or "sqlite", multidb_server_urls)
    checks.check_lint(multidb_case_project, multidb_case.database, url, on=multidb_case.dialect)


def test_upgrade(multidb_scratch: Project, multidb_case: Case) -> None:
    """An empty database upgrades to heads."""
    checks.check_upgrade(multidb_scratch, multidb_case.database, on=multidb_case.dialect)


def test_stairway(multidb_scratch: Project, multidb_case: Case, multidb_notes: list[str]) -> None:
    """Each revision upgrades, downgrades to the same schema, and upgrades again (irreversible ones: up only)."""
    checks.check_stairway(multidb_scratch, multidb_case.database, on=multidb_case.dialect, notes=multidb_notes)


def test_clean_downgrade(multidb_scratch: Project, multidb_case: Case, multidb_notes: list[str]) -> None:
    """Downgrading from heads to base (or to the irreversible revisions) leaves nothing but the version table."""
    checks.check_clean_downgrade(multidb_scratch, multidb_case.database, on=multidb_case.dialect, notes=multidb_notes)


def test_drift(multidb_scratch: Project, multidb_case: Case) -> None:
    """At heads, the models and the database match (autogenerate finds nothing)."""
    checks.check_drift(multidb_scratch, multidb_case.database, on=multidb_case.dialect)


def test_data_survival(
    multidb_scratch: Project, multidb_case: Case, multidb_data: MigrationData, multidb_obsolete: list[str]
) -> None:
    """The rows registered before a revision are what the checks registered after it expect (checks on
    revisions a baseline replaced are listed in the summary instead)."""
    if not multidb_data.for_database(multidb_case.database):
        pytest.skip(f"no data registered for database '{multidb_case.database}' (see the multidb_data fixture)")
    checks.check_data(
        multidb_scratch, multidb_case.database, multidb_data, on=multidb_case.dialect, obsolete=multidb_obsolete
    )


def test_schema_parity(multidb_scratch: Project, multidb_scratch_other: Project, multidb_case: Case) -> None:
    """At heads, the schema on both dialects is the same (types compared by affinity)."""
    checks.check_parity(
        multidb_scratch,
        multidb_scratch_other,
        multidb_case.database,
        left_on=multidb_case.dialect,
        right_on=multidb_case.other,
    )

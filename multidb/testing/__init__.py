"""Test every database's migrations: stairway, drift, heads per base, data survival, schema parity.

The pytest plugin (:mod:`multidb.testing.plugin`, registered through the ``pytest11`` entry point)
generates the tests; the checks are plain functions a test can also call itself::

    from multidb.testing import check_stairway

    def test_catalog_on_postgresql(multidb_throwaway):
        project = multidb_throwaway("catalog", "postgresql")
        check_stairway(project, "catalog")

Names are imported on first use, so loading the plugin in a project that does not use it stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MigrationCheckFailed": "checks",
    "check_clean_downgrade": "checks",
    "check_data": "checks",
    "check_drift": "checks",
    "check_offline": "checks",
    "check_parity": "checks",
    "check_single_head": "checks",
    "check_stairway": "checks",
    "check_upgrade": "checks",
    "MigrationData": "data",
    "Servers": "dialects",
    "ServerUnavailable": "dialects",
    "retarget": "dialects",
    "compare": "parity",
    "snapshot": "parity",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'multidb.testing' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

"""Rows for the example project's data migrations, used by ``test_data_survival`` (ini: multidb_data).

catalog c1a0f0a1b004 seeds two reference locations and backfills ``files.checksum_algorithm``;
monitor e2b0f0a1d003 adds ``warnings.code``, and the warnings already there must survive it.
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa

from multidb.testing import MigrationData

data = MigrationData()

data.before(
    "catalog",
    "c1a0f0a1b004",
    {
        "locations": [{"id": 10, "name": "scratch", "kind": "disk"}],
        "holdings": [{"id": 1, "name": "survey", "location_id": 10}],
        "files": [
            {"id": 1, "holding_id": 1, "path": "a.nc", "size_bytes": 10, "checksum": "ab12"},
            {"id": 2, "holding_id": 1, "path": "b.nc", "size_bytes": 20, "checksum": None},
            {"id": 3, "holding_id": 1, "path": "c.nc", "checksum": "cd34", "checksum_algorithm": "md5"},
        ],
    },
)
data.after(
    "catalog",
    "c1a0f0a1b004",
    {
        "files": [
            {"id": 1, "checksum": "ab12", "checksum_algorithm": "sha256"},  # backfilled
            {"id": 2, "checksum": None, "checksum_algorithm": None},  # no checksum: left alone
            {"id": 3, "checksum": "cd34", "checksum_algorithm": "md5"},  # already set: kept
        ],
        "locations": [{"name": "scratch"}, {"name": "primary-disk"}, {"name": "archive-tape"}],
    },
)


@data.after("catalog", "c1a0f0a1b004")
def no_file_lost(conn: sa.Connection) -> None:
    assert conn.execute(sa.text("SELECT count(*) FROM files")).scalar() == 3


data.before(
    "monitor",
    "e2b0f0a1d003",
    {
        "transaction_records": [
            {"id": 1, "transaction_ref": "t-1", "status": "done", "started_at": datetime.datetime(2026, 1, 1)}
        ],
        "warnings": [
            {"id": 1, "record_id": 1, "level": "warn", "message": "slow tape"},
            {"id": 2, "record_id": None, "level": "info", "message": "no record"},
        ],
    },
)
data.after(
    "monitor",
    "e2b0f0a1d003",
    {
        "warnings": [
            {"id": 1, "level": "warn", "message": "slow tape", "code": None},
            {"id": 2, "level": "info", "message": "no record", "code": None},
        ]
    },
)

"""Rows for the example project's data migrations, used by ``test_data_survival`` (ini: multidb_data).

catalog c1a0f0a1b004 seeds two reference locations and backfills ``files.checksum_algorithm``;
monitor e2b0f0a1d003 adds ``warnings.code``, and the warnings already there must survive it.
The rename releases (catalog c1a0f0a1b005-007: locations.kind -> medium; monitor e2b0f0a1d004-006:
warnings.level -> severity) must carry every value over, including rows that the previous
release's code wrote after the data step ran (only the old column set).
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


# the data step copies kind into the new column
data.after("catalog", "c1a0f0a1b006", {"locations": [{"id": 10, "kind": "disk", "medium": "disk"}]})
# after it, the old code (writes kind only) and the new code (writes medium only) both insert
data.before(
    "catalog",
    "c1a0f0a1b007",
    {"locations": [{"id": 21, "name": "late-old-code", "kind": "tape"}, {"id": 22, "name": "new", "medium": "cloud"}]},
)
data.after(
    "catalog",
    "c1a0f0a1b007",
    {
        "locations": [
            {"id": 10, "name": "scratch", "medium": "disk"},
            {"id": 21, "name": "late-old-code", "medium": "tape"},  # caught up by the contract step
            {"id": 22, "name": "new", "medium": "cloud"},
        ]
    },
)

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
data.after(
    "monitor",
    "e2b0f0a1d005",
    {"warnings": [{"id": 1, "level": "warn", "severity": "warn"}, {"id": 2, "level": "info", "severity": "info"}]},
)
data.before("monitor", "e2b0f0a1d006", {"warnings": [{"id": 3, "level": "error", "message": "late old code"}]})
data.after(
    "monitor",
    "e2b0f0a1d006",
    {
        "warnings": [
            {"id": 1, "severity": "warn", "message": "slow tape"},
            {"id": 2, "severity": "info", "message": "no record"},
            {"id": 3, "severity": "error", "message": "late old code"},
        ]
    },
)

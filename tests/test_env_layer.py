"""The shared environment layer: logging left alone, histories read once, transactional SQLite."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from multidb import alembic_config, engines, load_config
from multidb.commands import status, upgrade
from multidb.redact import scrub

from example_project import CATALOG_HEAD, CATALOG_REVS


def _logging_state() -> tuple:
    root = logging.getLogger()
    loggers = {
        name: (lg.level, list(lg.handlers), lg.disabled)
        for name, lg in logging.root.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    return root.level, list(root.handlers), loggers


def test_upgrade_in_process_leaves_host_logging_alone(project):
    app_logger = logging.getLogger("host.app")
    app_logger.setLevel(logging.DEBUG)
    before = _logging_state()
    results = upgrade(load_config(project / "config" / "multidb.yaml"), all_=True)
    assert [r.result for r in results] == ["upgraded", "upgraded"]
    after = _logging_state()
    assert after[:2] == before[:2]  # root level and handlers
    # every logger that existed before keeps its level, handlers and enabled state
    assert {name: after[2][name] for name in before[2]} == before[2]
    assert not app_logger.disabled


def test_history_is_read_once_per_set_of_folders(project):
    cfg = load_config(project / "config" / "multidb.yaml")
    catalog = cfg.databases["catalog"]
    first = alembic_config.script_directory(cfg, catalog)
    status(cfg, all_=True)
    upgrade(cfg, all_=True)
    assert alembic_config.script_directory(cfg, catalog) is first
    # the same folders under another profile share the cached history too
    again = load_config(project / "config" / "multidb.yaml", profile="local")
    assert alembic_config.script_directory(again, again.databases["catalog"]) is first


def test_history_is_read_again_after_a_file_is_added(project):
    cfg = load_config(project / "config" / "multidb.yaml")
    catalog = cfg.databases["catalog"]
    first = alembic_config.script_directory(cfg, catalog)
    assert len(list(first.walk_revisions())) == len(CATALOG_REVS)
    folder = catalog.bases[0].path
    (folder / "zz_extra.py").write_text(
        f'"""extra"""\nrevision = "zz01"\ndown_revision = "{CATALOG_HEAD}"\nbranch_labels = None\n'
        "depends_on = None\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    )
    import os

    os.utime(folder, ns=(1, folder.stat().st_mtime_ns + 1_000_000))
    fresh = alembic_config.script_directory(cfg, catalog)
    assert fresh is not first
    assert fresh.get_current_head() == "zz01"


def test_sqlite_ddl_rolls_back_with_its_transaction(tmp_path, project):
    cfg = load_config(project / "config" / "multidb.yaml")
    db = cfg.databases["catalog"]
    with engines.connect(db) as conn:
        with conn.begin() as tx:
            conn.exec_driver_sql("CREATE TABLE half_done (id INTEGER)")
            tx.rollback()
        assert not sa.inspect(conn).has_table("half_done")


@pytest.mark.parametrize("secret", ["pa55", "p@ss:w/rd%"])
def test_scrub_removes_plain_and_url_encoded_secrets(secret):
    from urllib.parse import quote_plus

    text = f"postgresql://u:{quote_plus(secret)}@h/db failed for {secret}"
    cleaned = scrub(text, [secret])
    assert secret not in cleaned and quote_plus(secret) not in cleaned
    assert cleaned.count("***") == 2

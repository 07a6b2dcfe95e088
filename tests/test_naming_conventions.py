"""The models' naming convention reaches the constraints that ``op.*`` creates, as with Alembic's own env.py.

A tiny project (built in a temp folder) has models with ``MetaData(naming_convention=...)`` and a
revision that creates a check, two unique and a foreign-key constraint. Alembic's generic env.py
passes ``target_metadata`` to ``context.configure()``, so the check constraint "positive" is named
``ck_child_positive``; multidb must name it the same, or a database made by one cannot be downgraded
by the other. Real SQLite (batch mode), PostgreSQL and MariaDB; Alembic's own env.py is the reference.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from assertions import one_error_line, user_tables
from click.testing import CliRunner
from sqlalchemy.pool import NullPool

MODELS = """
import sqlalchemy as sa

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})
"""

TABLES = '''"""parent and child

Revision ID: a1
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "a1"
down_revision = None
branch_labels = ("app",)
depends_on = None


def upgrade():
    op.create_table("parent", sa.Column("id", sa.Integer, primary_key=True))
    op.create_table(
        "child",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.Integer),
        sa.Column("amount", sa.Integer),
        sa.Column("code", sa.String(20)),
        sa.Column("label", sa.String(20)),
    )


def downgrade():
    op.drop_table("child")
    op.drop_table("parent")
'''

CONSTRAINTS = '''"""constraints, named by the models' convention

Revision ID: a2
Revises: a1
"""
from alembic import op

revision = "a2"
down_revision = "a1"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_context().dialect.name == "sqlite":
        with op.batch_alter_table("child") as batch_op:
            batch_op.create_check_constraint("positive", "amount > 0")
            batch_op.create_unique_constraint(None, ["code"])
            batch_op.create_unique_constraint("child_label_key", ["label"])
            batch_op.create_foreign_key(None, "parent", ["parent_id"], ["id"])
    else:
        op.create_check_constraint("positive", "child", "amount > 0")
        op.create_unique_constraint(None, "child", ["code"])
        op.create_unique_constraint("child_label_key", "child", ["label"])
        op.create_foreign_key(None, "child", "parent", ["parent_id"], ["id"])


def downgrade():
    if op.get_context().dialect.name == "sqlite":
        with op.batch_alter_table("child") as batch_op:
            batch_op.drop_constraint("fk_child_parent_id_parent", type_="foreignkey")
            batch_op.drop_constraint("child_label_key", type_="unique")
            batch_op.drop_constraint("uq_child_code", type_="unique")
            batch_op.drop_constraint("positive", type_="check")
    else:
        op.drop_constraint("fk_child_parent_id_parent", "child", type_="foreignkey")
        op.drop_constraint("child_label_key", "child", type_="unique")
        op.drop_constraint("uq_child_code", "child", type_="unique")
        op.drop_constraint("positive", "child", type_="check")
'''

# Alembic's generic env.py (alembic init), as a project would keep it, minus logging
ALEMBIC_ENV = """
from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

import nc_models

target_metadata = nc_models.metadata
url = context.config.get_main_option("sqlalchemy.url")

if context.is_offline_mode():
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    with create_engine(url, poolclass=NullPool).connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
"""

EXPECTED = {
    "check": {"ck_child_positive"},
    "unique": {"uq_child_code", "child_label_key"},
    "foreignkey": {"fk_child_parent_id_parent"},
}


def make_project(root: Path, url: str, models: str = MODELS) -> Path:
    (root / "versions").mkdir(parents=True)
    (root / "config").mkdir()
    (root / "nc_models.py").write_text(models)
    (root / "versions" / "a1_tables.py").write_text(TABLES)
    (root / "versions" / "a2_constraints.py").write_text(CONSTRAINTS)
    config = {
        "python_path": [".."],
        "databases": {
            "app": {"url": url, "bases": [{"label": "app", "path": "../versions"}], "metadata": "nc_models:metadata"}
        },
    }
    (root / "config" / "multidb.yaml").write_text(yaml.safe_dump(config))
    return root


def multidb(root: Path, *args: str):
    """The CLI in-process, as a new process would run it (the models not imported yet)."""
    from multidb.cli import main

    sys.modules.pop("nc_models", None)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(cwd)


def alembic(root: Path, url: str, action: str, target: str) -> None:
    """Alembic's own command on the same revisions, with its generic env.py."""
    from alembic import command
    from alembic.config import Config

    scripts = root / "alembic_env"
    if not scripts.exists():
        scripts.mkdir()
        (scripts / "env.py").write_text(ALEMBIC_ENV)
        (scripts / "script.py.mako").write_text("")
    cfg = Config()
    cfg.set_main_option("script_location", str(scripts))
    cfg.set_main_option("version_locations", str(root / "versions"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("sqlalchemy.url", with_driver(url))
    sys.path.insert(0, str(root))
    try:
        getattr(command, action)(cfg, target)
    finally:
        sys.path.remove(str(root))


def with_driver(url: str) -> str:
    """The URL with a driver this environment has (SQLAlchemy's default for postgresql:// is psycopg 3)."""
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


def constraint_names(url: str) -> dict[str, set[str]]:
    engine = sa.create_engine(with_driver(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            return {
                "check": {c["name"] for c in inspector.get_check_constraints("child")},
                "unique": {c["name"] for c in inspector.get_unique_constraints("child")},
                "foreignkey": {c["name"] for c in inspector.get_foreign_keys("child")},
            }
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def two_urls(request, tmp_path):
    """Two empty databases of one dialect: one for multidb, one for Alembic's own env.py."""
    if request.param == "sqlite":
        return [f"sqlite:///{tmp_path / 'multidb.db'}", f"sqlite:///{tmp_path / 'alembic.db'}"]
    factory = request.getfixturevalue("pg_database" if request.param == "postgresql" else "mariadb_database")
    return [factory(), factory()]


def test_constraints_are_named_as_alembics_env_names_them(tmp_path, two_urls):
    ours, theirs = two_urls
    root = make_project(tmp_path / "project", ours)
    result = multidb(root, "upgrade", "app")
    assert result.exit_code == 0, result.output
    alembic(root, theirs, "upgrade", "heads")
    assert constraint_names(theirs) == EXPECTED  # what Alembic's own env.py makes
    assert constraint_names(ours) == EXPECTED

    # each can downgrade the database the other made
    result = multidb(root, "downgrade", "app", "--to", "a1")
    assert result.exit_code == 0, result.output
    assert constraint_names(ours) == {"check": set(), "unique": set(), "foreignkey": set()}
    alembic(root, ours, "upgrade", "heads")
    assert constraint_names(ours) == EXPECTED


def test_a_database_made_by_alembic_is_downgraded_by_multidb(tmp_path, two_urls):
    _, theirs = two_urls
    root = make_project(tmp_path / "project", theirs)
    alembic(root, theirs, "upgrade", "heads")
    result = multidb(root, "downgrade", "app", "--to", "a1")
    assert result.exit_code == 0, result.output
    assert constraint_names(theirs) == {"check": set(), "unique": set(), "foreignkey": set()}


@pytest.mark.parametrize("url", ["postgresql://app@db.internal/app", "mysql+pymysql://app@db.internal/app"])
def test_offline_sql_names_constraints_by_the_convention(tmp_path, url):
    root = make_project(tmp_path / "project", url)
    result = multidb(root, "upgrade", "app", "--sql")
    assert result.exit_code == 0, result.output
    sql = (root / "sql" / "app.sql").read_text()
    for name in ("ck_child_positive", "uq_child_code", "child_label_key", "fk_child_parent_id_parent"):
        assert f"CONSTRAINT {name}" in sql, sql
    assert "CONSTRAINT positive" not in sql
    result = multidb(root, "downgrade", "app", "--sql", "--to", "heads:a1")
    assert result.exit_code == 0, result.output
    assert "ck_child_positive" in (root / "sql" / "app.downgrade.sql").read_text()


def test_models_that_fail_to_import_are_a_config_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    root = make_project(tmp_path / "project", url, models="raise RuntimeError('models are broken')\n")
    result = multidb(root, "upgrade", "app")
    assert result.exit_code == 2, result.output
    line = one_error_line(result.stderr)  # after the result table: the run had started
    assert "databases.app.metadata: cannot import 'nc_models': RuntimeError: models are broken" in line
    assert "Traceback" not in result.output
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        assert not user_tables(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_run_with_nothing_to_do_does_not_import_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    root = make_project(tmp_path / "project", url)
    assert multidb(root, "upgrade", "app").exit_code == 0
    (root / "nc_models.py").write_text("raise RuntimeError('imported')\n")
    result = multidb(root, "upgrade", "app")
    assert result.exit_code == 0, result.output
    result = multidb(root, "stamp", "app", "--to", "a1")
    assert result.exit_code == 0, result.output


def test_a_config_without_metadata_never_imports_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    root = make_project(tmp_path / "project", url, models="raise RuntimeError('imported')\n")
    config = root / "config" / "multidb.yaml"
    config.write_text(config.read_text().replace("metadata: nc_models:metadata", ""))
    result = multidb(root, "upgrade", "app", "--to", "a1")
    assert result.exit_code == 0, result.output

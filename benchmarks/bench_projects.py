"""Generate everything the benchmark runs: revision files, configs and the three Alembic anchors.

Nothing here runs a migration. ``write_projects(root, ...)`` lays out, under ``root``::

    versions/a, versions/b     two independent histories (K = 2), used by multidb and anchors (a), (c)
    versions/fleet             the fleet's history, shared by every target
    anchor/alembic.ini         anchor (a) and (c): one [section] per database, a generic env.py
    anchor/env/env.py          the generic environment (-x tenant=NAME picks a fleet target)
    anchor/drive.py            anchor (c): one process calling alembic.command.upgrade per database
    multi/alembic.ini          anchor (b): Alembic's "multidb" layout, `databases = a, b`
    multi/env.py, multi/versions/
                               one history whose revisions carry upgrade_a() and upgrade_b()
    multidb/k2.yaml            multidb: the two databases (k2_per_run.yaml: with transaction: per_run)
    multidb/fleet.yaml         multidb: the fleet (all targets); fleet_half.yaml: the first half

The revisions are generated text: even steps create a table, odd steps add a column to it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

K_NAMES = ("a", "b")


@dataclass(frozen=True)
class Urls:
    """The URLs of one dialect's databases. ``fleet`` holds ``{tenant}`` for a fleet by database."""

    dialect: str
    k2: dict[str, str]  # database name -> URL
    fleet: str
    fleet_by: str  # "schema" or "database"


def revision_id(history: str, i: int) -> str:
    """A 12-character id that starts with a digit, so it never reads as a branch label."""
    return f"{i:04d}" + hashlib.sha1(f"{history}:{i}".encode()).hexdigest()[:8]


def _ops(i: int, indent: str = "    ") -> tuple[str, str]:
    """The upgrade and downgrade body of step ``i``: create a table, or add a column to the last one."""
    if i % 2 == 0:
        up = (
            f"{indent}op.create_table(\n"
            f'{indent}    "t{i:03d}",\n'
            f'{indent}    sa.Column("id", sa.Integer(), primary_key=True),\n'
            f'{indent}    sa.Column("name", sa.String(length=50), nullable=False),\n'
            f'{indent}    sa.Column("created_at", sa.DateTime(), nullable=True),\n'
            f"{indent})\n"
        )
        down = f'{indent}op.drop_table("t{i:03d}")\n'
    else:
        up = f'{indent}op.add_column("t{i - 1:03d}", sa.Column("c{i:03d}", sa.String(length=50), nullable=True))\n'
        down = (
            f'{indent}with op.batch_alter_table("t{i - 1:03d}") as batch:\n{indent}    batch.drop_column("c{i:03d}")\n'
        )
    return up, down


def _header(history: str, i: int, label: str | None) -> str:
    rev = revision_id(history, i)
    down = repr(revision_id(history, i - 1)) if i else "None"
    labels = repr((label,)) if label and i == 0 else "None"
    return (
        f'"""{history} step {i}\n\nRevision ID: {rev}\nRevises: {"" if not i else revision_id(history, i - 1)}\n"""\n\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f"revision = {rev!r}\n"
        f"down_revision = {down}\n"
        f"branch_labels = {labels}\n"
        "depends_on = None\n\n\n"
    )


def write_history(folder: Path, history: str, count: int) -> None:
    """``count`` ordinary revisions (``upgrade()``), the first carrying the branch label ``history``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        up, down = _ops(i)
        text = _header(history, i, history) + f"def upgrade():\n{up}\n\ndef downgrade():\n{down}"
        (folder / f"{revision_id(history, i)}_step_{i:03d}.py").write_text(text)


def write_multi_history(folder: Path, names: tuple[str, ...], count: int) -> None:
    """Anchor (b): one history; every revision dispatches to ``upgrade_<db>()`` for each database."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        up, down = _ops(i)
        parts = [
            _header("multi", i, None),
            "def upgrade(engine_name):\n    globals()[f'upgrade_{engine_name}']()\n\n\n",
            "def downgrade(engine_name):\n    globals()[f'downgrade_{engine_name}']()\n",
        ]
        for name in names:
            parts.append(f"\n\ndef upgrade_{name}():\n{up}\n\ndef downgrade_{name}():\n{down}")
        (folder / f"{revision_id('multi', i)}_step_{i:03d}.py").write_text("".join(parts))


# A generic env.py, as `alembic init` users keep one: logging from the ini, an engine from
# sqlalchemy.url, one transaction per run. `-x tenant=NAME` (or Config.attributes["tenant"], for the
# in-process driver) picks a fleet target: `{tenant}` in the URL is a database, else a schema.
GENERIC_ENV = """\
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool, text

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

tenant = config.attributes.get("tenant") or context.get_x_argument(as_dictionary=True).get("tenant")
url = config.get_main_option("sqlalchemy.url")
schema = None
if tenant:
    if "{tenant}" in url:
        url = url.replace("{tenant}", tenant)
    else:
        schema = tenant


def run_migrations_offline():
    context.configure(
        url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, version_table_schema=schema
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        if schema:
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            connection.execute(text(f'SET search_path TO "{schema}"'))
            connection.commit()
        context.configure(
            connection=connection,
            version_table_schema=schema,
            transaction_per_migration=bool(config.attributes.get("per_migration")),
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
"""

# Anchor (b), written after what Alembic's `multidb` template does: the databases are listed in
# the main section; online, a transaction is opened on every database, each database runs the
# shared history with engine_name=<db> (so each revision runs its upgrade_<db>()), then all commit;
# offline, one <db>.sql file per database.
MULTI_ENV = """\
import re
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

names = [n for n in re.split(r",\\s*", config.get_main_option("databases", "")) if n]
urls = {name: config.get_section_option(name, "sqlalchemy.url") for name in names}


def run_migrations_offline():
    folder = Path(config.get_main_option("sql_output", "."))
    for name in names:
        with open(folder / f"{name}.sql", "w") as buffer:
            context.configure(
                url=urls[name], output_buffer=buffer, literal_binds=True, dialect_opts={"paramstyle": "named"}
            )
            with context.begin_transaction():
                context.run_migrations(engine_name=name)


def run_migrations_online():
    open_ = {}
    try:
        for name in names:
            connection = create_engine(urls[name], poolclass=pool.NullPool).connect()
            open_[name] = (connection, connection.begin())
        for name in names:
            context.configure(
                connection=open_[name][0],
                upgrade_token=f"{name}_upgrades",
                downgrade_token=f"{name}_downgrades",
            )
            context.run_migrations(engine_name=name)
        for connection, transaction in open_.values():
            transaction.commit()
    except BaseException:
        for connection, transaction in open_.values():
            transaction.rollback()
        raise
    finally:
        for connection, _ in open_.values():
            connection.close()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
"""

DRIVER = '''\
"""Anchor (c): one Python process calling alembic.command.upgrade for each database or target.

    python drive.py alembic.ini a,b                  # each section in turn
    python drive.py alembic.ini fleet t000 t001 ...  # the fleet section, once per tenant
    python drive.py --per-migration alembic.ini a,b  # anchor (d): a transaction per revision
"""

import sys

from alembic import command
from alembic.config import Config

args = sys.argv[1:]
per_migration = args[0] == "--per-migration"
ini, sections, *tenants = args[1:] if per_migration else args
for section in sections.split(","):
    for tenant in tenants or [None]:
        cfg = Config(ini, ini_section=section)
        cfg.attributes["per_migration"] = per_migration
        if tenant:
            cfg.attributes["tenant"] = tenant
        command.upgrade(cfg, "head")
'''

LOGGING_INI = """\
[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
"""


def _section(name: str, options: dict[str, str]) -> str:
    return f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in options.items()) + "\n"


def _yaml_names(names: list[str]) -> str:
    return "[" + ", ".join(names) + "]"


def write_projects(root: Path, urls: Urls, k_revisions: int, fleet_revisions: int, tenants: list[str]) -> None:
    """Write every project under ``root`` (see the module docstring)."""
    versions = root / "versions"
    for name in K_NAMES:
        write_history(versions / name, name, k_revisions)
    write_history(versions / "fleet", "fleet", fleet_revisions)

    anchor = root / "anchor"
    (anchor / "env").mkdir(parents=True, exist_ok=True)
    (anchor / "env" / "env.py").write_text(GENERIC_ENV)
    (anchor / "drive.py").write_text(DRIVER)
    sections = [
        _section(
            name,
            {
                "script_location": str(anchor / "env"),
                "version_locations": str(versions / name),
                "path_separator": "os",
                "sqlalchemy.url": urls.k2[name],
            },
        )
        for name in K_NAMES
    ]
    sections.append(
        _section(
            "fleet",
            {
                "script_location": str(anchor / "env"),
                "version_locations": str(versions / "fleet"),
                "path_separator": "os",
                "sqlalchemy.url": urls.fleet,
            },
        )
    )
    (anchor / "alembic.ini").write_text("".join(sections) + LOGGING_INI)

    multi = root / "multi"
    write_multi_history(multi / "versions", K_NAMES, k_revisions)
    (multi / "env.py").write_text(MULTI_ENV)
    (multi / "sql").mkdir(exist_ok=True)
    main = {
        "script_location": str(multi),
        "path_separator": "os",
        "databases": ", ".join(K_NAMES),
        "sql_output": str(multi / "sql"),
    }
    text = _section("alembic", main) + "".join(_section(n, {"sqlalchemy.url": urls.k2[n]}) for n in K_NAMES)
    (multi / "alembic.ini").write_text(text + LOGGING_INI)

    cfg = root / "multidb"
    cfg.mkdir(exist_ok=True)
    k2 = ["databases:"]
    for name in K_NAMES:
        k2 += [f"  {name}:", f'    url: "{urls.k2[name]}"', f"    bases: [{{label: {name}, path: ../versions/{name}}}]"]
    (cfg / "k2.yaml").write_text("\n".join(k2) + "\n")
    # the same, with one transaction per database and run (as the anchors' env.py), for comparison
    (cfg / "k2_per_run.yaml").write_text("defaults: {transaction: per_run}\n" + "\n".join(k2) + "\n")
    for file, names in (("fleet.yaml", tenants), ("fleet_half.yaml", tenants[: len(tenants) // 2])):
        lines = [
            "databases:",
            "  fleet:",
            f'    url: "{urls.fleet}"',
            "    bases: [{label: fleet, path: ../versions/fleet}]",
            f"    fleet: {{by: {urls.fleet_by}, names: {_yaml_names(names)}}}",
        ]
        (cfg / file).write_text("\n".join(lines) + "\n")

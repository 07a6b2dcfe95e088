"""A lockstep env.py: every revision runs once per engine, with that engine's name (a fixture of
multidb's import tests, written for them; online only)."""

import re

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
names = [n for n in re.split(r"[\s,]+", config.get_main_option("databases", "")) if n]

for name in names:
    engine = engine_from_config(config.get_section(name, {}), prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            upgrade_token=f"{name}_upgrades",
            downgrade_token=f"{name}_downgrades",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations(engine_name=name)
    engine.dispose()

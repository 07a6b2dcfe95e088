"""The catalog database's env.py, customized the way real ones are (a fixture of multidb's import tests)."""

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
target_metadata = None


def include_object(obj, name, type_, reflected, compare_to):
    return not (type_ == "table" and name.startswith("external_"))


def settings():
    return {
        "target_metadata": target_metadata,
        "version_table": config.get_main_option("version_table", "alembic_version"),
        "include_object": include_object,
        "compare_type": True,
    }


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **settings())
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, **settings())
        with context.begin_transaction():
            context.run_migrations()

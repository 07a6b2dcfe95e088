"""The monitor database's env.py (a fixture of multidb's import tests)."""

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
version_table = config.get_main_option("version_table", "alembic_version")

if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, version_table=version_table)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET search_path TO public")
            connection.commit()  # else Alembic joins this transaction and nothing commits the migration
        context.configure(connection=connection, version_table=version_table, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()

"""The shape of a Flask-Migrate --multidb env.py: one engine per bind of the Flask app, '' for the default
one (a test fixture; never run: the tests run the split histories through multidb only)."""

from alembic import context
from flask import current_app

config = context.config
bind_names = ["", *current_app.config.get("SQLALCHEMY_BINDS", {})]

for name in bind_names:
    engine = current_app.extensions["migrate"].db.engines[name or None]
    with engine.connect() as connection:
        context.configure(connection=connection, upgrade_token=f"{name}_upgrades", downgrade_token=f"{name}_downgrades")
        with context.begin_transaction():
            context.run_migrations(engine_name=name)

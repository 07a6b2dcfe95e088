"""``multidb import``: move an Alembic or Flask-Migrate project onto multidb.

* :mod:`.source` reads ``alembic.ini`` (or ``migrations/alembic.ini``), the ``[tool.alembic]`` table of
  ``pyproject.toml`` (:mod:`.pyproject`) and the project's ``env.py`` files, and tells which of the three
  shapes the project has;
* :mod:`.writing` turns that into ``config/multidb.yaml`` (URLs as ``${VAR}`` references, never values);
* :mod:`.split` rewrites a lockstep (``multidb`` template) history into one history per database;
* :mod:`.stamping` moves each live database's version row onto its split history;
* :mod:`.verify` replays the old and the new histories from empty and compares the schemas.

Revision files of the old project are only read, never changed.
"""

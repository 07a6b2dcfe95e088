"""``python -m multidb``."""

from multidb.cli import run

run()

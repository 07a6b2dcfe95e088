"""What the ``multidb`` console script does to its own process, and only to it.

A command is a short-lived process that imports a lot (SQLAlchemy, Alembic, a dialect, every
revision file) and then, mostly, waits for a database. Two things make that start-up cheaper:

* :mod:`multidb.deferred`: the dialect modules a run does not use are never imported.
* The cyclic garbage collector is off while the process starts: what start-up creates lives until
  the end, and every full collection would walk all of it again (about 35 ms of a run of 200
  revisions). When the work begins (:func:`work_begins`: the first revision runs, or the first
  of many fleet targets is checked), the start-up's objects are moved out of the collector's
  sight (:func:`gc.freeze`) and collection is on again, so long runs and data migrations free
  their garbage as usual. At the end (:func:`finish`) everything is frozen once more, which spares
  the interpreter's last full collection at exit (about 60 ms): the process ends anyway.

A process that imports multidb as a library (an application, the pytest plugin) is left alone:
:func:`work_begins` and :func:`finish` do nothing unless :func:`prepare` ran.
"""

from __future__ import annotations

import gc

_prepared = False


def prepare() -> None:
    """Tune this process for one command (the console script calls it first thing)."""
    global _prepared
    from .deferred import install

    install()
    if gc.isenabled():
        gc.disable()
        _prepared = True


def work_begins() -> None:
    """Start-up is over: collect garbage again, leaving what start-up made alone."""
    if _prepared and not gc.isenabled():
        gc.freeze()
        gc.enable()


def finish() -> None:
    """The command is done: spare the collector's last walk over everything at exit."""
    if _prepared:
        gc.freeze()

"""Hold migration locks from another process: ``python hold_lock.py CONFIG PROFILE DB...``.

Prints ``held`` once every named database's migration lock is taken, then holds them until
its stdin is closed (or it is killed). Used by test_reliability.py to play "another runner".
"""

from __future__ import annotations

import sys

from multidb.config import load_config
from multidb.locking import locked


def main() -> None:
    config, profile, *names = sys.argv[1:]
    project = load_config(config, profile or None)
    with locked(project.select(names), 30):
        print("held", flush=True)
        sys.stdin.read()
    print("released", flush=True)


if __name__ == "__main__":
    main()

"""The operator's acceptance run: per dialect, 20 SIGKILLs and 10 SIGINTs at random moments of an upgrade.

``python tests/reliability/random_interruptions.py [KILLS SIGINTS SEED]`` runs
``test_kills_and_interrupts_at_random_moments_lose_nothing`` (tests/test_interrupts.py) with those
counts on SQLite, PostgreSQL and MariaDB. After every signal the upgrade is run again: it must end at
head with the schema of a clean run and every revision applied once. It prints, per dialect, how many
runs were killed or interrupted, how many a signal reached only after they had finished, and (MariaDB)
how many left DDL of a half-run revision that the next run named.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    kills, sigints, seed = (sys.argv[1:] + ["20", "10", "11"][len(sys.argv) - 1 :])[:3]
    env = {
        **os.environ,
        "MULTIDB_TEST_RANDOM_KILLS": kills,
        "MULTIDB_TEST_RANDOM_SIGINTS": sigints,
        "MULTIDB_TEST_RANDOM_SEED": seed,
    }
    command = [sys.executable, "-m", "pytest", "tests/test_interrupts.py", "-q", "-s", "-k", "random_moments"]
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())

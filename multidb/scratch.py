"""Names of throwaway databases: a prefix (the plugin's, adopt's, or a team's own) and a random part.

Teams that share a server give each run a prefix of their own, so that they can tell (and clean up)
their throwaway databases. A prefix is checked before anything is created: lower-case letters, digits
and ``_`` only, so it needs no quoting on any server, and short enough that the whole name fits every
server's limit on identifiers (63 characters on PostgreSQL, 64 on MariaDB and MySQL).
"""

from __future__ import annotations

import re
import uuid

PLUGIN_PREFIX = "multidb_plugin_"
ADOPT_PREFIX = "multidb_adopt_"
MAX_PREFIX = 40  # + 12 random characters: well under every server's limit
_ALLOWED = re.compile(r"[a-z0-9_]+")


def check_prefix(prefix: str) -> str:
    """``prefix`` if it can start a database name; raises ValueError saying what is wrong with it."""
    if not _ALLOWED.fullmatch(prefix):
        raise ValueError(f"'{prefix}' is not a database name prefix: use lower-case letters, digits and _ only")
    if len(prefix) > MAX_PREFIX:
        raise ValueError(f"the prefix '{prefix}' is {len(prefix)} characters long; at most {MAX_PREFIX} fit")
    return prefix


def scratch_name(prefix: str) -> str:
    """A new random database name starting with ``prefix``."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"

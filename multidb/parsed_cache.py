"""Parsed config files, cached by their content, so a command whose config did not change never imports PyYAML.

Importing PyYAML costs about 10 ms (its reader compiles a large regular expression on import),
more than parsing a config file takes, and every deploy runs a command or two that should feel
instant. So what ``yaml.safe_load`` returned for a file is kept, marshalled, in the user's cache
folder, one file per content (named by the SHA-256 of the file's bytes and of the PyYAML install
that parsed it): a file that changes in any way is a different entry, never a stale one.

* Folder: ``$MULTIDB_CACHE_DIR``, else ``$XDG_CACHE_HOME/multidb``, else ``~/.cache/multidb``;
  ``MULTIDB_CACHE_DIR=`` (empty) turns the cache off.
* Only plain data is kept (mappings, lists, strings, numbers, booleans, null); a config that parses
  to anything else (a YAML date, say) is parsed every time. So is a config with a password written
  into a URL (``user:secret@`` or ``?password=...``, not a ``${VAR}`` reference): the cache would be
  a second copy of the secret. Entries are readable by their owner only.
* A folder that cannot be created or written, or an entry that cannot be read, is passed over
  silently: the file is parsed as if there were no cache. Errors are never cached.
* The folder keeps the newest :data:`KEEP` entries: each new entry beyond that removes the oldest.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .redact import SECRET_QUERY_KEYS

CACHE_ENV = "MULTIDB_CACHE_DIR"
_FORMAT = b"multidb-parsed-1"
_PLAIN = (str, int, float, bool, type(None))
KEEP = 100
# a password in a URL's user info (unless it is a ${VAR} reference), or a secret query parameter
_SECRET = re.compile(
    r"://[^/\s@]*:(?!\$\{[^}]*\}@)[^/\s@]+@|[?&](?:" + "|".join(sorted(SECRET_QUERY_KEYS)) + ")=",
    re.IGNORECASE,
)


def folder() -> Path | None:
    """Where entries live, or None when the cache is turned off."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "multidb"


def parsed(data: bytes, parse: Callable[[bytes], Any]) -> Any:
    """``parse(data)``, or what it returned last time for the same bytes."""
    where = folder()
    entry = None if where is None else where / f"{_key(data)}.marshal"
    if entry is not None:
        found = _read(entry)
        if found is not None:
            return found
    value = parse(data)
    if entry is not None and _plain(value) and not _SECRET.search(data.decode("utf-8", "replace")):
        _write(entry, value)
    return value


def _key(data: bytes) -> str:
    import hashlib  # not at import: `multidb --help` reads no config

    digest = hashlib.sha256(_FORMAT)
    digest.update(_parser_stamp())
    digest.update(data)
    return digest.hexdigest()


def _parser_stamp() -> bytes:
    """Which PyYAML install parses (its location and its file's change time), found without importing it."""
    from importlib.util import find_spec

    try:
        spec = find_spec("yaml")
        origin = spec.origin if spec is not None else None
        stamp = os.stat(origin).st_mtime_ns if origin else 0
    except (ImportError, OSError, ValueError):
        return b"?"
    return f"{origin}:{stamp}".encode()


def _read(entry: Path) -> Any:
    try:
        value = marshal.loads(entry.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return value if isinstance(value, dict) and _plain(value) else None


def _write(entry: Path, value: Any) -> None:
    temporary = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
    try:
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(marshal.dumps(value))
        os.replace(temporary, entry)
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        return
    _prune(entry.parent)


def _prune(where: Path) -> None:
    with contextlib.suppress(OSError):
        entries = sorted(where.glob("*.marshal"), key=lambda p: p.stat().st_mtime_ns)
        for old in entries[: max(0, len(entries) - KEEP)]:
            old.unlink(missing_ok=True)


def _plain(value: Any, depth: int = 0) -> bool:
    if depth > 50:
        return False
    if isinstance(value, dict):
        return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    return isinstance(value, _PLAIN)

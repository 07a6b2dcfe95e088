"""Which generated test runs for which database, base and dialect (decided at collection time).

Only the config is read here: no history is loaded and nothing connects, so collecting stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Project


@dataclass(frozen=True)
class Case:
    """One parametrization of a generated test. ``other`` is the second dialect of a parity test."""

    database: str
    dialect: str | None = None
    base: str | None = None
    other: str | None = None

    @property
    def id(self) -> str:
        """``catalog-postgresql``, ``catalog-catalog`` (database-base), ``catalog-sqlite-postgresql``."""
        return "-".join(p for p in (self.database, self.base, self.dialect, self.other) if p)


def plan(project: Project, dialects: tuple[str, ...], offline: tuple[str, ...]) -> dict[str, list[Case]]:
    """The cases of every generated test function, by function name. A name with no case is absent."""
    names = list(project.databases)
    per_dialect = [Case(n, d) for n in names for d in dialects]
    cases = {
        "test_single_head": [Case(n, base=b.label) for n in names for b in project.databases[n].bases],
        "test_offline_sql": [Case(n, d) for n in names for d in offline],
        "test_lint": [Case(n, d) for n in names for d in offline],  # (offline too: rendered, never run)
        "test_upgrade": per_dialect,
        "test_stairway": per_dialect,
        "test_clean_downgrade": per_dialect,
        "test_drift": [c for c in per_dialect if project.databases[c.database].metadata],
        "test_data_survival": per_dialect,
        "test_schema_parity": [Case(n, dialects[0], other=o) for n in names for o in dialects[1:]],
    }
    return {name: found for name, found in cases.items() if found}


def offline_dialects(config: Path, tested: tuple[str, ...]) -> tuple[str, ...]:
    """The dialects under test, then those the config's profiles use (when their URL shows it).

    A URL that is all ``${VAR}`` does not tell its dialect until the variable is set; such a
    profile adds nothing.
    """
    found = list(tested)
    for url in _profile_urls(config):
        dialect = _dialect_of(url)
        if dialect and dialect not in found and not (dialect == "mysql" and "mariadb" in found):
            found.append(dialect)
    return tuple(found)


def _profile_urls(config: Path) -> list[str]:
    """Every database URL of every profile, unexpanded, as written in the file."""
    import yaml

    raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    databases = raw.get("databases") or {}
    profiles = raw.get("profiles") or {}
    urls = []
    for name, entry in databases.items():
        base = _url(raw.get("defaults"), entry)
        urls.append(base)
        for profile in profiles.values():
            profile = profile or {}
            entry_p = (profile.get("databases") or {}).get(name)
            urls.append(_url(profile.get("defaults"), entry_p) or base)
    return [u for u in urls if isinstance(u, str)]


def _url(*layers: Any) -> Any:
    url = None
    for layer in layers:
        if isinstance(layer, dict) and "url" in layer:
            url = layer["url"]
    return url


def _dialect_of(url: str) -> str | None:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if not scheme or "$" in scheme:
        return None
    return scheme.split("+", 1)[0].lower()

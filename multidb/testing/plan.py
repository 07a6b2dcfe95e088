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
    profile: str | None = None  # a single-head case of a base only another profile has (per-dialect profiles)

    @property
    def id(self) -> str:
        """``catalog-postgresql``, ``catalog-catalog`` (database-base), ``catalog-sqlite-postgresql``."""
        return "-".join(p for p in (self.database, self.base, self.dialect, self.other, self.profile) if p)


def plan(
    project: Project,
    dialects: tuple[str, ...],
    offline: tuple[str, ...],
    others: dict[str, Project] | None = None,
) -> dict[str, list[Case]]:
    """The cases of every generated test function, by function name. A name with no case is absent.

    ``others``: the projects of the other profiles that serve a dialect (by profile name); the bases
    only they have get single-head cases of their own.
    """
    names = list(project.databases)
    per_dialect = [Case(n, d) for n in names for d in dialects]
    heads = [Case(n, base=b.label) for n in names for b in project.databases[n].bases]
    seen = {(n, b.label, b.path) for n in names for b in project.databases[n].bases}
    for profile, other in (others or {}).items():
        for n in names:
            for b in other.databases[n].bases:
                if (n, b.label, b.path) not in seen:
                    seen.add((n, b.label, b.path))
                    heads.append(Case(n, base=b.label, profile=profile))
    cases = {
        "test_single_head": heads,
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
    profile adds nothing. SQLite is tested offline only when a URL of the config is SQLite: no one
    renders SQL for it otherwise, and its batch operations need each table's definition offline
    (``copy_from``).
    """
    shown = [_dialect_of(url) for url in _profile_urls(config)]
    found = [d for d in tested if d != "sqlite" or "sqlite" in shown]
    for dialect in shown:
        if dialect and dialect not in found and not (dialect == "mysql" and "mariadb" in found):
            found.append(dialect)
    return tuple(found)


def profiles_by_dialect(config: Path, given: str, tested: tuple[str, ...]) -> dict[str, str]:
    """Which profile serves which dialect: ``given`` (``"sqlite:local, postgresql:production"``), and
    for a dialect it does not name, the one profile with ``bases`` of its own whose URLs all show
    that dialect (a ``mysql`` URL serves ``mariadb`` too). Raises ValueError naming what is wrong.
    """
    from ..schema import did_you_mean
    from .dialects import DIALECTS

    raw = _raw(config)
    profiles = raw.get("profiles") or {}
    chosen: dict[str, str] = {}
    for part in (p.strip() for p in given.split(",")):
        if not part:
            continue
        dialect, sep, profile = (x.strip() for x in part.partition(":"))
        dialect = dialect.lower()
        if not sep or not dialect or not profile:
            raise ValueError(f"'{part}' is not DIALECT:PROFILE (e.g. postgresql:production)")
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect '{dialect}' in '{part}' (known: {', '.join(DIALECTS)})")
        if profile not in profiles:
            hint = did_you_mean(profile, profiles)
            known = ", ".join(profiles) or "none"
            raise ValueError(f"unknown profile '{profile}' in '{part}'{hint} (profiles: {known})")
        chosen[dialect] = profile
    serving: dict[str, list[str]] = {}
    for name, profile in profiles.items():
        shown = {_dialect_of(u) for u in _urls_of(raw, profile or {})}
        if len(shown) == 1 and None not in shown and _sets_bases(profile or {}):
            (dialect,) = shown
            for served in [dialect, "mariadb"] if dialect == "mysql" else [dialect]:
                serving.setdefault(served, []).append(str(name))
    for dialect, found in serving.items():
        if dialect in chosen or (len(found) > 1 and dialect not in tested):
            continue  # an ambiguity matters only where it is tested (else: the offline SQL of the default)
        if len(found) > 1:
            raise ValueError(
                f"profiles {' and '.join(found)} both have bases of their own and serve {dialect}: "
                f"choose one, e.g. {dialect}:{found[0]}"
            )
        chosen[dialect] = found[0]
    return chosen


def _raw(config: Path) -> dict:
    import yaml

    raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    return raw if isinstance(raw, dict) else {}


def _urls_of(raw: dict, profile: dict) -> list[str]:
    """The URL of every database under one profile, unexpanded."""
    urls = []
    for name, entry in (raw.get("databases") or {}).items():
        own = (profile.get("databases") or {}).get(name)
        urls.append(_url(raw.get("defaults"), entry, profile.get("defaults"), own))
    return [u for u in urls if isinstance(u, str)]


def _sets_bases(profile: dict) -> bool:
    layers = [profile.get("defaults"), *(profile.get("databases") or {}).values()]
    return any(isinstance(layer, dict) and "bases" in layer for layer in layers)


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

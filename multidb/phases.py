"""Expand → migrate → contract: releasing schema changes that old and new code both survive.

A revision marks itself as a contract step with a module-level ``phase = "contract"`` (it drops,
renames or constrains what old code still uses). ``upgrade --phase expand`` applies every pending
revision except contract steps and whatever descends from them; a plain ``upgrade`` (or
``--phase contract``) applies the rest once the new code is out.
"""

from __future__ import annotations

from typing import Any

PHASES = ("expand", "contract")


def is_contract(script: Any) -> bool:
    """Whether a revision (an Alembic Script) is a contract step."""
    return getattr(getattr(script, "module", None), "phase", None) == "contract"


def held_back(steps: list) -> set[str]:
    """Revision ids among ``steps`` that ``--phase expand`` leaves for later: contract steps and
    every pending revision that depends on one."""
    blocked: set[str] = set()
    for step in steps:  # Alembic orders upgrade steps so that parents come first
        script = step.revision
        parents = set(script._all_down_revisions)  # down revisions and depends_on, resolved
        if is_contract(script) or parents & blocked:
            blocked.add(script.revision)
    return blocked


def expand_only(steps: list) -> list:
    """The upgrade steps ``--phase expand`` runs."""
    blocked = held_back(steps)
    return [s for s in steps if s.revision.revision not in blocked]

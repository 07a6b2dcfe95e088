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
    return phase_of(script) == "contract"


def phase_of(script: Any) -> str | None:
    """The phase a revision declares (``phase = "expand"`` or ``"contract"``), else None. Only
    "contract" changes what ``upgrade --phase expand`` does; "expand" marks a step for readers
    (``multidb graph`` draws it)."""
    phase = getattr(getattr(script, "module", None), "phase", None)
    return phase if phase in PHASES else None


def held_back(steps: list, script: Any) -> set[str]:
    """Revision ids among ``steps`` that ``--phase expand`` leaves for later: contract steps and
    every pending revision that depends on one."""
    blocked: set[str] = set()
    for step in steps:  # Alembic orders upgrade steps so that parents come first
        rev = step.revision
        if is_contract(rev) or set(requires(script, rev)) & blocked:
            blocked.add(rev.revision)
    return blocked


def expand_only(steps: list, script: Any) -> list:
    """The upgrade steps ``--phase expand`` runs."""
    blocked = held_back(steps, script)
    return [s for s in steps if s.revision.revision not in blocked]


def down_revisions(rev: Any) -> tuple[str, ...]:
    """The revisions ``rev`` revises (its ``down_revision``: none, one or several)."""
    down = rev.down_revision
    if down is None:
        return ()
    return (down,) if isinstance(down, str) else tuple(down)


def requires(script: Any, rev: Any) -> tuple[str, ...]:
    """What must be applied before ``rev``: the revisions it revises and those its ``depends_on`` names
    (a revision id, or a branch label standing for the revision that declares it), as ids."""
    found = list(down_revisions(rev))
    dependencies = rev.dependencies
    if isinstance(dependencies, str):
        dependencies = (dependencies,)
    for name in dependencies or ():
        dependency = script.get_revision(name)
        if dependency is not None and dependency.revision not in found:
            found.append(dependency.revision)
    return tuple(found)

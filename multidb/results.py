"""What the commands return: plain frozen data that the CLI renders as text or JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class DatabaseInfo:
    """A database of the active profile as ``list`` shows it (password masked)."""

    name: str
    url: str
    dialect: str
    bases: tuple[dict[str, str], ...]
    version_table: str
    depends_on: tuple[str, ...]


@dataclass(frozen=True)
class Status:
    """Where one database stands against its history."""

    name: str
    url: str
    current: tuple[str, ...]
    heads: tuple[str, ...]
    pending: tuple[str, ...]
    state: str  # "at head", "behind", "expanded", "empty", "unversioned", "ahead of code", "squashed away",
    # "interrupted", "error"
    error: str | None = None  # "error": why; "interrupted": what an earlier run left half-applied, and the ways out;
    # "squashed away": which baseline replaced the revision it is at, and the way out
    contract_pending: tuple[str, ...] = ()  # pending revisions that wait for the contract phase
    edited: tuple[str, ...] = ()  # applied revisions edited or deleted since (one line each; see multidb/ledger.py)

    @property
    def up_to_date(self) -> bool:
        return self.state == "at head"


@dataclass(frozen=True)
class RevisionInfo:
    """One revision of a history, as ``heads``, ``history`` and ``show`` report it."""

    revision: str
    down_revision: tuple[str, ...]
    branch_labels: tuple[str, ...]
    depends_on: tuple[str, ...]
    message: str
    path: str
    is_head: bool
    is_base: bool
    is_merge: bool
    is_branch_point: bool
    doc: str = ""
    squashed: tuple[str, ...] = ()  # a baseline (multidb squash): the revisions it replaced, oldest first


@dataclass(frozen=True)
class RunResult:
    """The outcome of a write command on one database."""

    name: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    applied: tuple[str, ...] = ()
    result: str = "no change"  # "upgraded", "downgraded", "stamped", "no change", "failed", "skipped", "sql written"
    error: str | None = None
    output: str | None = None
    after_known: bool = True  # False: the database could not be read after a failure (``after`` is empty)


@dataclass(frozen=True)
class Drift:
    """The differences between one database at head and its models."""

    name: str
    differences: tuple[str, ...] = field(default_factory=tuple)


def to_json(obj: Any) -> Any:
    """Dataclasses (and lists of them) as JSON-ready dicts."""
    if isinstance(obj, list | tuple):
        return [to_json(o) for o in obj]
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    if hasattr(obj, "__dataclass_fields__"):
        return {k: to_json(v) for k, v in asdict(obj).items()}
    return obj

"""The comparison of the old history's replay with the baseline's, on one dialect, by category."""

from __future__ import annotations

from dataclasses import dataclass

from ..testing import parity
from .capture import State

CATEGORIES = (
    "tables",
    "columns",
    "indexes",
    "constraints",
    "server defaults",
    "comments",
    "enums",
    "sequences",
    "extensions",
    "rows",
    "next ids",
    "views",
)
SIDES = parity.Sides("after the old revisions", "after the baseline")


@dataclass(frozen=True)
class Category:
    name: str
    count: int | None  # how many the old history made (None: a step, e.g. the downgrade, not a count)
    differences: tuple[str, ...]


@dataclass(frozen=True)
class DialectCheck:
    """One dialect's comparison. ``own_section``: the generic body differed there, so the file has a
    section of its own for it (what ``categories`` shows is the comparison with that section)."""

    dialect: str
    categories: tuple[Category, ...]
    own_section: bool = False

    @property
    def equal(self) -> bool:
        return not any(c.differences for c in self.categories)

    @property
    def differences(self) -> list[str]:
        return [d for c in self.categories for d in c.differences]


def compare(dialect: str, old: State, new: State) -> DialectCheck:
    schema = parity.compare(old.schema, new.schema, SIDES, exact=True)
    found = {name: [] for name in CATEGORIES}
    for line in schema:
        found[_category(line)].append(line)
    found["server defaults"] = _mapping("server default of", old.defaults, new.defaults)
    found["comments"] = _mapping("comment on", old.comments, new.comments)
    found["enums"] = _mapping("enum", old.enums, new.enums)
    found["sequences"] = _mapping("sequence", old.sequences, new.sequences)
    found["extensions"] = _mapping("extension", dict.fromkeys(old.extensions), dict.fromkeys(new.extensions))
    found["rows"] = _rows(old, new)
    found["next ids"] = _mapping("next id of", old.next_ids, new.next_ids)
    found["views"] = _mapping("view", old.views, new.views)
    counts = _counts(old)
    return DialectCheck(dialect, tuple(Category(n, counts[n], tuple(found[n])) for n in CATEGORIES))


def _category(line: str) -> str:
    if line.startswith("table ") and " exists " in line and ":" not in line:
        return "tables"
    if line.startswith("column "):
        return "columns"
    if line.startswith("index "):
        return "indexes"
    return "constraints"


def _mapping(what: str, old: dict, new: dict) -> list[str]:
    lines = []
    for key in sorted(set(old) | set(new), key=str):
        if key not in new:
            lines.append(f"{what} {key} exists {SIDES.left} but not {SIDES.right}")
        elif key not in old:
            lines.append(f"{what} {key} exists {SIDES.right} but not {SIDES.left}")
        elif old[key] != new[key]:
            lines.append(f"{what} {key} is {old[key]!r} {SIDES.left} but {new[key]!r} {SIDES.right}")
    return lines


def _rows(old: State, new: State) -> list[str]:
    lines = []
    for table in sorted(set(old.rows) | set(new.rows)):
        a, b = old.rows.get(table), new.rows.get(table)
        if a is None or b is None:
            continue  # the table itself is reported missing
        if a.columns != b.columns or a.rows != b.rows:
            lines.append(f"rows of {table}: {_show(a.rows)} {SIDES.left} but {_show(b.rows)} {SIDES.right}")
    return lines


def _show(rows: tuple) -> str:
    shown = ", ".join(repr(r) for r in rows[:3])
    return f"{len(rows)} row(s) [{shown}{', ...' if len(rows) > 3 else ''}]"


def _counts(state: State) -> dict[str, int]:
    tables = state.schema.tables.values()
    return {
        "tables": len(tables),
        "columns": sum(len(t.columns) for t in tables),
        "indexes": sum(len(t.indexes) for t in tables),
        "constraints": sum(bool(t.primary_key) + len(t.uniques) + len(t.foreign_keys) for t in tables),
        "server defaults": len(state.defaults),
        "comments": len(state.comments),
        "enums": len(state.enums),
        "sequences": len(state.sequences),
        "extensions": len(state.extensions),
        "rows": sum(len(r.rows) for r in state.rows.values()),
        "next ids": len(state.next_ids),
        "views": len(state.views),
    }


def summary(check: DialectCheck) -> list[str]:
    """``sqlite: equal`` and one line per category (``tables 6 equal``), then the differences."""
    verdict = "equal" if check.equal else "DIFFERENT"
    own = " (with a section of its own)" if check.own_section else ""
    lines = [f"{check.dialect}: {verdict}{own}"]
    parts = [_part(c) for c in check.categories]
    lines.append("  " + ", ".join(parts))
    lines += [f"  - {d}" for d in check.differences]
    return lines


def _part(category: Category) -> str:
    if category.count is None:
        return f"{category.name} {'clean' if not category.differences else 'fails'}"
    return f"{category.name} {category.count} {'equal' if not category.differences else 'differ'}"

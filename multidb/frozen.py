"""Frozen table copies for data revisions: Core ``Table`` definitions written into the revision file.

A data migration that imports the live models breaks as soon as the models change. The copies
carry only what a data step needs (columns, types, nullability, primary and unique keys), rendered
with Alembic's own code renderer, so they read like the rest of an Alembic revision.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

HEADER = """
# Frozen copies of the tables this data step uses, as the models stood
# when the revision was written. Use these, never the live models:
# the models will change, and this revision must keep working.
metadata = sa.MetaData()
"""


def render_tables(metadata: Any, names: Sequence[str]) -> str:
    """Module-level Python source defining one ``sa.Table`` per name, from ``metadata``."""
    import sqlalchemy as sa
    from alembic.autogenerate import render_python_code
    from alembic.operations import ops

    missing = [n for n in names if n not in metadata.tables]
    if missing:
        known = ", ".join(sorted(metadata.tables))
        raise KeyError(f"no table {missing[0]!r} in the models (they have: {known})")
    blocks = [HEADER.strip("\n")]
    for name in names:
        source = metadata.tables[name]
        copy = sa.Table(
            source.name,
            sa.MetaData(),
            *[sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable) for c in source.c],
            *[
                sa.UniqueConstraint(*[c.name for c in u.columns])
                for u in source.constraints
                if isinstance(u, sa.UniqueConstraint)
            ],
            schema=source.schema,
        )
        code = render_python_code(ops.UpgradeOps([ops.CreateTableOp.from_table(copy)]), render_as_batch=False)
        blocks.append(as_table(variable_name(name), code))
    return "\n\n".join(blocks) + "\n"


def variable_name(name: str) -> str:
    """A Python identifier for a table's name (``order-items`` -> ``order_items``, ``1x`` -> ``t_1x``)."""
    ident = re.sub(r"\W", "_", name)
    return ident if not ident[0].isdigit() else f"t_{ident}"


def as_table(variable: str, code: str, metadata: str = "metadata", extra: Sequence[str] = ()) -> str:
    """Turn Alembic's ``op.create_table('x', ...)`` rendering into ``x = sa.Table('x', metadata, ...)``.

    ``extra`` holds more arguments of the table (index definitions), placed after its constraints.
    """
    lines = [line.strip() for line in code.splitlines() if line.strip() and not line.strip().startswith("#")]
    head = lines[0]  # op.create_table('name',
    match = re.match(r"op\.create_table\((.+),$", head)
    assert match, head
    body = [f"    {line}" for line in [*lines[1:-1], *extra]]  # drop the closing ')'
    body = [line if line.endswith(",") else line + "," for line in body]
    return "\n".join([f"{variable} = sa.Table(", f"    {match.group(1)},", f"    {metadata},", *body, ")"])


def data_body(variables: Sequence[str]) -> tuple[str, str]:
    """The upgrade and downgrade bodies of a new data revision (indented for the template)."""
    names = ", ".join(variables)
    first = variables[0]
    upgrade = "\n    ".join(
        [
            f"data.require_columns({names}, bind=op.get_bind())",
            "# The data step: the frozen tables above, set-based, in batches, e.g.",
            f"#   data.update_in_batches({first}, {{...}}, where=...)",
            "# online=True commits batch by batch and resumes if interrupted.",
        ]
    )
    downgrade = "\n    ".join(["# Undo the data step here if it can be undone; otherwise leave it as is.", "pass"])
    return upgrade, downgrade

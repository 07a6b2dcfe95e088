"""Models of the fleet fixture project: each tenant's notes, each shop's items."""

from __future__ import annotations

import sqlalchemy as sa

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

notes_metadata = sa.MetaData(naming_convention=NAMING)
shops_metadata = sa.MetaData(naming_convention=NAMING)

authors = sa.Table(
    "authors",
    notes_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
)
notes = sa.Table(
    "notes",
    notes_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("author_id", sa.ForeignKey("authors.id"), nullable=False),
    sa.Column("body", sa.Text, nullable=True),
    sa.Column("pinned", sa.Boolean, nullable=True),
    sa.Index(None, "author_id"),
)
items = sa.Table(
    "items",
    shops_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sku", sa.String(20), nullable=False),
)

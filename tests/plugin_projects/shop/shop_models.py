"""Models of the shop fixture project: 'app' (two bases) and 'events'."""

from __future__ import annotations

import sqlalchemy as sa

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

app_metadata = sa.MetaData(naming_convention=NAMING)
events_metadata = sa.MetaData(naming_convention=NAMING)

users = sa.Table(
    "users",
    app_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("email", sa.String(100), nullable=True, index=True),
)
orders = sa.Table(
    "orders",
    app_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False),
    sa.Column("total", sa.Numeric(10, 2), nullable=False),
)
tags = sa.Table(
    "tags",
    app_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(30), nullable=False, unique=True),
)
audit_log = sa.Table(
    "audit_log",
    app_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("what", sa.Text, nullable=False),
)
events = sa.Table(
    "events",
    events_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("payload", sa.Text, nullable=True),
    sa.Column("level", sa.String(10), nullable=True),
)

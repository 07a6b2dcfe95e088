"""Models of the shared fixture project: billing's invoices refer to accounts' customers."""

from __future__ import annotations

import sqlalchemy as sa

accounts_metadata = sa.MetaData()
billing_metadata = sa.MetaData()

customers = sa.Table(
    "customers",
    accounts_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(100), nullable=False),
)
customers.to_metadata(billing_metadata)  # billing's invoices refer to it; accounts' history makes it
invoices = sa.Table(
    "invoices",
    billing_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customers.id", name="fk_invoices_customer"), nullable=False),
    sa.Column("total", sa.Numeric(10, 2), nullable=False),
)

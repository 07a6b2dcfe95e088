"""create authors and notes

Revision ID: n1000001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "n1000001"
down_revision = None
branch_labels = ("notes",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "authors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authors")),
    )
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["author_id"], ["authors.id"], name=op.f("fk_notes_author_id_authors")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    op.create_index(op.f("ix_notes_author_id"), "notes", ["author_id"], unique=False)


def downgrade() -> None:
    op.drop_table("notes")  # and its index: MariaDB refuses to drop the index its foreign key needs
    op.drop_table("authors")

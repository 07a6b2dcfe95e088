"""create_notes

Revision ID: 8c0000000001
Revises: 
"""
from alembic import op
import sqlalchemy as sa

revision = "8c0000000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # unnamed: the models' naming convention (target_metadata) names them pk_notes and uq_notes_title
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("title"),
    )


def downgrade() -> None:
    op.drop_table("notes")

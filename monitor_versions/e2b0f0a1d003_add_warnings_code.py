"""add warnings.code

Revision ID: e2b0f0a1d003
Revises: e2b0f0a1d002
Create Date: 2026-11-22 02:26:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e2b0f0a1d003"
down_revision = "e2b0f0a1d002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("warnings") as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(length=50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("warnings") as batch_op:
        batch_op.drop_column("code")

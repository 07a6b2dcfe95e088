"""merge orders and tags

Revision ID: a1000005
Revises: a1000003, a1000004
"""

revision = "a1000005"
down_revision = ("a1000003", "a1000004")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

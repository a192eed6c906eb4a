"""every set of recommendations a case received (a follow-up gets its own)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_recommendations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Uuid, nullable=False, index=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("issued_by", sa.Uuid, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("follow_up_due_on", sa.Date),
    )


def downgrade() -> None:
    op.drop_table("case_recommendations")

"""hub team members' opted-in topics

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("preferences", sa.Column("topics", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("preferences") as batch:
        batch.drop_column("topics")

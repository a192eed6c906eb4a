"""programme titles remember the time of the profile event they came from

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
    with op.batch_alter_table("programme_titles") as batch:
        batch.add_column(sa.Column("as_of", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("programme_titles") as batch:
        batch.drop_column("as_of")

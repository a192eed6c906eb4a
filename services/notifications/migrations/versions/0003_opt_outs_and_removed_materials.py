"""opt-outs of optional messages; withdrawn library materials

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
    op.add_column("preferences", sa.Column("opted_out", sa.JSON))
    op.create_table(
        "removed_materials",
        sa.Column("material_id", sa.Uuid, primary_key=True),
        sa.Column("programme_id", sa.Uuid, nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("removed_materials")
    with op.batch_alter_table("preferences") as batch:
        batch.drop_column("opted_out")

"""indexes for reports that read one session's rows (attendance and materials by session)

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_rm_attendance_session_id", "rm_attendance", ["session_id"])
    op.create_index("ix_rm_materials_session_id", "rm_materials", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_rm_materials_session_id", "rm_materials")
    op.drop_index("ix_rm_attendance_session_id", "rm_attendance")

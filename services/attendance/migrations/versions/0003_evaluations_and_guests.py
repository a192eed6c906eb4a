"""evaluations (forms, rounds, requests, markers, responses) and guests (policies, admissions)

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
    with op.batch_alter_table("attendance") as batch:
        batch.add_column(sa.Column("guest_id", sa.Uuid))
        batch.add_column(
            sa.Column("over_limit", sa.Boolean, nullable=False, server_default=sa.false())
        )

    with op.batch_alter_table("attendance_adjustments") as batch:
        batch.alter_column("participant_id", existing_type=sa.Uuid, nullable=True)
        batch.add_column(sa.Column("guest_id", sa.Uuid))

    op.create_table(
        "guests",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("programme_id", sa.Uuid, nullable=False),
        sa.Column("attendee_key", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("email", sa.String(254)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("programme_id", "attendee_key", name="uq_guests_programme_key"),
    )
    op.create_table(
        "guest_policies",
        sa.Column("programme_id", sa.Uuid, primary_key=True),
        sa.Column("max_guests_per_session", sa.Integer),
        sa.Column("register_after_sessions", sa.Integer),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "guest_admissions",
        sa.Column("session_id", sa.Uuid, primary_key=True),
        sa.Column("guest_id", sa.Uuid, primary_key=True),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "evaluation_forms",
        sa.Column("programme_id", sa.Uuid, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("questions", sa.JSON, nullable=False),
        sa.Column("anonymous", sa.Boolean, nullable=False),
        sa.Column("send_after_minutes", sa.Integer, nullable=False),
        sa.Column("open_days", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "evaluation_rounds",
        sa.Column("session_id", sa.Uuid, primary_key=True),
        sa.Column("programme_id", sa.Uuid, nullable=False, index=True),
        sa.Column("form_version", sa.Integer, nullable=False),
        sa.Column("invited", sa.Integer, nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "evaluation_requests",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("session_id", sa.Uuid, nullable=False),
        sa.Column("participant_id", sa.Uuid, nullable=False),
        sa.Column("programme_id", sa.Uuid, nullable=False),
        sa.Column("form_version", sa.Integer, nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("session_id", "participant_id", name="uq_evaluation_requests_person"),
    )
    op.create_table(
        "evaluation_markers",
        sa.Column("session_id", sa.Uuid, primary_key=True),
        sa.Column("marker", sa.String(64), primary_key=True),
    )
    op.create_table(
        "evaluation_responses",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("session_id", sa.Uuid, nullable=False, index=True),
        sa.Column("programme_id", sa.Uuid, nullable=False, index=True),
        sa.Column("form_version", sa.Integer, nullable=False),
        sa.Column("participant_id", sa.Uuid),
        sa.Column("scores", sa.JSON, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("submitted_on", sa.Date, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "evaluation_responses",
        "evaluation_markers",
        "evaluation_requests",
        "evaluation_rounds",
        "evaluation_forms",
        "guest_admissions",
        "guest_policies",
        "guests",
    ):
        op.drop_table(table)
    with op.batch_alter_table("attendance_adjustments") as batch:
        batch.drop_column("guest_id")
    with op.batch_alter_table("attendance") as batch:
        batch.drop_column("over_limit")
        batch.drop_column("guest_id")

"""attendance tables, outbox and inbox

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from echo_runtime.messaging_tables import create_messaging_tables, drop_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "programmes",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("region", sa.String(32), nullable=False, index=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("session_minutes", sa.Integer, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date),
    )

    op.create_table(
        "programme_titles",
        sa.Column("programme_id", sa.Uuid, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
    )

    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("programme_id", sa.Uuid, nullable=False, index=True),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
    )

    op.create_table(
        "participants",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("profession", sa.String(40), nullable=False),
        sa.Column("clinic", sa.String(200), nullable=False),
        sa.Column("clinic_id", sa.Uuid, nullable=False),
        sa.Column("language", sa.String(20), nullable=False),
        sa.Column("timezone", sa.String(64)),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("region", "email", name="uq_participants_region_email"),
    )

    op.create_table(
        "registrations",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("participant_id", sa.Uuid, sa.ForeignKey("participants.id"), nullable=False),
        sa.Column("programme_id", sa.Uuid, nullable=False, index=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("join_token", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("participant_id", "programme_id", name="uq_registrations_person"),
        sa.Index("ix_registrations_programme_email", "programme_id", "email"),
    )

    op.create_table(
        "video_meetings",
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("meeting_id", sa.String(64), primary_key=True),
        sa.Column("programme_id", sa.Uuid, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "webhook_receipts",
        sa.Column("replay_key", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )

    op.create_table(
        "presence_edges",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.Uuid, nullable=False),
        sa.Column("attendee_key", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance", sa.String(128), nullable=False),
        sa.Column("connection", sa.String(128), nullable=False),
        sa.UniqueConstraint(
            "session_id", "attendee_key", "kind", "at", "instance", "connection", name="uq_edges"
        ),
        sa.Index("ix_edges_attendee", "session_id", "attendee_key"),
    )

    op.create_table(
        "attendance",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("session_id", sa.Uuid, nullable=False),
        sa.Column("programme_id", sa.Uuid, nullable=False),
        sa.Column("attendee_key", sa.String(64), nullable=False),
        sa.Column("participant_id", sa.Uuid, index=True),
        sa.Column("attended_seconds", sa.Integer, nullable=False),
        sa.Column("session_seconds", sa.Integer, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("adjusted", sa.Boolean, nullable=False),
        sa.Column("override_seconds", sa.Integer),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("session_id", "attendee_key", name="uq_attendance_attendee"),
    )

    op.create_table(
        "attendance_adjustments",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("attendance_id", sa.Uuid, nullable=False, index=True),
        sa.Column("session_id", sa.Uuid, nullable=False),
        sa.Column("participant_id", sa.Uuid, nullable=False),
        sa.Column("previous_seconds", sa.Integer),
        sa.Column("attended_seconds", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "credit_rules",
        sa.Column("programme_id", sa.Uuid, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("min_percent", sa.Integer, nullable=False),
        sa.Column("rounding_hours", sa.Numeric(6, 4), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "credits",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("participant_id", sa.Uuid, nullable=False, index=True),
        sa.Column("programme_id", sa.Uuid, nullable=False),
        sa.Column("session_id", sa.Uuid, nullable=False),
        sa.Column("hours", sa.Numeric(8, 4), nullable=False),
        sa.Column("rule_version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("participant_id", "session_id", name="uq_credits_session"),
    )

    op.create_table(
        "certificates",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("participant_id", sa.Uuid, nullable=False),
        sa.Column("programme_id", sa.Uuid, nullable=False),
        sa.Column("hours", sa.Numeric(8, 4), nullable=False),
        sa.Column("verification_code", sa.String(32), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("participant_id", "programme_id", name="uq_certificates_person"),
    )
    create_messaging_tables(op)


def downgrade() -> None:
    drop_messaging_tables(op)
    op.drop_table("certificates")
    op.drop_table("credits")
    op.drop_table("credit_rules")
    op.drop_table("attendance_adjustments")
    op.drop_table("attendance")
    op.drop_table("presence_edges")
    op.drop_table("webhook_receipts")
    op.drop_table("video_meetings")
    op.drop_table("registrations")
    op.drop_table("participants")
    op.drop_table("sessions")
    op.drop_table("programme_titles")
    op.drop_table("programmes")

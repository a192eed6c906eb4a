"""SQLAlchemy tables of the attendance service (its own database)."""

from __future__ import annotations

import sqlalchemy as sa
from echo_runtime.messaging_tables import add_messaging_tables

metadata = sa.MetaData()

#: Programmes as told by scheduling (ProgrammeCreated): region and defaults only.
programmes = sa.Table(
    "programmes",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("region", sa.String(32), nullable=False, index=True),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("session_minutes", sa.Integer, nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("ends_on", sa.Date),
)

#: Programme titles (ProgrammeProfileUpdated, regional): printed on certificates.
programme_titles = sa.Table(
    "programme_titles",
    metadata,
    sa.Column("programme_id", sa.Uuid, primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    #: The time of the event that set the title: an older profile arriving late is ignored.
    sa.Column("as_of", sa.DateTime(timezone=True)),
)

#: Session windows as told by scheduling; `sequence` orders out-of-order updates.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("programme_id", sa.Uuid, nullable=False, index=True),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ends_at", sa.DateTime(timezone=True)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False),
)

participants = sa.Table(
    "participants",
    metadata,
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

registrations = sa.Table(
    "registrations",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("participant_id", sa.Uuid, sa.ForeignKey("participants.id"), nullable=False),
    sa.Column("programme_id", sa.Uuid, nullable=False, index=True),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("join_token", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("participant_id", "programme_id", name="uq_registrations_person"),
    sa.Index("ix_registrations_programme_email", "programme_id", "email"),
)

#: Zoom meetings (by meeting id) linked to a programme; sessions are found by time.
video_meetings = sa.Table(
    "video_meetings",
    metadata,
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("meeting_id", sa.String(64), primary_key=True),
    sa.Column("programme_id", sa.Uuid, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

#: Accepted webhook deliveries, so a replayed signature is refused.
webhook_receipts = sa.Table(
    "webhook_receipts",
    metadata,
    sa.Column("replay_key", sa.String(64), primary_key=True),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

#: Join/leave/end signals; the unique key makes a redelivered signal a no-op.
presence_edges = sa.Table(
    "presence_edges",
    metadata,
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

#: One record per session and attendee (participant id, or a guest key).
attendance = sa.Table(
    "attendance",
    metadata,
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
    #: The guest (guests.id) when the attendee is not a registered participant.
    sa.Column("guest_id", sa.Uuid),
    #: A guest present beyond the programme's guest limits: recorded, never admitted or credited.
    sa.Column("over_limit", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("session_id", "attendee_key", name="uq_attendance_attendee"),
)

#: Audit trail of manual entries: who changed what, when and why.
attendance_adjustments = sa.Table(
    "attendance_adjustments",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("attendance_id", sa.Uuid, nullable=False, index=True),
    sa.Column("session_id", sa.Uuid, nullable=False),
    #: The participant, or empty for a guest (then `guest_id`).
    sa.Column("participant_id", sa.Uuid),
    sa.Column("previous_seconds", sa.Integer),
    sa.Column("attended_seconds", sa.Integer, nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("guest_id", sa.Uuid),
)

credit_rules = sa.Table(
    "credit_rules",
    metadata,
    sa.Column("programme_id", sa.Uuid, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("min_percent", sa.Integer, nullable=False),
    sa.Column("rounding_hours", sa.Numeric(6, 4), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

credits = sa.Table(
    "credits",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("participant_id", sa.Uuid, nullable=False, index=True),
    sa.Column("programme_id", sa.Uuid, nullable=False),
    sa.Column("session_id", sa.Uuid, nullable=False),
    sa.Column("hours", sa.Numeric(8, 4), nullable=False),
    sa.Column("rule_version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("participant_id", "session_id", name="uq_credits_session"),
)

certificates = sa.Table(
    "certificates",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("participant_id", sa.Uuid, nullable=False),
    sa.Column("programme_id", sa.Uuid, nullable=False),
    sa.Column("hours", sa.Numeric(8, 4), nullable=False),
    sa.Column("verification_code", sa.String(32), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("participant_id", "programme_id", name="uq_certificates_person"),
)

#: Unregistered people who joined a programme's sessions: name and email only, never published.
guests = sa.Table(
    "guests",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("programme_id", sa.Uuid, nullable=False),
    sa.Column("attendee_key", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200)),
    sa.Column("email", sa.String(254)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("programme_id", "attendee_key", name="uq_guests_programme_key"),
)

guest_policies = sa.Table(
    "guest_policies",
    metadata,
    sa.Column("programme_id", sa.Uuid, primary_key=True),
    sa.Column("max_guests_per_session", sa.Integer),
    sa.Column("register_after_sessions", sa.Integer),
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

#: A guest let into a session (by the join endpoint or a webhook join under the limits).
guest_admissions = sa.Table(
    "guest_admissions",
    metadata,
    sa.Column("session_id", sa.Uuid, primary_key=True),
    sa.Column("guest_id", sa.Uuid, primary_key=True),
    sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=False),
)

#: Versioned post-session survey forms per programme.
evaluation_forms = sa.Table(
    "evaluation_forms",
    metadata,
    sa.Column("programme_id", sa.Uuid, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("questions", sa.JSON, nullable=False),
    sa.Column("anonymous", sa.Boolean, nullable=False),
    sa.Column("send_after_minutes", sa.Integer, nullable=False),
    sa.Column("open_days", sa.Integer, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

#: One survey round per session; the primary key is the claim that makes sending exactly once.
evaluation_rounds = sa.Table(
    "evaluation_rounds",
    metadata,
    sa.Column("session_id", sa.Uuid, primary_key=True),
    sa.Column("programme_id", sa.Uuid, nullable=False, index=True),
    sa.Column("form_version", sa.Integer, nullable=False),
    sa.Column("invited", sa.Integer, nullable=False),
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
)

#: One request per attendee of a surveyed session.
evaluation_requests = sa.Table(
    "evaluation_requests",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("session_id", sa.Uuid, nullable=False),
    sa.Column("participant_id", sa.Uuid, nullable=False),
    sa.Column("programme_id", sa.Uuid, nullable=False),
    sa.Column("form_version", sa.Integer, nullable=False),
    sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("session_id", "participant_id", name="uq_evaluation_requests_person"),
)

#: One-way "already answered" marks (keyed digest of session and person): once per person.
evaluation_markers = sa.Table(
    "evaluation_markers",
    metadata,
    sa.Column("session_id", sa.Uuid, primary_key=True),
    sa.Column("marker", sa.String(64), primary_key=True),
)

#: Answers; `participant_id` is empty when the form was anonymous. Comments stay here.
evaluation_responses = sa.Table(
    "evaluation_responses",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("session_id", sa.Uuid, nullable=False, index=True),
    sa.Column("programme_id", sa.Uuid, nullable=False, index=True),
    sa.Column("form_version", sa.Integer, nullable=False),
    sa.Column("participant_id", sa.Uuid),
    sa.Column("scores", sa.JSON, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("submitted_on", sa.Date, nullable=False),
)

outbox, inbox = add_messaging_tables(metadata)

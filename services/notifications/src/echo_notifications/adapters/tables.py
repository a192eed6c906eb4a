"""SQLAlchemy tables of the notifications service (its own database)."""

from __future__ import annotations

import sqlalchemy as sa
from echo_runtime.messaging_tables import add_messaging_tables

metadata = sa.MetaData()

#: Who may receive messages: participants (from attendance) and hub team members (scheduling).
recipients = sa.Table(
    "recipients",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("region", sa.String(32), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254)),
    sa.Column("language", sa.String(20)),
    sa.Column("timezone", sa.String(64)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

preferences = sa.Table(
    "preferences",
    metadata,
    sa.Column("participant_id", sa.Uuid, primary_key=True),
    sa.Column("channels", sa.JSON, nullable=False),
    sa.Column("language", sa.String(20)),
    sa.Column("timezone", sa.String(64)),
    sa.Column("quiet_start", sa.Time),
    sa.Column("quiet_end", sa.Time),
    sa.Column("webhook_url", sa.String(2000)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("topics", sa.JSON),
    sa.Column("opted_out", sa.JSON),
)

programmes = sa.Table(
    "programmes",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("language", sa.String(20)),
    sa.Column("timezone", sa.String(64)),
    sa.Column("title", sa.String(200)),
    sa.Column("profile_updated_at", sa.DateTime(timezone=True)),
)

programme_staff = sa.Table(
    "programme_staff",
    metadata,
    sa.Column("programme_id", sa.Uuid, primary_key=True),
    sa.Column("person_id", sa.Uuid, primary_key=True),
    sa.Column("role", sa.String(32), nullable=False),
)

enrolments = sa.Table(
    "enrolments",
    metadata,
    sa.Column("registration_id", sa.Uuid, primary_key=True),
    sa.Column("participant_id", sa.Uuid, nullable=False, index=True),
    sa.Column("programme_id", sa.Uuid, nullable=False, index=True),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("programme_id", sa.Uuid, nullable=False, index=True),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ends_at", sa.DateTime(timezone=True)),
    sa.Column("timezone", sa.String(64)),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
)

agendas = sa.Table(
    "agendas",
    metadata,
    sa.Column("session_id", sa.Uuid, primary_key=True),
    sa.Column("didactic_topic", sa.String(200)),
    sa.Column("presenter_name", sa.String(200)),
    sa.Column("case_count", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

#: Library items withdrawn: a MaterialAdded arriving after its MaterialRemoved tells no one.
removed_materials = sa.Table(
    "removed_materials",
    metadata,
    sa.Column("material_id", sa.Uuid, primary_key=True),
    sa.Column("programme_id", sa.Uuid, nullable=False),
    sa.Column("removed_at", sa.DateTime(timezone=True), nullable=False),
)

#: Due-time reminder jobs: one row per session and kind, moved on reschedule, deleted on cancel.
reminders = sa.Table(
    "reminders",
    metadata,
    sa.Column("session_id", sa.Uuid, primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("programme_id", sa.Uuid, nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("fired_at", sa.DateTime(timezone=True)),
    sa.Column("outcome", sa.String(16)),
    sa.Index("ix_reminders_due", "fired_at", "due_at"),
)

#: Every intended message; the id is derived from the idempotency key.
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
    sa.Column("cause_event_id", sa.Uuid, nullable=False, index=True),
    sa.Column("recipient_id", sa.Uuid, nullable=False, index=True),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("programme_id", sa.Uuid),
    sa.Column("session_id", sa.Uuid, index=True),
    sa.Column("template", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("language", sa.String(20)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("claimed_until", sa.DateTime(timezone=True)),
    sa.Column("claim_token", sa.String(36)),
    sa.Column("last_error", sa.String(64)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Index("ix_deliveries_due", "status", "next_attempt_at"),
)

outbox, inbox = add_messaging_tables(metadata)

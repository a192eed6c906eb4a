"""SQLAlchemy tables of the cases service (its own database)."""

from __future__ import annotations

import sqlalchemy as sa
from echo_runtime.messaging_tables import add_messaging_tables

metadata = sa.MetaData()

#: Programmes learnt from ProgrammeCreated (and the region of any session event).
programmes = sa.Table(
    "programmes",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("region", sa.String(32), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

#: Sessions learnt from the scheduling events; `sequence` orders reschedules and cancellations.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("programme_id", sa.Uuid, nullable=False, index=True),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True)),
    sa.Column("ends_at", sa.DateTime(timezone=True)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("agenda_at", sa.DateTime(timezone=True)),
)

#: Who is a registered participant of which programme (RegistrationConfirmed).
registrations = sa.Table(
    "registrations",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("participant_id", sa.Uuid, nullable=False),
    sa.Column("programme_id", sa.Uuid, nullable=False),
    sa.Index("ix_registrations_participant_programme", "participant_id", "programme_id"),
)

#: The case template a programme's hub chose (the default template when there is no row).
programme_templates = sa.Table(
    "programme_templates",
    metadata,
    sa.Column("programme_id", sa.Uuid, primary_key=True),
    sa.Column("template_id", sa.String(64), nullable=False),
    sa.Column("template_version", sa.Integer, nullable=False),
    sa.Column("set_by", sa.String(64), nullable=False),
    sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("programme_id", sa.Uuid, nullable=False, index=True),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("presenter_id", sa.Uuid, nullable=False, index=True),
    sa.Column("template_id", sa.String(64), nullable=False),
    sa.Column("template_version", sa.Integer, nullable=False),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("session_id", sa.Uuid, index=True),
    sa.Column("slot", sa.Integer),
    sa.Column("rejection_reason", sa.Text),
    sa.Column("recommendations", sa.Text),
    sa.Column("follow_up_due_on", sa.Date),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

#: Every set of recommendations a case received, oldest first (a follow-up gets its own).
case_recommendations = sa.Table(
    "case_recommendations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Uuid, nullable=False, index=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("issued_by", sa.Uuid, nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("follow_up_due_on", sa.Date),
)

#: Who read or changed which case, when (ids and actions only, never case text).
case_audit = sa.Table(
    "case_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Uuid, nullable=False, index=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("from_status", sa.String(32)),
    sa.Column("to_status", sa.String(32)),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

outbox, inbox = add_messaging_tables(metadata)

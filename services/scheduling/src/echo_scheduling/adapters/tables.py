"""SQLAlchemy tables of the scheduling service (its own database)."""

from __future__ import annotations

import sqlalchemy as sa
from echo_runtime.messaging_tables import add_messaging_tables

metadata = sa.MetaData()

programmes = sa.Table(
    "programmes",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("region", sa.String(32), nullable=False, index=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("language", sa.String(20), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("session_minutes", sa.Integer, nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("local_start", sa.Time, nullable=False),
    sa.Column("session_count", sa.Integer, nullable=False),
    sa.Column("interval_weeks", sa.Integer, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # 0002
    sa.Column("frequency", sa.String(24), nullable=False, server_default="weekly"),
    sa.Column("week_of_month", sa.Integer, nullable=True),
    sa.Column("ends_on", sa.Date, nullable=True),
    sa.Column("excluded_dates", sa.JSON, nullable=True),
    sa.Column("case_slots", sa.Integer, nullable=False, server_default="2"),
    sa.Column("hub_team", sa.JSON, nullable=True),
    sa.Column("curriculum", sa.JSON, nullable=True),
    sa.Column("template_id", sa.Uuid, nullable=True),
    sa.Column("template_version", sa.Integer, nullable=True),
    # 0003: the COUNT of the rule as asked (session_count is what it yielded)
    sa.Column("rule_count", sa.Integer, nullable=True),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("programme_id", sa.Uuid, sa.ForeignKey("programmes.id"), nullable=False, index=True),
    sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False, default=0),
    # 0002
    sa.Column("kind", sa.String(16), nullable=False, server_default="recurring"),
    sa.Column("didactic_topic", sa.String(200), nullable=True),
    sa.Column("presenter_name", sa.String(200), nullable=True),
    sa.Column("cancel_reason", sa.Text, nullable=True),
)

#: Approved cases placed in a session's case slots (a case is in at most one slot).
case_slots = sa.Table(
    "case_slots",
    metadata,
    sa.Column("session_id", sa.Uuid, sa.ForeignKey("sessions.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("case_id", sa.Uuid, nullable=False, unique=True),
)

#: Approved cases that found no free slot yet (placed when a session is added).
waiting_cases = sa.Table(
    "waiting_cases",
    metadata,
    sa.Column("case_id", sa.Uuid, primary_key=True),
    sa.Column("programme_id", sa.Uuid, nullable=False, index=True),
    sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
)

#: Every version of every programme template, as published by the superhub.
templates = sa.Table(
    "templates",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("language", sa.String(20), nullable=False),
    sa.Column("session_minutes", sa.Integer, nullable=False),
    sa.Column("frequency", sa.String(24), nullable=False),
    sa.Column("interval_weeks", sa.Integer, nullable=False),
    sa.Column("weekday", sa.Integer, nullable=False),
    sa.Column("week_of_month", sa.Integer, nullable=True),
    sa.Column("local_start", sa.String(5), nullable=False),
    sa.Column("session_count", sa.Integer, nullable=False),
    sa.Column("curriculum", sa.JSON, nullable=False),
    sa.Column("case_template_id", sa.String(64), nullable=True),
    sa.Column("credit_rule", sa.String(64), nullable=True),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
)

#: The library: files and links of a programme (a removed item keeps its row, flagged).
materials = sa.Table(
    "materials",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("programme_id", sa.Uuid, sa.ForeignKey("programmes.id"), nullable=False),
    sa.Column("session_id", sa.Uuid, sa.ForeignKey("sessions.id"), nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    #: The title case-folded, searched with LIKE alike on SQLite and PostgreSQL.
    sa.Column("title_folded", sa.String(800), nullable=False),
    sa.Column("language", sa.String(20), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("content_type", sa.String(120), nullable=True),
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("storage_key", sa.String(200), nullable=True),
    sa.Column("url", sa.String(2000), nullable=True),
    #: The name the file was uploaded with (any script), served back on download.
    sa.Column("filename", sa.String(255), nullable=True),
    sa.Column("added_by", sa.String(64), nullable=False),
    sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_materials_programme", "programme_id", "removed", "added_at"),
)

#: Participants registered to a programme (from attendance's RegistrationConfirmed).
library_members = sa.Table(
    "library_members",
    metadata,
    sa.Column("programme_id", sa.Uuid, primary_key=True),
    sa.Column("participant_id", sa.Uuid, primary_key=True),
    sa.Column("registration_id", sa.Uuid, nullable=False),
    sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
)

outbox, inbox = add_messaging_tables(metadata)

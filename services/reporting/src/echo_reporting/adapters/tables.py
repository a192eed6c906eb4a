"""SQLAlchemy tables of the reporting service: one read model (projection) per row kind."""

from __future__ import annotations

import sqlalchemy as sa
from echo_runtime.messaging_tables import add_messaging_tables

metadata = sa.MetaData()


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True))


def _read_model(kind: str, *columns: sa.Column[object]) -> sa.Table:
    return sa.Table(
        f"rm_{kind}",
        metadata,
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("region", sa.String(32), nullable=False, index=True),
        *columns,
    )


STAMP = 96

programmes = _read_model(
    "programmes",
    sa.Column("created", sa.Boolean, nullable=False),
    sa.Column("created_stamp", sa.String(STAMP), nullable=False),
    sa.Column("session_minutes", sa.Integer),
    sa.Column("starts_on", sa.Date),
    sa.Column("ends_on", sa.Date),
    sa.Column("title", sa.String(200)),
    sa.Column("title_stamp", sa.String(STAMP), nullable=False),
)
sessions = _read_model(
    "sessions",
    sa.Column("programme_id", sa.Uuid, index=True),
    _when("starts_at"),
    _when("ends_at"),
    sa.Column("time_stamp", sa.String(STAMP), nullable=False),
    sa.Column("cancelled", sa.Boolean, nullable=False),
)
participants = _read_model(
    "participants",
    sa.Column("profession", sa.String(32)),
    sa.Column("clinic_id", sa.Uuid),
    sa.Column("stamp", sa.String(STAMP), nullable=False),
)
registrations = _read_model(
    "registrations",
    sa.Column("participant_id", sa.Uuid),
    sa.Column("programme_id", sa.Uuid, index=True),
    sa.Column("clinic_id", sa.Uuid),
    sa.Column("profession", sa.String(32)),
    _when("registered_at"),
    sa.Column("stamp", sa.String(STAMP), nullable=False),
)
attendance = _read_model(
    "attendance",
    sa.Column("session_id", sa.Uuid, index=True),
    sa.Column("programme_id", sa.Uuid, index=True),
    sa.Column("participant_id", sa.Uuid),
    sa.Column("guest", sa.Boolean, nullable=False),
    sa.Column("guest_id", sa.Uuid),
    sa.Column("attended_seconds", sa.Integer, nullable=False),
    sa.Column("session_seconds", sa.Integer, nullable=False),
    sa.Column("stamp", sa.String(STAMP), nullable=False),
)
cases = _read_model(
    "cases",
    sa.Column("programme_id", sa.Uuid, index=True),
    _when("submitted_at"),
    _when("approved_at"),
    _when("rejected_at"),
    _when("scheduled_at"),
    _when("presented_at"),
    _when("recommendations_at"),
)
credits = _read_model(
    "credits",
    sa.Column("participant_id", sa.Uuid),
    sa.Column("programme_id", sa.Uuid, index=True),
    sa.Column("session_id", sa.Uuid),
    sa.Column("hours", sa.Float, nullable=False),
    _when("awarded_at"),
    sa.Column("stamp", sa.String(STAMP), nullable=False),
)
certificates = _read_model(
    "certificates",
    sa.Column("participant_id", sa.Uuid),
    sa.Column("programme_id", sa.Uuid, index=True),
    sa.Column("hours", sa.Float, nullable=False),
    _when("issued_at"),
    sa.Column("stamp", sa.String(STAMP), nullable=False),
)

evaluations = _read_model(
    "evaluations",
    sa.Column("programme_id", sa.Uuid, index=True),
    sa.Column("form_version", sa.Integer),
    sa.Column("invited", sa.Integer, nullable=False),
    _when("closes_at"),
    _when("opened_at"),
    sa.Column("stamp", sa.String(STAMP), nullable=False),
)
responses = _read_model(
    "responses",
    sa.Column("session_id", sa.Uuid, index=True),
    sa.Column("programme_id", sa.Uuid, index=True),
    sa.Column("form_version", sa.Integer),
    sa.Column("scores", sa.JSON, nullable=False),
    sa.Column("has_comment", sa.Boolean, nullable=False),
    _when("submitted_at"),
    sa.Column("stamp", sa.String(STAMP), nullable=False),
)
materials = _read_model(
    "materials",
    sa.Column("programme_id", sa.Uuid, index=True),
    sa.Column("session_id", sa.Uuid, index=True),
    sa.Column("kind", sa.String(16)),
    _when("added_at"),
    _when("removed_at"),
)

READ_MODELS: dict[str, sa.Table] = {
    "programmes": programmes,
    "sessions": sessions,
    "participants": participants,
    "registrations": registrations,
    "attendance": attendance,
    "cases": cases,
    "credits": credits,
    "certificates": certificates,
    "evaluations": evaluations,
    "responses": responses,
    "materials": materials,
}

outbox, inbox = add_messaging_tables(metadata)

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
)

outbox, inbox = add_messaging_tables(metadata)

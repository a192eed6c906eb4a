"""recipients, preferences, programmes, sessions, reminders, deliveries, outbox and inbox

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
        "recipients",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("region", sa.String(32), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254)),
        sa.Column("language", sa.String(20)),
        sa.Column("timezone", sa.String(64)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "preferences",
        sa.Column("participant_id", sa.Uuid, primary_key=True),
        sa.Column("channels", sa.JSON, nullable=False),
        sa.Column("language", sa.String(20)),
        sa.Column("timezone", sa.String(64)),
        sa.Column("quiet_start", sa.Time),
        sa.Column("quiet_end", sa.Time),
        sa.Column("webhook_url", sa.String(2000)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "programmes",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("language", sa.String(20)),
        sa.Column("timezone", sa.String(64)),
        sa.Column("title", sa.String(200)),
        sa.Column("profile_updated_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "programme_staff",
        sa.Column("programme_id", sa.Uuid, primary_key=True),
        sa.Column("person_id", sa.Uuid, primary_key=True),
        sa.Column("role", sa.String(32), nullable=False),
    )
    op.create_table(
        "enrolments",
        sa.Column("registration_id", sa.Uuid, primary_key=True),
        sa.Column("participant_id", sa.Uuid, nullable=False, index=True),
        sa.Column("programme_id", sa.Uuid, nullable=False, index=True),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("programme_id", sa.Uuid, nullable=False, index=True),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True)),
        sa.Column("timezone", sa.String(64)),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "agendas",
        sa.Column("session_id", sa.Uuid, primary_key=True),
        sa.Column("didactic_topic", sa.String(200)),
        sa.Column("presenter_name", sa.String(200)),
        sa.Column("case_count", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "reminders",
        sa.Column("session_id", sa.Uuid, primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("programme_id", sa.Uuid, nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(16)),
    )
    op.create_index("ix_reminders_due", "reminders", ["fired_at", "due_at"])
    op.create_table(
        "deliveries",
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
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    create_messaging_tables(op)


def downgrade() -> None:
    drop_messaging_tables(op)
    for table in (
        "deliveries",
        "reminders",
        "agendas",
        "sessions",
        "enrolments",
        "programme_staff",
        "programmes",
        "preferences",
        "recipients",
    ):
        op.drop_table(table)

"""read models (programmes, sessions, participants, registrations, attendance, cases, credits,
certificates), outbox and inbox

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

STAMP = 96
KINDS = (
    "programmes",
    "sessions",
    "participants",
    "registrations",
    "attendance",
    "cases",
    "credits",
    "certificates",
)


def _when(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True))


def _create(kind: str, *columns: sa.Column) -> None:
    op.create_table(
        f"rm_{kind}",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("region", sa.String(32), nullable=False),
        *columns,
    )
    op.create_index(f"ix_rm_{kind}_region", f"rm_{kind}", ["region"])
    if any(c.name == "programme_id" for c in columns):
        op.create_index(f"ix_rm_{kind}_programme_id", f"rm_{kind}", ["programme_id"])


def upgrade() -> None:
    _create(
        "programmes",
        sa.Column("created", sa.Boolean, nullable=False),
        sa.Column("created_stamp", sa.String(STAMP), nullable=False),
        sa.Column("session_minutes", sa.Integer),
        sa.Column("starts_on", sa.Date),
        sa.Column("ends_on", sa.Date),
        sa.Column("title", sa.String(200)),
        sa.Column("title_stamp", sa.String(STAMP), nullable=False),
    )
    _create(
        "sessions",
        sa.Column("programme_id", sa.Uuid),
        _when("starts_at"),
        _when("ends_at"),
        sa.Column("time_stamp", sa.String(STAMP), nullable=False),
        sa.Column("cancelled", sa.Boolean, nullable=False),
    )
    _create(
        "participants",
        sa.Column("profession", sa.String(32)),
        sa.Column("clinic_id", sa.Uuid),
        sa.Column("stamp", sa.String(STAMP), nullable=False),
    )
    _create(
        "registrations",
        sa.Column("participant_id", sa.Uuid),
        sa.Column("programme_id", sa.Uuid),
        sa.Column("clinic_id", sa.Uuid),
        sa.Column("profession", sa.String(32)),
        _when("registered_at"),
        sa.Column("stamp", sa.String(STAMP), nullable=False),
    )
    _create(
        "attendance",
        sa.Column("session_id", sa.Uuid),
        sa.Column("programme_id", sa.Uuid),
        sa.Column("participant_id", sa.Uuid),
        sa.Column("guest", sa.Boolean, nullable=False),
        sa.Column("attended_seconds", sa.Integer, nullable=False),
        sa.Column("session_seconds", sa.Integer, nullable=False),
        sa.Column("stamp", sa.String(STAMP), nullable=False),
    )
    _create(
        "cases",
        sa.Column("programme_id", sa.Uuid),
        _when("submitted_at"),
        _when("approved_at"),
        _when("rejected_at"),
        _when("scheduled_at"),
        _when("presented_at"),
        _when("recommendations_at"),
    )
    _create(
        "credits",
        sa.Column("participant_id", sa.Uuid),
        sa.Column("programme_id", sa.Uuid),
        sa.Column("session_id", sa.Uuid),
        sa.Column("hours", sa.Float, nullable=False),
        _when("awarded_at"),
        sa.Column("stamp", sa.String(STAMP), nullable=False),
    )
    _create(
        "certificates",
        sa.Column("participant_id", sa.Uuid),
        sa.Column("programme_id", sa.Uuid),
        sa.Column("hours", sa.Float, nullable=False),
        _when("issued_at"),
        sa.Column("stamp", sa.String(STAMP), nullable=False),
    )
    create_messaging_tables(op)


def downgrade() -> None:
    drop_messaging_tables(op)
    for kind in reversed(KINDS):
        op.drop_table(f"rm_{kind}")

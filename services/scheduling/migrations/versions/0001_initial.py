"""programmes, sessions, outbox and inbox

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
    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column(
            "programme_id", sa.Uuid, sa.ForeignKey("programmes.id"), nullable=False, index=True
        ),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
    )
    create_messaging_tables(op)


def downgrade() -> None:
    drop_messaging_tables(op)
    op.drop_table("sessions")
    op.drop_table("programmes")

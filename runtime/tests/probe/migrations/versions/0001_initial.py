"""seen_sessions, outbox, inbox

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from echo_runtime.messaging_tables import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_sessions",
        sa.Column("session_id", sa.Uuid, primary_key=True),
        sa.Column("minutes", sa.Integer, nullable=False),
    )
    create_messaging_tables(op)

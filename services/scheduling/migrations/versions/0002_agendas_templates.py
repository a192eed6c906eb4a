"""recurrence, hub team, curriculum, agendas, case slots, templates

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("programmes") as batch:
        batch.add_column(
            sa.Column("frequency", sa.String(24), nullable=False, server_default="weekly")
        )
        batch.add_column(sa.Column("week_of_month", sa.Integer, nullable=True))
        batch.add_column(sa.Column("ends_on", sa.Date, nullable=True))
        batch.add_column(sa.Column("excluded_dates", sa.JSON, nullable=True))
        batch.add_column(sa.Column("case_slots", sa.Integer, nullable=False, server_default="2"))
        batch.add_column(sa.Column("hub_team", sa.JSON, nullable=True))
        batch.add_column(sa.Column("curriculum", sa.JSON, nullable=True))
        batch.add_column(sa.Column("template_id", sa.Uuid, nullable=True))
        batch.add_column(sa.Column("template_version", sa.Integer, nullable=True))
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="recurring")
        )
        batch.add_column(sa.Column("didactic_topic", sa.String(200), nullable=True))
        batch.add_column(sa.Column("presenter_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("cancel_reason", sa.Text, nullable=True))
    op.create_table(
        "case_slots",
        sa.Column("session_id", sa.Uuid, sa.ForeignKey("sessions.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.Uuid, nullable=False, unique=True),
    )
    op.create_table(
        "waiting_cases",
        sa.Column("case_id", sa.Uuid, primary_key=True),
        sa.Column("programme_id", sa.Uuid, nullable=False, index=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "templates",
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


def downgrade() -> None:
    op.drop_table("templates")
    op.drop_table("waiting_cases")
    op.drop_table("case_slots")
    with op.batch_alter_table("sessions") as batch:
        for name in ("cancel_reason", "presenter_name", "didactic_topic", "kind"):
            batch.drop_column(name)
    with op.batch_alter_table("programmes") as batch:
        for name in (
            "template_version",
            "template_id",
            "curriculum",
            "hub_team",
            "case_slots",
            "excluded_dates",
            "ends_on",
            "week_of_month",
            "frequency",
        ):
            batch.drop_column(name)

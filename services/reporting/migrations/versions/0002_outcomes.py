"""evaluations, responses and library materials read models; guest ids on attendance

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STAMP = 96


def _when(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True))


def _create(kind: str, *columns: sa.Column, indexed: tuple[str, ...] = ()) -> None:
    op.create_table(
        f"rm_{kind}",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("region", sa.String(32), nullable=False),
        *columns,
    )
    for name in ("region", *indexed):
        op.create_index(f"ix_rm_{kind}_{name}", f"rm_{kind}", [name])


def upgrade() -> None:
    op.add_column("rm_attendance", sa.Column("guest_id", sa.Uuid, nullable=True))
    _create(
        "evaluations",
        sa.Column("programme_id", sa.Uuid),
        sa.Column("form_version", sa.Integer),
        sa.Column("invited", sa.Integer, nullable=False),
        _when("closes_at"),
        _when("opened_at"),
        sa.Column("stamp", sa.String(STAMP), nullable=False),
        indexed=("programme_id",),
    )
    _create(
        "responses",
        sa.Column("session_id", sa.Uuid),
        sa.Column("programme_id", sa.Uuid),
        sa.Column("form_version", sa.Integer),
        sa.Column("scores", sa.JSON, nullable=False),
        sa.Column("has_comment", sa.Boolean, nullable=False),
        _when("submitted_at"),
        sa.Column("stamp", sa.String(STAMP), nullable=False),
        indexed=("session_id", "programme_id"),
    )
    _create(
        "materials",
        sa.Column("programme_id", sa.Uuid),
        sa.Column("session_id", sa.Uuid),
        sa.Column("kind", sa.String(16)),
        _when("added_at"),
        _when("removed_at"),
        indexed=("programme_id",),
    )


def downgrade() -> None:
    for kind in ("materials", "responses", "evaluations"):
        op.drop_table(f"rm_{kind}")
    with op.batch_alter_table("rm_attendance") as batch:
        batch.drop_column("guest_id")

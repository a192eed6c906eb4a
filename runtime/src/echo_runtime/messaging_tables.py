"""The outbox and inbox tables every service has, and the migration that creates them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def add_messaging_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """Add `outbox` and `inbox` to a service's metadata."""
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("traceparent", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Index("ix_outbox_pending", "sent_at", "seq"),
    )
    inbox = sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
    return outbox, inbox


def create_messaging_tables(op: Any) -> None:
    """Alembic: create the outbox and inbox tables (call from a service's first migration)."""
    metadata = sa.MetaData()
    for table in add_messaging_tables(metadata):
        op.create_table(table.name, *[c._copy() for c in table.columns])
        for index in table.indexes:
            op.create_index(index.name, table.name, [c.name for c in index.columns])


def drop_messaging_tables(op: Any) -> None:
    """Alembic: drop the outbox and inbox tables."""
    op.drop_table("inbox")
    op.drop_table("outbox")

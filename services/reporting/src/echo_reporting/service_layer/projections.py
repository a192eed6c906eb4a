"""Keeping the read models up to date from the live event stream."""

from __future__ import annotations

from typing import Any

from echo_contracts import Envelope
from sqlalchemy.ext.asyncio import AsyncSession

from echo_reporting.adapters.repository import SqlaReadModelRepository
from echo_reporting.domain.model import merge, target


async def when_any_event_update_read_models(session: AsyncSession, env: Envelope[Any]) -> None:
    """Fold one event into the row of its aggregate (idempotent, order-tolerant)."""
    where = target(env)
    if where is None:
        return
    kind, key = where
    repo = SqlaReadModelRepository(session)
    current = await repo.get(kind, key)
    await repo.put(kind, merge(current, env), exists=current is not None)

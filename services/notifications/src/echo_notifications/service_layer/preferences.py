"""Use cases on a participant's preferences."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from echo_runtime.service import ServiceRuntime

from echo_notifications.adapters.repository import SqlaNotificationRepository
from echo_notifications.domain.model import ChannelKind, Preferences

#: Channels with a sender in this deployment (SMS would add one).
OFFERED_CHANNELS = frozenset({ChannelKind.EMAIL, ChannelKind.WEBHOOK})


async def recipient_of(runtime: ServiceRuntime, participant_id: uuid.UUID) -> dict[str, Any] | None:
    """What this service knows about a participant (None before their profile arrived)."""
    async with runtime.db.session() as session:
        return await SqlaNotificationRepository(session).recipient(participant_id)


async def get_preferences(runtime: ServiceRuntime, participant_id: uuid.UUID) -> Preferences:
    """The participant's preferences, or the defaults (email) when they never set any."""
    async with runtime.db.session() as session:
        found = await SqlaNotificationRepository(session).preferences(participant_id)
    return found or Preferences(participant_id=participant_id)


async def set_preferences(runtime: ServiceRuntime, prefs: Preferences) -> Preferences:
    """Validate and replace a participant's preferences; they apply to the next messages."""
    prefs.validate(OFFERED_CHANNELS)
    async with runtime.db.transaction() as session:
        await SqlaNotificationRepository(session).save_preferences(prefs, datetime.now(UTC))
    return prefs

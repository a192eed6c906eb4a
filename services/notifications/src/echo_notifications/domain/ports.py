"""What the service layer needs from the outside world, as protocols."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class CalendarEntry:
    """The session an outgoing message is about, for its .ics attachment."""

    session_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    sequence: int
    title: str
    cancelled: bool = False
    url: str | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered message to one recipient over one channel."""

    delivery_id: uuid.UUID
    idempotency_key: str
    recipient_id: uuid.UUID
    recipient_name: str | None
    address: str
    template: str
    language: str
    subject: str
    text: str
    cause_event_id: uuid.UUID
    calendar: CalendarEntry | None = None
    data: dict[str, str] = field(default_factory=dict)


class DeliveryError(Exception):
    """A send that did not succeed; `permanent` ones are not retried."""

    def __init__(self, code: str, *, permanent: bool = False) -> None:
        super().__init__(code)
        self.code = code
        self.permanent = permanent


class ChannelSender(Protocol):
    """One delivery channel (email, webhook; SMS would be another)."""

    async def send(self, message: OutgoingMessage) -> None:
        """Deliver or raise DeliveryError."""
        ...
